"""A card's UID as the ledger keeps it: the one definition every room checks UIDs against.

ISO/IEC 14443-3 UIDs are 4, 7 or 10 bytes (single, double, triple size); the ledger, the
wire and the configuration spell them in upper-case hex without separators."""

from __future__ import annotations

import re

UID_BYTES = (4, 7, 10)
CARD_UID = re.compile("^(?:" + "|".join(f"[0-9A-F]{{{2 * n}}}" for n in UID_BYTES) + ")$")


def is_card_uid(value: object) -> bool:
    """True for a UID in the ledger's spelling ("04A1B2C3D4E5F6"); never raises."""
    return isinstance(value, str) and CARD_UID.fullmatch(value) is not None
