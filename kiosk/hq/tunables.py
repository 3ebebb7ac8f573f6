"""HQ's tunable settings (rows of the `settings` table): each one's key, default, range and
meaning in one table, read by the code that uses it and shown and changed by `kiosk hq settings`.

A value is read at each use, so a change needs no restart. A stored value that is not a whole
number in range is never used: the default applies, with a warning that names the setting and
the command that fixes it (a bad row must not stop a receiver building a store's snapshot)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.hq.db import Database

log = logging.getLogger(__name__)

KEEP_DAYS_KEY = "store_delta_keep_days"
KEEP_COUNT_KEY = "store_delta_keep_count"
SEEN_DAYS_KEY = "replica_seen_days"
CHUNK_BYTES_KEY = "snapshot_chunk_bytes"
CHUNK_BUDGET = 768 * 1024  # bytes of rows per chunk: under the message's 1 MiB with its envelope


class SettingError(ValueError):
    """A setting that cannot be kept: says which and what it may be."""


@dataclass(frozen=True)
class Setting:
    """One tunable setting: its key, default, allowed whole numbers and meaning."""

    key: str
    default: int
    low: int
    high: int
    means: str


SETTINGS = (
    Setting(KEEP_DAYS_KEY, 7, 1, 3650,
            "days HQ keeps each store's account deltas for kiosks that missed some, and each kiosk's "
            "store snapshot from its build"),
    Setting(KEEP_COUNT_KEY, 10_000, 1, 10_000_000,
            "at most this many of each store's newest account deltas are kept (the newest always is)"),
    Setting(SEEN_DAYS_KEY, 90, 1, 3650,
            "a store's snapshot holds its own members and those seen at it in this many days"),
    Setting(CHUNK_BYTES_KEY, CHUNK_BUDGET, 1024, CHUNK_BUDGET,
            "bytes of member rows in one snapshot chunk (smaller: more, smaller messages)"),
)
BY_KEY = {s.key: s for s in SETTINGS}


def check(key: str, text: str) -> int:
    """The value `text` gives `key`, or SettingError naming the range."""
    setting = BY_KEY.get(key)
    if setting is None:
        raise SettingError(f"unknown setting {key!r} (known: {', '.join(BY_KEY)})")
    try:
        value = int(text)
    except ValueError:
        value = setting.low - 1
    if not setting.low <= value <= setting.high:
        raise SettingError(f"{key} must be a whole number from {setting.low} to {setting.high:,}, not {text[:40]!r}")
    return value


def stored(db: Database, key: str) -> str:
    """The table's text for `key` ('' when none is stored)."""
    row = db.one("SELECT value FROM settings WHERE key = ?", (key,))
    return str(row[0]) if row else ""


def value(db: Database, key: str) -> int:
    """The value in force: the stored one when good, else the default (and a warning)."""
    text = stored(db, key)
    if not text:
        return BY_KEY[key].default
    try:
        return check(key, text)
    except SettingError as exc:
        default = BY_KEY[key].default
        log.warning("HQ setting %s; using the default %d (fix it: kiosk hq settings %s VALUE)", exc, default, key)
        return default
