"""Migration for `kiosk hq report`: the events' amount as a column HQ can add up.

events.body holds each transaction as JSON; the report sums the amounts of millions of them,
and parsing JSON per row at report time costs seconds. So `amount_fen` is a generated column
(the engine fills it from body on insert): STORED on PostgreSQL (written once, read at
column speed), VIRTUAL on SQLite (SQLite can only add virtual generated columns to an existing
table; it extracts the field when a query reads it). Nothing that writes events changes.

Run at every `kiosk hq report`; it does nothing once applied. On PostgreSQL, adding a stored
column rewrites the events table once (a few seconds per million events, under a lock)."""

from __future__ import annotations

from kiosk.hq.db import Database

MIGRATION = "report_amount_column"

_POSTGRES = (
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS amount_fen BIGINT "
    "GENERATED ALWAYS AS (COALESCE((CAST(body AS jsonb) ->> 'amount_fen')::bigint, 0)) STORED"
)
_SQLITE = (
    "ALTER TABLE events ADD COLUMN amount_fen INTEGER "
    "GENERATED ALWAYS AS (COALESCE(json_extract(body, '$.amount_fen'), 0)) VIRTUAL"
)


def has_amount_column(db: Database) -> bool:
    if db.dialect == "sqlite":
        return any(row[1] == "amount_fen" for row in db.all("PRAGMA table_xinfo(events)"))
    row = db.one(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'amount_fen' "
        "AND table_schema = current_schema()"
    )
    return row is not None


def migrate(db: Database) -> bool:
    """Add events.amount_fen if it is missing; True when this call added it."""
    if has_amount_column(db):
        return False

    def work(db: Database) -> bool:
        if db.dialect == "postgresql":
            db.execute("SELECT pg_advisory_xact_lock(4242001)")  # the lock create_schema takes
        if has_amount_column(db):
            return False
        db.execute(_POSTGRES if db.dialect == "postgresql" else _SQLITE)
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT (key) DO NOTHING",
            (f"migration:{MIGRATION}",),
        )
        return True

    return db.run(work)
