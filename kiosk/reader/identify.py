"""Which chip answered: the card type from what anticollision and GET_VERSION return.

Every driver calls this with the bytes its reader gave it, so the reading of SAK, ATS and
version bytes lives in one place (NXP AN10833 "MIFARE type identification procedure").
Nothing here raises on odd bytes: anything not recognised is CardType.UNKNOWN."""

from __future__ import annotations

from kiosk.reader.base import CardType

_NTAG_STORAGE = {0x0F: CardType.NTAG213, 0x11: CardType.NTAG215, 0x13: CardType.NTAG216}


def needs_version(sak: int) -> bool:
    """A SAK of 00 (Type 2) needs GET_VERSION to tell NTAG sizes from Ultralight."""
    return sak & 0x7F == 0x00


def classify(sak: int, version: bytes | None = None, ats: bytes = b"") -> CardType:
    """SAK from the select; `version` the GET_VERSION answer (None if the card had none);
    `ats` the answer to RATS for ISO-DEP cards."""
    sak &= 0xFF
    if sak & 0x20:
        if version and version[:3] == b"\x04\x04\x02":  # NXP, NTAG, 424 DNA
            return CardType.NTAG424_DNA
        if ats[:6] == bytes.fromhex("067777710280"):
            return CardType.NTAG424_DNA
        return CardType.UNKNOWN
    if sak == 0x08 or sak == 0x88:
        return CardType.MIFARE_CLASSIC_1K
    if sak == 0x18:
        return CardType.MIFARE_CLASSIC_4K
    if not needs_version(sak):
        return CardType.UNKNOWN
    if not version:
        return CardType.ULTRALIGHT  # the first Ultralight does not know GET_VERSION
    if len(version) != 8 or version[0] != 0x00 or version[1] != 0x04:
        return CardType.UNKNOWN
    if version[2] == 0x03:
        return CardType.ULTRALIGHT
    if version[2] == 0x04:
        return _NTAG_STORAGE.get(version[6], CardType.UNKNOWN)
    return CardType.UNKNOWN
