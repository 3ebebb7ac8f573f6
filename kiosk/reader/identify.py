"""Which card is in the field, from what anticollision (and GET_VERSION, if asked) told us.

Every driver calls this one function so they all name a card alike. ATQA is given as sent on
air (LSB first: b"\\x44\\x00" for an NTAG), as nfcpy's sens_res and our chip models hold it."""

from __future__ import annotations

from kiosk.reader.base import CardType

NTAG_STORAGE = {0x0F: CardType.NTAG213, 0x11: CardType.NTAG215, 0x13: CardType.NTAG216}
NTAG424_ATS = bytes.fromhex("067777710280")


def identify(atqa: bytes, sak: int, ats: bytes = b"", version: bytes | None = None) -> CardType:
    """`version` is a Type 2 tag's GET_VERSION answer (8 bytes), b"" when it gave none, or None
    when not asked; for an ISO-DEP card, the first GetVersion frame."""
    atqa_value = int.from_bytes(atqa[:2], "little") if len(atqa) >= 2 else -1
    if sak & 0x20:
        if version and len(version) >= 7 and version[0] == 0x04 and version[1] == 0x04:
            return CardType.NTAG424_DNA
        if version is None and atqa_value == 0x0344 and ats[: len(NTAG424_ATS)] == NTAG424_ATS:
            return CardType.NTAG424_DNA
        return CardType.UNKNOWN
    if sak in (0x08, 0x88):
        return CardType.MIFARE_CLASSIC_1K
    if sak == 0x18:
        return CardType.MIFARE_CLASSIC_4K
    if sak == 0x00 and atqa_value == 0x0044:
        if not version:
            return CardType.ULTRALIGHT
        if len(version) == 8 and version[1] == 0x04 and version[2] == 0x04:
            return NTAG_STORAGE.get(version[6], CardType.UNKNOWN)
        if len(version) == 8 and version[1] == 0x04 and version[2] == 0x03:
            return CardType.ULTRALIGHT
    return CardType.UNKNOWN
