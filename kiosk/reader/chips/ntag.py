"""NTAG213/215/216 and MIFARE Ultralight (MF0ICU1) / Ultralight EV1 (MF0UL11) models, per NXP
NTAG213_215_216 rev 3.2 and MF0ULX1: 4-byte pages, GET_VERSION, READ (4 pages, roll-over),
FAST_READ, WRITE, COMPATIBILITY_WRITE, PWD_AUTH with AUTH0 / PROT / AUTHLIM / PWD / PACK,
READ_SIG, READ_CNT, static lock bits (pages 3-15, OR-only) and dynamic lock bits (each bit
locks a group of pages from page 16: 2 pages on NTAG213, 16 on NTAG215/216; the block-locking
bits are not modelled). The plain Ultralight answers none of the NTAG commands."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.reader.base import CardType
from kiosk.reader.chips.common import Chip, ChipAuthError, ChipSilent, iso14443a_bcc

ACK = b"\x0a"
NAK_INVALID = 0x0
NAK_NOT_ALLOWED = 0x4


@dataclass(frozen=True)
class Variant:
    card_type: CardType
    pages: int
    version: bytes  # GET_VERSION answer, b"" when the chip does not know the command
    cc_size: int  # byte 2 of the capability container
    cfg0: int  # page of CFG0 (then CFG1, PWD, PACK); 0 when the chip has no password
    dyn_lock_group: int  # pages per dynamic lock bit, 0 when there are none


VARIANTS = {
    "ntag213": Variant(CardType.NTAG213, 45, bytes.fromhex("0004040201000F03"), 0x12, 0x29, 2),
    "ntag215": Variant(CardType.NTAG215, 135, bytes.fromhex("0004040201001103"), 0x3E, 0x83, 16),
    "ntag216": Variant(CardType.NTAG216, 231, bytes.fromhex("0004040201001303"), 0x6D, 0xE3, 16),
    "ultralight": Variant(CardType.ULTRALIGHT, 16, b"", 0x06, 0, 0),
    "ultralight_ev1": Variant(
        CardType.ULTRALIGHT, 20, bytes.fromhex("0004030101000B03"), 0x06, 0x10, 0
    ),
}


class Ntag(Chip):
    """A Type 2 tag. `ntag_command(frame)` takes the bytes a reader sends over the air (without
    CRC) and returns the card's answer: data, or ACK b"\\x0a" for writes; a NAK raises ChipNak
    (its .code is the 4-bit value) and leaves the card mute until select()."""

    def __init__(
        self,
        uid: bytes,
        kind: str = "ntag213",
        signature: bytes = bytes(32),
        memory: bytes | None = None,
    ) -> None:
        if kind not in VARIANTS:
            raise ValueError(f"unknown NTAG kind {kind!r}")
        if len(uid) != 7:
            raise ValueError("Type 2 tags have a 7-byte UID")
        if len(signature) != 32:
            raise ValueError("the originality signature is 32 bytes")
        super().__init__(uid, b"\x44\x00", 0x00)
        self.kind = kind
        self.variant = VARIANTS[kind]
        self.card_type = self.variant.card_type
        self.signature = bytes(signature)
        self.nfc_counter = 0
        self.auth_failures = 0
        self._authenticated = False
        self._counted = False
        size = self.variant.pages * 4
        if memory is not None:
            if len(memory) != size:
                raise ValueError("memory image has the wrong size")
            self.memory = bytearray(memory)
        else:
            self.memory = bytearray(size)
            self._format()

    def _format(self) -> None:
        u = self.uid
        self.memory[0:4] = u[0:3] + bytes((0x88 ^ iso14443a_bcc(u[0:3]),))
        self.memory[4:8] = u[3:7]
        self.memory[8:12] = bytes((iso14443a_bcc(u[3:7]), 0x48, 0x00, 0x00))
        self.memory[12:16] = bytes((0xE1, 0x10, self.variant.cc_size, 0x00))
        if self.variant.cfg0:
            c = self.variant.cfg0 * 4
            self.memory[c : c + 16] = bytes.fromhex("040000FF00050000FFFFFFFF00000000")

    def _reset_session(self) -> None:
        self._authenticated = False

    def place(self) -> None:
        super().place()
        self._counted = False

    # -- configuration as the chip sees it
    @property
    def auth0(self) -> int:
        return self.memory[self.variant.cfg0 * 4 + 3] if self.variant.cfg0 else 0xFF

    @property
    def access(self) -> int:
        return self.memory[self.variant.cfg0 * 4 + 4] if self.variant.cfg0 else 0

    def _read_protected(self) -> bool:
        return bool(self.access & 0x80) and not self._authenticated

    def _page_locked(self, page: int) -> bool:
        lock0, lock1 = self.memory[10], self.memory[11]
        if 3 <= page <= 7:
            return bool(lock0 >> page & 1)
        if 8 <= page <= 15:
            return bool(lock1 >> (page - 8) & 1)
        group = self.variant.dyn_lock_group
        if group and 16 <= page < self.variant.cfg0 - 1:
            d = (self.variant.cfg0 - 1) * 4
            bits = self.memory[d] | self.memory[d + 1] << 8
            return bool(bits >> ((page - 16) // group) & 1)
        return False

    def _visible(self, page: int) -> bytes:
        """What a READ shows of one page: PWD and PACK always read as zeros."""
        cfg0 = self.variant.cfg0
        if cfg0 and page in (cfg0 + 2, cfg0 + 3):
            return bytes(4)
        return bytes(self.memory[page * 4 : page * 4 + 4])

    # -- commands
    def ntag_command(self, frame: bytes) -> bytes:
        self._begin()
        if not frame:
            raise self._nak(NAK_INVALID, "empty frame")
        op, args = frame[0], bytes(frame[1:])
        handler = {
            0x30: self._cmd_read,
            0x3A: self._cmd_fast_read,
            0xA2: self._cmd_write,
            0xA0: self._cmd_compat_write,
            0x60: self._cmd_get_version,
            0x1B: self._cmd_pwd_auth,
            0x3C: self._cmd_read_sig,
            0x39: self._cmd_read_cnt,
        }.get(op)
        if handler is None or (op != 0x30 and op not in (0xA2, 0xA0) and not self.variant.version):
            self._muted = True
            self._reset_session()
            raise ChipSilent(f"no answer to command {op:#04x}")
        answer = handler(args)
        self._end()
        return answer

    def _count_read(self) -> None:
        if self.access & 0x10 and not self._counted:
            self._counted = True
            self.nfc_counter = min(self.nfc_counter + 1, 0xFFFFFF)

    def _cmd_read(self, args: bytes) -> bytes:
        if len(args) != 1 or args[0] >= self.variant.pages:
            raise self._nak(NAK_INVALID, "READ: bad page")
        limit = self.variant.pages
        if self._read_protected():
            limit = min(self.auth0, limit)
            if args[0] >= limit:
                raise self._nak(NAK_INVALID, "READ: page is password protected")
        self._count_read()
        return b"".join(self._visible((args[0] + i) % limit) for i in range(4))

    def _cmd_fast_read(self, args: bytes) -> bytes:
        if len(args) != 2 or not args[0] <= args[1] < self.variant.pages:
            raise self._nak(NAK_INVALID, "FAST_READ: bad range")
        if self._read_protected() and args[1] >= self.auth0:
            raise self._nak(NAK_INVALID, "FAST_READ: range is password protected")
        self._count_read()
        return b"".join(self._visible(p) for p in range(args[0], args[1] + 1))

    def _cmd_compat_write(self, args: bytes) -> bytes:
        if len(args) != 17:
            raise self._nak(NAK_INVALID, "COMPATIBILITY_WRITE takes a page and 16 bytes")
        return self._cmd_write(args[0:5])

    def _cmd_write(self, args: bytes) -> bytes:
        if len(args) != 5:
            raise self._nak(NAK_INVALID, "WRITE takes a page and 4 bytes")
        page, data = args[0], args[1:5]
        v = self.variant
        if page < 2 or page >= v.pages:
            raise self._nak(NAK_INVALID, f"WRITE: page {page} is not writable")
        if page >= self.auth0 and not self._authenticated:
            raise self._nak(NAK_NOT_ALLOWED, f"WRITE: page {page} needs PWD_AUTH")
        if self._page_locked(page):
            raise self._nak(NAK_NOT_ALLOWED, f"WRITE: page {page} is locked")
        if v.cfg0 and page in (v.cfg0, v.cfg0 + 1) and self.access & 0x40:
            raise self._nak(NAK_NOT_ALLOWED, "WRITE: configuration is locked (CFGLCK)")
        old = self.memory[page * 4 : page * 4 + 4]
        if page == 2:  # only the lock bytes, and bits can only be set
            new = bytes((old[0], old[1], old[2] | data[2], old[3] | data[3]))
        elif page == 3 or (v.dyn_lock_group and page == v.cfg0 - 1):  # OTP, OR-only
            new = bytes(o | d for o, d in zip(old, data, strict=True))
        else:
            new = data
        self._commit(self.memory, page * 4, new)
        return ACK

    def _cmd_get_version(self, args: bytes) -> bytes:
        return self.variant.version

    def _cmd_pwd_auth(self, args: bytes) -> bytes:
        v = self.variant
        if len(args) != 4:
            raise self._nak(NAK_INVALID, "PWD_AUTH takes 4 bytes")
        authlim = self.access & 0x07
        if authlim and self.auth_failures >= 1 << authlim:
            raise self._nak(NAK_NOT_ALLOWED, "PWD_AUTH disabled after too many failures")
        pwd = bytes(self.memory[(v.cfg0 + 2) * 4 : (v.cfg0 + 3) * 4])
        if args != pwd:
            if authlim:
                self.auth_failures += 1
            self._muted = True
            self._reset_session()
            raise ChipAuthError("PWD_AUTH: wrong password", nak=NAK_INVALID)
        self.auth_failures = 0
        self._authenticated = True
        return bytes(self.memory[(v.cfg0 + 3) * 4 : (v.cfg0 + 3) * 4 + 2])

    def _cmd_read_sig(self, args: bytes) -> bytes:
        if args != b"\x00":
            raise self._nak(NAK_INVALID, "READ_SIG takes address 0")
        return self.signature

    def _cmd_read_cnt(self, args: bytes) -> bytes:
        if args != b"\x02" or not self.access & 0x10:
            raise self._nak(NAK_INVALID, "READ_CNT: counter 2 only, when enabled")
        if self.access & 0x08 and not self._authenticated:
            raise self._nak(NAK_NOT_ALLOWED, "READ_CNT is password protected")
        return self.nfc_counter.to_bytes(3, "little")

    # -- convenience wrappers over ntag_command
    def read(self, page: int) -> bytes:
        return self.ntag_command(bytes((0x30, page)))

    def write(self, page: int, data: bytes) -> None:
        self.ntag_command(bytes((0xA2, page)) + bytes(data))

    def pwd_auth(self, password: bytes) -> bytes:
        return self.ntag_command(b"\x1b" + bytes(password))

    def get_version(self) -> bytes:
        return self.ntag_command(b"\x60")

    def read_sig(self) -> bytes:
        return self.ntag_command(b"\x3c\x00")

    # -- persistence
    def to_dict(self) -> dict:
        return {
            "chip": "ntag",
            "kind": self.kind,
            "uid": self.uid.hex(),
            "signature": self.signature.hex(),
            "memory": self.memory.hex(),
            "nfc_counter": self.nfc_counter,
            "auth_failures": self.auth_failures,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Ntag:
        card = cls(
            bytes.fromhex(d["uid"]),
            d["kind"],
            bytes.fromhex(d["signature"]),
            bytes.fromhex(d["memory"]),
        )
        card.nfc_counter = int(d.get("nfc_counter", 0))
        card.auth_failures = int(d.get("auth_failures", 0))
        return card
