"""The one text form of a moment everywhere the kiosk and HQ write one down (journal, messages,
snapshots, HQ's tables): ISO 8601 in UTC, ending in Z. Text in this form sorts in time order,
which HQ's SQL relies on."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(at: datetime, timespec: str = "auto") -> str:
    """`at` (timezone-aware) as ISO 8601 UTC ending in Z."""
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc(value: object) -> datetime:
    """An untrusted ISO 8601 UTC time (Z or +00:00), or ValueError saying what it must be."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be an ISO 8601 UTC time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 UTC time") from None
    if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
        raise ValueError("must be a UTC time (ending in Z or +00:00)")
    return parsed.astimezone(UTC)
