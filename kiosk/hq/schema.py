"""HQ's tables, in the SQL SQLite and PostgreSQL share.

events      every transaction a kiosk sent, stored once (key: device, seq) the moment it arrives
divergent_events   a (device, seq) that arrived again with other content (a kiosk
            restored from an old backup reuses seqs): kept aside and reported
progress    per device, the highest seq applied to the ledger; events above it wait (gaps)
members, cards, accounts, stock   the authoritative ledger (LedgerState, one row per value,
            the value as JSON beside the columns HQ queries by)
conflicts   applied transactions whose "before" amounts did not match HQ's (offline spending
            at two kiosks): reported, never dropped
blocked_changes   the versioned blocked-card list: one row per change; the full list at
            version V is every card not active
devices     what each kiosk last said in its status message
payments    each payment request's one decision (payment bridge)
incidents   the kiosks' incident logs (not money, but HQ must know), once per (device, offset)
settings    small named values: the rules document, what was last published
"""

from __future__ import annotations

from kiosk.hq.db import Database

SCHEMA_VERSION = 1

TABLES = [
    """CREATE TABLE IF NOT EXISTS events (
        device_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL,
        member_id TEXT NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (device_id, seq))""",
    """CREATE TABLE IF NOT EXISTS divergent_events (
        device_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        digest TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (device_id, seq, digest))""",
    """CREATE TABLE IF NOT EXISTS progress (
        device_id TEXT PRIMARY KEY,
        applied_seq BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS members (
        member_id TEXT PRIMARY KEY,
        phone TEXT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS members_phone ON members (phone)",
    """CREATE TABLE IF NOT EXISTS cards (
        uid TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cards_member ON cards (member_id)",
    """CREATE TABLE IF NOT EXISTS accounts (
        member_id TEXT PRIMARY KEY,
        balance_fen BIGINT NOT NULL,
        points BIGINT NOT NULL,
        body TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS stock (
        reward_id TEXT PRIMARY KEY,
        units BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS conflicts (
        device_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        member_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        resolved_at TEXT,
        PRIMARY KEY (device_id, seq))""",
    """CREATE TABLE IF NOT EXISTS blocked_changes (
        version BIGINT PRIMARY KEY,
        uid TEXT NOT NULL,
        blocked INTEGER NOT NULL,
        at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY,
        store TEXT NOT NULL,
        online INTEGER NOT NULL,
        last_contact TEXT NOT NULL,
        outbox_depth BIGINT NOT NULL,
        software TEXT NOT NULL,
        last_error TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS payments (
        payment_ref TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        method TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        decided_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS incidents (
        device_id TEXT NOT NULL,
        log_offset BIGINT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        card_uid TEXT NOT NULL,
        detail TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (device_id, log_offset))""",
    """CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
]


def has_schema(db: Database) -> bool:
    """Whether `create_schema` ran here: an existing file or server database that is not HQ's
    (a mistyped --db pointing at something else) has no settings row saying so."""
    try:
        return db.one("SELECT value FROM settings WHERE key = 'schema_version'") is not None
    except Exception:  # noqa: BLE001 - no settings table: the two engines raise different errors
        return False


def create_schema(db: Database) -> None:
    """Create what is missing; safe to run at every start, from several receivers at once."""

    def work(db: Database) -> None:
        for statement in TABLES:
            db.execute(statement)
        db.execute(
            "INSERT INTO settings (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
            (str(SCHEMA_VERSION),),
        )

    if db.dialect == "postgresql":
        # CREATE TABLE IF NOT EXISTS races between sessions in PostgreSQL: serialise with a lock.
        def locked(db: Database) -> None:
            db.execute("SELECT pg_advisory_xact_lock(4242001)")
            work(db)

        db.run(locked)
    else:
        db.run(work)
