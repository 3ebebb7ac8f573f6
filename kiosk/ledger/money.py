"""Money is integer fen everywhere; these helpers only format and parse it for people."""

from __future__ import annotations

import re

_YUAN = re.compile(r"^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$")


def format_fen(fen: int, symbol: str = "¥") -> str:
    """12345 -> '¥123.45'; negative amounts keep their sign in front of the symbol."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def parse_yuan(text: str) -> int:
    """'123.4' -> 12340 fen. Refuses anything that is not a plain non-negative decimal."""
    match = _YUAN.match(text)
    if not match:
        raise ValueError(f"not an amount in yuan: {text!r}")
    whole, part = match.groups()
    return int(whole) * 100 + int((part or "0").ljust(2, "0"))
