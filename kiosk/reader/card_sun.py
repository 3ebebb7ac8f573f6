"""NTAG 424 DNA Secure Unique NFC (SUN) messages, per NXP AN12196 §3.4: a URL whose query holds
encrypted PICC data (UID and read counter) and a truncated CMAC, rebuilt by the chip at every
read. Pure functions; the reader interface has no ISO-DEP exchange yet, so callers hand in the
NDEF file's bytes (or the URL) however their reader got them.

    PICCData = AES-CBC-decrypt(K_SDMMetaRead, IV 0, picc_data) = C7 || UID(7) || ctr(3 LE) || rnd
    SV2      = 3C C3 00 01 00 80 || UID || ctr(3 LE)
    K_ses    = AES-CMAC(K_SDMFileRead, SV2)
    SDMMAC   = odd-indexed bytes (1, 3, .., 15) of AES-CMAC(K_ses, MAC input)
The MAC input is empty in the layout used here (SDMMACInputOffset = SDMMACOffset), as in the
note's worked example."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kiosk.reader.card_format import CardMacError, CardNotRecognised
from kiosk.reader.keys import cmac

PICC_TAG = 0xC7  # UID mirrored (7 bytes) and read counter mirrored
_PARAM = re.compile(r"[?&](picc_data|e)=([0-9A-Fa-f]{32})&(?:cmac|c)=([0-9A-Fa-f]{16})")


@dataclass(frozen=True)
class SunMessage:
    uid: bytes
    counter: int


def _aes_cbc(key: bytes, data: bytes, decrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(bytes(16)))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


def _sdm_mac(file_key: bytes, uid: bytes, counter: int, mac_input: bytes) -> bytes:
    sv2 = bytes.fromhex("3CC300010080") + uid + counter.to_bytes(3, "little")
    return cmac(cmac(file_key, sv2), mac_input)[1::2]


def verify_sun(
    meta_key: bytes, file_key: bytes, picc_data: bytes, mac: bytes, mac_input: bytes = b""
) -> SunMessage:
    """UID and counter of a SUN message; CardMacError if the MAC does not check."""
    if len(picc_data) != 16 or len(mac) != 8:
        raise CardNotRecognised("SUN message has the wrong length")
    plain = _aes_cbc(meta_key, picc_data, decrypt=True)
    if plain[0] != PICC_TAG:
        raise CardMacError("SUN PICC data does not decrypt with this key")
    uid, counter = plain[1:8], int.from_bytes(plain[8:11], "little")
    if not constant_time.bytes_eq(_sdm_mac(file_key, uid, counter, mac_input), mac):
        raise CardMacError("SUN MAC does not check")
    return SunMessage(uid, counter)


def parse_sun_url(text: str) -> tuple[bytes, bytes]:
    """(picc_data, mac) from a SUN URL (picc_data=..&cmac=.. or e=..&c=..)."""
    m = _PARAM.search(text)
    if m is None:
        raise CardNotRecognised("no SUN parameters in the NDEF message")
    return bytes.fromhex(m.group(2)), bytes.fromhex(m.group(3))


def read_sun(meta_key: bytes, file_key: bytes, ndef_file: bytes) -> SunMessage:
    """Verify the SUN URL inside an NTAG 424 DNA NDEF file (2-byte length, then the record)."""
    text = ndef_file.decode("ascii", "replace")
    return verify_sun(meta_key, file_key, *parse_sun_url(text))


def make_sun_url(
    meta_key: bytes, file_key: bytes, uid: bytes, counter: int, base: str, rnd: bytes
) -> str:
    """What the chip mirrors into its URL; for emulated chips."""
    plain = bytes((PICC_TAG,)) + uid + counter.to_bytes(3, "little") + rnd[:5].ljust(5, b"\0")
    picc = _aes_cbc(meta_key, plain, decrypt=False)
    mac = _sdm_mac(file_key, uid, counter, b"")
    return f"{base}?picc_data={picc.hex().upper()}&cmac={mac.hex().upper()}"


def ndef_uri_file(url: str) -> bytes:
    """An NDEF file holding one URI record (no prefix abbreviation)."""
    payload = b"\x00" + url.encode("ascii")
    record = bytes((0xD1, 0x01, len(payload))) + b"U" + payload
    return len(record).to_bytes(2, "big") + record
