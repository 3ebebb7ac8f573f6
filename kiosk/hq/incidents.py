"""Kiosk incidents at HQ: things that are not money but HQ must hear about (a blocked card
presented, a payment abandoned, money taken but not credited...). Stored once per
(device, log offset); listed by `kiosk hq incidents`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from kiosk.hq.db import Database
from kiosk.ledger.utc import utc_text
from kiosk.sync import messages as m


@dataclass(frozen=True)
class StoredIncident:
    device_id: str
    log_offset: int
    at: str
    kind: str
    card_uid: str
    detail: dict
    received_at: str


def store_incidents(db: Database, batch: m.Incidents, received_at: str) -> None:
    """Inside the caller's transaction; a resent item (same device and offset) changes nothing."""
    db.executemany(
        "INSERT INTO incidents (device_id, log_offset, at, kind, card_uid, detail, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, log_offset) DO NOTHING",
        [
            (
                batch.device,
                item.offset,
                utc_text(item.at),
                item.kind,
                item.card_uid,
                json.dumps(item.detail, ensure_ascii=False, sort_keys=True),
                received_at,
            )
            for item in batch.items
        ],
    )


def list_incidents(db: Database, device: str | None = None, kind: str | None = None, limit: int = 1000) -> list[StoredIncident]:
    where, params = [], []
    if device:
        where.append("device_id = ?")
        params.append(device)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    sql = "SELECT device_id, log_offset, at, kind, card_uid, detail, received_at FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.all(sql + " ORDER BY at, device_id, log_offset LIMIT ?", [*params, limit])
    return [StoredIncident(r[0], int(r[1]), r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]
