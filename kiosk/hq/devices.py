"""The kiosks HQ knows: store, last contact, outbox depth, from their status and events."""

from __future__ import annotations

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


def check_store(db: Database, device_id: str, store: str) -> None:
    """Raise WrongStore when the device is registered in another store."""
    row = db.one("SELECT store FROM devices WHERE device_id = ?", (device_id,))
    if row is not None and row[0] != store:
        raise WrongStore(f"device {device_id} belongs to store {row[0]}, not {store}")


def touch(db: Database, device_id: str, store: str, at: str) -> None:
    """Record contact (any message); registers a device on first sight. Caller's transaction."""
    db.execute(
        "INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
        "VALUES (?, ?, 1, ?, 0, '', '') ON CONFLICT (device_id) DO UPDATE SET last_contact = "
        "CASE WHEN devices.last_contact < excluded.last_contact THEN excluded.last_contact ELSE devices.last_contact END",
        (device_id, store, at),
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


def list_devices(db: Database, store: str | None = None) -> list[Device]:
    sql = "SELECT device_id, store, online, last_contact, outbox_depth, software, last_error FROM devices"
    params: tuple = ()
    if store:
        sql += " WHERE store = ?"
        params = (store,)
    rows = db.all(sql + " ORDER BY store, device_id", params)
    return [Device(r[0], r[1], bool(r[2]), r[3], int(r[4]), r[5], r[6]) for r in rows]
