"""Per-card keys, diversified from the site master key as in NXP AN10922 §2.2 (AES-128).

card key K = AN10922(master, 0x01 || UID || AID || System Identifier): AES-CMAC (NIST SP 800-38B)
over that input padded with 80 00.. to 32 bytes (K2 subkey when padded, K1 when it was exactly
32 bytes). From K each use gets its own key, CMAC(K, label) in the manner of SP 800-108:
MIFARE key A and key B (6 bytes each), the MAC key (16), the NTAG password (4) and PACK (2).
They are independent on purpose: MIFARE Classic's Crypto1 is broken, so sector keys must be
assumed recoverable from a card, and must reveal nothing about the MAC key or K.

The master key comes from a file the caller names (mode 600, 32 hex digits or 16 raw bytes).
parse_master_key is the one rule for what a master key is: `kiosk run`, `kiosk doctor`,
provisioning and the card tools all read it through here. Key values never appear in repr,
logs or error messages."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

APP_AID = bytes.fromhex("4B534B")  # "KSK": this application's 3-byte id in diversification input
DIV_AES128 = 0x01
KEY_BYTES = 16  # AES-128, as NXP AN10922 diversification uses


class KeyFileError(ValueError):
    """The master key file is missing, unreadable, too open, or not a usable 16-byte key.
    `problem` says what is wrong without the key; str() adds the file's path."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def parse_master_key(data: bytes, path: Path | str = "<memory>") -> bytes:
    """The master key in a key file's bytes: 16 raw bytes, or 32 hex digits (spaces, colons and
    a final newline allowed). A constant byte pattern (all zero, all FF, ...) is refused: it is
    a placeholder or a wiped stick, and every card keyed from it would be forgeable."""
    wrong = f"must be {KEY_BYTES} raw bytes or {2 * KEY_BYTES} hex digits (found {len(data)} bytes)"
    if len(data) == KEY_BYTES:
        key = bytes(data)
    else:
        try:
            digits = re.sub(r"[\s:]", "", data.decode("ascii"))
        except UnicodeDecodeError:
            raise KeyFileError(path, wrong) from None
        if not re.fullmatch(r"[0-9A-Fa-f]*", digits) or len(digits) != 2 * KEY_BYTES:
            raise KeyFileError(path, wrong)
        key = bytes.fromhex(digits)
    if len(set(key)) == 1:
        raise KeyFileError(path, "is a constant byte pattern, not a real key")
    return key


def read_master_key(path: Path) -> bytes:
    """Read and check a master key file (no mode check: a USB stick's file has none that
    matters); the error names the file, never the content."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(path, "file not found") from None
    except PermissionError:
        raise KeyFileError(path, "permission denied (the kiosk user must own it)") from None
    except IsADirectoryError:
        raise KeyFileError(path, "is a directory") from None
    except OSError as e:
        raise KeyFileError(path, f"cannot read master key ({e.strerror})") from None
    return parse_master_key(data, path)


def _aes_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _double(block: bytes) -> bytes:
    """Multiply by x in GF(2^128): the CMAC subkey step."""
    n = int.from_bytes(block, "big") << 1
    if n >> 128:
        n = (n & ((1 << 128) - 1)) ^ 0x87
    return n.to_bytes(16, "big")


def cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B), 16 bytes."""
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def an10922_aes128(master: bytes, diversification_input: bytes) -> bytes:
    """AN10922 §2.2 AES-128 diversification of `master` with 1..31 bytes of input."""
    if len(master) != 16:
        raise ValueError("AES-128 master key is 16 bytes")
    if not 1 <= len(diversification_input) <= 31:
        raise ValueError("diversification input is 1 to 31 bytes")
    m = bytes((DIV_AES128,)) + diversification_input
    k1 = _double(_aes_block(master, bytes(16)))
    k2 = _double(k1)
    if len(m) == 32:
        d, sub = m, k1
    else:
        d, sub = (m + b"\x80").ljust(32, b"\x00"), k2
    d = d[:16] + bytes(a ^ b for a, b in zip(d[16:], sub, strict=True))
    enc = Cipher(algorithms.AES(master), modes.CBC(bytes(16))).encryptor()
    return (enc.update(d) + enc.finalize())[16:]


def diversification_input(uid: bytes, system_id: bytes, aid: bytes = APP_AID) -> bytes:
    """UID || AID || System Identifier (AN10922's layout; the 0x01 constant is added later)."""
    if len(aid) != 3:
        raise ValueError("AID is 3 bytes")
    return bytes(uid) + aid + system_id


@dataclass(frozen=True)
class CardKeys:
    """Everything one card needs; repr shows only the UID."""

    uid: bytes
    key_a: bytes = field(repr=False)
    key_b: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)
    ntag_pwd: bytes = field(repr=False)
    ntag_pack: bytes = field(repr=False)


class SiteKeys:
    """The site master key and system identifier; derives CardKeys for a UID."""

    def __init__(self, master: bytes, system_id: bytes, aid: bytes = APP_AID) -> None:
        if len(master) != 16:
            raise ValueError("the site master key is 16 bytes (AES-128)")
        if not 1 <= len(system_id) <= 18:
            raise ValueError("system identifier is 1 to 18 bytes (31 with a 10-byte UID and AID)")
        self._master = bytes(master)
        self.system_id = bytes(system_id)
        self.aid = bytes(aid)

    def __repr__(self) -> str:
        return f"SiteKeys(system_id={self.system_id!r}, master=<hidden>)"

    def card_key(self, uid: bytes) -> bytes:
        return an10922_aes128(self._master, diversification_input(uid, self.system_id, self.aid))

    def for_card(self, uid: bytes) -> CardKeys:
        k = self.card_key(uid)

        def sub(label: bytes) -> bytes:
            return cmac(k, b"\x01" + label + b"\x00" + uid + b"\x00\x80")

        ntag = sub(b"ntag pwd/pack")
        return CardKeys(
            uid=bytes(uid),
            key_a=sub(b"mifare key A")[:6],
            key_b=sub(b"mifare key B")[:6],
            mac_key=sub(b"card mac"),
            ntag_pwd=ntag[:4],
            ntag_pack=ntag[4:6],
        )

    @classmethod
    def from_file(cls, path: Path, system_id: bytes) -> SiteKeys:
        """Load the kiosk's master key; refuses a file that group or others can read."""
        try:
            mode = path.stat().st_mode
        except OSError as e:
            raise KeyFileError(path, f"cannot read master key ({e.strerror})") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(path, "master key file must be mode 600")
        return cls(read_master_key(path), system_id)

    @staticmethod
    def write_new(path: Path) -> None:
        """Create a fresh random master key file, mode 600 (provisioning)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
