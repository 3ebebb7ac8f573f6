"""Pure-Python models of the contactless chips the kiosk meets; no I/O. Every emulator (the
simulated reader, the PN532 emulator, the vpcd card, the RC522 register model) holds these, so
the card semantics are written and tested once.

API (all chips)
    chip.uid, chip.atqa (2 bytes, as sent on air: LSB first, e.g. b"\\x04\\x00" for a 1K),
    chip.sak, chip.ats (b"" unless ISO-DEP), chip.card_type (base.CardType)
    chip.present                 False once removed or torn away; every command then ChipSilent
    chip.select()                activate again (after a NAK, failed auth or halt the card is mute)
    chip.halt(), chip.remove(), chip.place()   place() = fresh power-up: auth and sessions gone
    chip.tear(after_writes=n, after_bytes=k)   n EEPROM writes complete, the next commits only
                                 its first k bytes (old bytes after them) and the card leaves
    chip.writes                  EEPROM write commands committed so far
    chip.commands                commands the card received so far
    chip.inject_rf_errors(count, after=False, skip=0)  let `skip` commands through, then lose
                                 `count` (before they reach the card, or after it executed them)
    chip.to_dict() / chip_from_dict(d)         JSON-able persistence
Errors: ChipSilent (no answer), ChipNak(.code) (4-bit NAK), ChipAuthError(.nak) (wrong key:
nak None, the card just goes silent; wrong NTAG password: nak 0x0); all subclasses of
ChipError. After ChipNak/ChipAuthError the card is mute until select().

MifareClassic(uid, four_k=False)
    authenticate(block, key_type "A"/"B", key6)   read_block(block) -> 16 bytes
    write_block(block, data16)   increment(block, n) decrement(block, n) restore(block)
    transfer(block)              command(frame) -> bytes: 60/61 auth, 30 read, A0 write,
                                 C1/C0/C2/B0 value ops, as a PN532 InDataExchange carries them
Ntag(uid7, kind="ntag213"|"ntag215"|"ntag216"|"ultralight"|"ultralight_ev1", signature=32 bytes)
    ntag_command(frame) -> answer bytes (READ 30, FAST_READ 3A, WRITE A2 -> ACK b"\\x0a",
    COMPATIBILITY_WRITE A0, GET_VERSION 60, PWD_AUTH 1B -> PACK, READ_SIG 3C, READ_CNT 39);
    wrappers read(page), write(page, data4), pwd_auth(pwd4), get_version(), read_sig()
Ntag424(uid7)
    apdu(command) -> response with status word (ISO SELECT NDEF app/file, READ BINARY, GetVersion)

Factories: new_classic(), new_ntag(), new_ntag424() make cards with random UIDs (NTAG signed with
originality.TEST_PRIVATE_KEY so test cards pass the originality check against TEST_PUBLIC_KEY)."""

from __future__ import annotations

import os

from kiosk.reader import originality
from kiosk.reader.chips.classic import MifareClassic
from kiosk.reader.chips.common import Chip, ChipAuthError, ChipError, ChipNak, ChipSilent
from kiosk.reader.chips.ntag import Ntag
from kiosk.reader.chips.ntag424 import Ntag424

__all__ = [
    "Chip",
    "ChipAuthError",
    "ChipError",
    "ChipNak",
    "ChipSilent",
    "MifareClassic",
    "Ntag",
    "Ntag424",
    "chip_from_dict",
    "new_classic",
    "new_ntag",
    "new_ntag424",
]


def _random_uid(length: int) -> bytes:
    if length == 4:
        while True:
            uid = os.urandom(4)
            if uid[0] != 0x88 and uid[0] & 0x0F != 0x0F:
                return uid
    return b"\x04" + os.urandom(length - 1)


def new_classic(uid: bytes | None = None, four_k: bool = False) -> MifareClassic:
    return MifareClassic(uid or _random_uid(4), four_k)


def new_ntag(
    uid: bytes | None = None, kind: str = "ntag213", signing_key: int | None = None
) -> Ntag:
    """An NTAG signed with `signing_key` (default: the test key)."""
    uid = uid or _random_uid(7)
    key = originality.TEST_PRIVATE_KEY if signing_key is None else signing_key
    return Ntag(uid, kind, originality.sign(uid, key))


def new_ntag424(uid: bytes | None = None) -> Ntag424:
    return Ntag424(uid or _random_uid(7))


def chip_from_dict(d: dict) -> Chip:
    kinds = {"mifare_classic": MifareClassic, "ntag": Ntag, "ntag424": Ntag424}
    try:
        return kinds[d["chip"]].from_dict(d)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a stored chip: {e}") from None
