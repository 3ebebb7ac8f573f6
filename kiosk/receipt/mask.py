"""Masking what a receipt shows of a member: a receipt is left on counters and in bins, so it
names the member only well enough to recognise their own (张**, J*** W.) and shows the card's
last four hex digits. The masks have a fixed length, so they do not give away the name's."""

from __future__ import annotations

import unicodedata

NAME_STARS = "**"  # after a CJK surname
WORD_STARS = "***"  # after a Latin first initial


def _cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def mask_name(name: str) -> str:
    """张三丰 -> 张**; John Williams -> J*** W.; Madonna -> M***; "" (no name given) -> ""."""
    words = name.split()
    if not words:
        return ""
    if len("".join(words)) == 1:  # a one-letter name would be shown whole by its initial
        return WORD_STARS
    first = words[0]
    if _cjk(first[0]):
        return first[0] + NAME_STARS
    masked = first[0] + WORD_STARS
    if len(words) > 1:
        masked += f" {words[-1][0]}."
    return masked


def mask_uid(uid: str) -> str:
    """04A1B2C3 -> ****B2C3: enough for a member to tell two of their cards apart."""
    return "****" + uid[-4:].upper() if uid else ""
