"""The kiosks HQ knows: store, last contact, outbox depth, from their status and events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kiosk.hq.db import Database


class WrongStore(ValueError):
    """A device spoke on another store's topic than the one HQ has it registered in."""


@dataclass(frozen=True)
class Device:
    device_id: str
    store: str
    online: bool
    last_contact: str  # HQ's clock, ISO 8601 UTC
    outbox_depth: int
    software: str
    last_error: str


def touch(db: Database, device_id: str, store: str, at: str) -> None:
    """Record contact (any message); registers a device on first sight."""
    db.execute(_TOUCH, (device_id, store, at))


class Contacts:
    """A receiver's memory of the kiosks it has heard, so a batch of events writes no per-kiosk
    row in its transaction (those rows were where two receivers queued behind each other): a
    device's store is checked in SQL when first seen and again after `every_s`; its progress
    row is made once; its last contact is written at most once per `every_s`, after the
    events' commit, in a statement of its own. `devices.last_contact` is at most `every_s`
    (plus a batch) behind; status messages still update it at once."""

    def __init__(self, every_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.every_s, self.clock = every_s, clock
        self._stores: dict[str, tuple[str, float]] = {}  # device -> (store, checked at)
        self._touched: dict[str, float] = {}  # device -> when its last_contact was written
        self._noted: set[str] = set()  # devices whose progress row exists

    def admit(self, db: Database, device_id: str, store: str, at: str) -> None:
        """Raise WrongStore when the device belongs to another store; register it (its own
        statement, committed at once) when HQ has never seen it."""
        now = self.clock()
        known = self._stores.get(device_id)
        if known is not None and known[0] == store and now - known[1] < self.every_s:
            return
        row = db.one("SELECT store FROM devices WHERE device_id = ?", (device_id,))
        if row is None:
            touch(db, device_id, store, at)
            self._touched[device_id] = now
            row = db.one("SELECT store FROM devices WHERE device_id = ?", (device_id,))
        if row is not None and row[0] != store:
            self._stores.pop(device_id, None)
            raise WrongStore(f"device {device_id} belongs to store {row[0]}, not {store}")
        self._stores[device_id] = (store, now)

    def without_progress(self, device_ids: Iterable[str]) -> list[str]:
        """The devices whose progress row this receiver has not made yet."""
        return sorted(set(device_ids) - self._noted)

    def have_progress(self, device_ids: Iterable[str]) -> None:
        """Their progress rows are committed."""
        self._noted.update(device_ids)

    def touch_due(self, db: Database, heard: Iterable[tuple[str, str]], at: str) -> None:
        """Write last contact for the (device, store) pairs not written for `every_s`."""
        now = self.clock()
        due = sorted({(d, s) for d, s in heard if now - self._touched.get(d, -self.every_s) >= self.every_s})
        if not due:
            return
        db.executemany(_TOUCH, [(d, s, at) for d, s in due])
        self._touched.update((d, now) for d, _ in due)


_TOUCH = (
    "INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
    "VALUES (?, ?, 1, ?, 0, '', '') ON CONFLICT (device_id) DO UPDATE SET last_contact = "
    "CASE WHEN devices.last_contact < excluded.last_contact THEN excluded.last_contact ELSE devices.last_contact END"
)


def record_status(
    db: Database, device_id: str, store: str, online: bool, outbox_depth: int, software: str, last_error: str, at: str
) -> None:
    """A status message: newest wins (several receivers may see the same retained status)."""
    db.execute(
        "INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
        "online = excluded.online, last_contact = excluded.last_contact, outbox_depth = excluded.outbox_depth, "
        "software = excluded.software, last_error = excluded.last_error "
        "WHERE devices.last_contact <= excluded.last_contact",
        (device_id, store, 1 if online else 0, at, outbox_depth, software, last_error[:200]),
    )


def record_health(db: Database, device_id: str, at: str, body: dict) -> None:
    """The whole status message beside the devices row (its own table: a column added to
    `devices` would need every existing database altered); newest wins as in record_status."""
    db.execute(
        "INSERT INTO device_status (device_id, at, body) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
        "at = excluded.at, body = excluded.body WHERE device_status.at <= excluded.at",
        (device_id, at, json.dumps(body, ensure_ascii=False)),
    )


def health(db: Database) -> dict[str, dict]:
    """Each kiosk's newest status message body, by device id (none yet: not in the dict)."""
    return {device: json.loads(body) for device, body in db.all("SELECT device_id, body FROM device_status")}


def list_devices(db: Database, store: str | None = None) -> list[Device]:
    sql = "SELECT device_id, store, online, last_contact, outbox_depth, software, last_error FROM devices"
    params: tuple = ()
    if store:
        sql += " WHERE store = ?"
        params = (store,)
    rows = db.all(sql + " ORDER BY store, device_id", params)
    return [Device(r[0], r[1], bool(r[2]), r[3], int(r[4]), r[5], r[6]) for r in rows]
