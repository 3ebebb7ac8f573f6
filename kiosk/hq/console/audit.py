"""The audit log: one row per change made through the console, in the change's own transaction
(so there is never a change without its row, nor a row without its change). Append-only: no
code path updates or deletes, and a trigger refuses it on both engines (kiosk/hq/schema.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from kiosk.hq.db import Database
from kiosk.hq.ledger import now_text


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    username: str
    action: str
    target: str
    before: str
    after: str


def record(db: Database, username: str, action: str, target: str, before: object, after: object) -> None:
    """Append one entry inside the caller's transaction. The id is MAX+1: two writers racing on
    PostgreSQL collide on the primary key and `Database.run` retries the loser whole."""
    row = db.one("SELECT MAX(id) FROM audit_log")
    next_id = int(row[0] or 0) + 1 if row else 1
    db.execute(
        "INSERT INTO audit_log (id, at, username, action, target, before_value, after_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (next_id, now_text(), username, action, target, _text(before), _text(after)),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def entries(db: Database, limit: int = 200, target: str = "") -> list[AuditEntry]:
    sql = "SELECT id, at, username, action, target, before_value, after_value FROM audit_log"
    params: tuple = ()
    if target:
        sql += " WHERE target = ?"
        params = (target,)
    rows = db.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return [AuditEntry(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]
