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
device_status   the whole of each kiosk's newest status message (rules version, reader and
            printer, money paused...) as JSON, for the console's fleet and rules pages
payments    each payment request's one decision (payment bridge)
incidents   the kiosks' incident logs (not money, but HQ must know), once per (device, offset)
settings    small named values: the rules document, what was last published
console_users, console_sessions   the HQ console's staff accounts (argon2 hashes, role, stores,
            login failures) and signed-in sessions (only a hash of each session token)
audit_log   every change made through the console: who, when, what, before/after; append-only
            (a trigger refuses UPDATE and DELETE on both engines)
follow_up_calls   回访记录: one row per call staff made from a follow-up list (reached / not
            reached, a note); a member reached is not listed again for the same occasion
approvals   adjustments and returns above the console's thresholds, waiting for a second
            person (pending -> approved or rejected, by whom, and the txn it made)
staff       the staff members sales are credited to: id, name, home store (kiosk/hq/staff.py)
campaigns, campaign_vouchers   voucher campaigns started in the console (kiosk/hq/console/
            campaigns.py): one row per campaign (its form's key once), one per voucher it gave
member_seen, store_deltas, store_snapshots   protocol v2: which store holds which member (home
            store, seen lately), each store's account deltas, each kiosk's snapshot in chunks
"""

from __future__ import annotations

from kiosk.hq.db import Database
from kiosk.hq.staff import TABLE as STAFF_TABLE

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
    """CREATE TABLE IF NOT EXISTS device_status (
        device_id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        body TEXT NOT NULL)""",
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
    # the console's member page (history, home store) and search read events by member
    "CREATE INDEX IF NOT EXISTS events_member ON events (member_id, kind)",
    "CREATE INDEX IF NOT EXISTS conflicts_member ON conflicts (member_id)",
    "CREATE INDEX IF NOT EXISTS incidents_card ON incidents (card_uid)",
    """CREATE TABLE IF NOT EXISTS console_users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        stores TEXT NOT NULL,
        failures INTEGER NOT NULL,
        locked_until TEXT,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS console_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        id BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        username TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        before_value TEXT NOT NULL,
        after_value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS follow_up_calls (
        id BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        username TEXT NOT NULL,
        list_name TEXT NOT NULL,
        occasion TEXT NOT NULL,
        member_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        note TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS follow_up_calls_member ON follow_up_calls (member_id, list_name, occasion)",
    """CREATE TABLE IF NOT EXISTS approvals (
        id BIGINT PRIMARY KEY,
        kind TEXT NOT NULL,
        card_uid TEXT NOT NULL,
        member_id TEXT NOT NULL,
        balance_fen BIGINT NOT NULL,
        points BIGINT NOT NULL,
        reason TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        status TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        txn_id TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, id)",
    # member notes: sealed text and tags only (kiosk/hq/console/notes.py; the key is not in SQL)
    """CREATE TABLE IF NOT EXISTS member_notes (
        id BIGINT PRIMARY KEY,
        member_id TEXT NOT NULL,
        store TEXT NOT NULL,
        at TEXT NOT NULL,
        author TEXT NOT NULL,
        key_id TEXT NOT NULL,
        sealed TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS member_notes_member ON member_notes (member_id, id)",
    "CREATE INDEX IF NOT EXISTS member_notes_store ON member_notes (store, id)",
    """CREATE TABLE IF NOT EXISTS note_consents (
        member_id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        username TEXT NOT NULL)""",
    STAFF_TABLE,
    """CREATE TABLE IF NOT EXISTS campaigns (
        id BIGINT PRIMARY KEY,
        form_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        segment TEXT NOT NULL,
        voucher_type TEXT NOT NULL,
        reason TEXT NOT NULL,
        started_by TEXT NOT NULL,
        started_at TEXT NOT NULL,
        planned BIGINT NOT NULL,
        issued BIGINT NOT NULL,
        skipped BIGINT NOT NULL,
        status TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        error TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS campaign_vouchers (
        campaign_id BIGINT NOT NULL,
        member_id TEXT NOT NULL,
        voucher_id TEXT NOT NULL,
        PRIMARY KEY (campaign_id, member_id))""",
    # protocol v2's per-store replica (kiosk/hq/store_feed.py, store_snapshots.py)
    """CREATE TABLE IF NOT EXISTS member_seen (
        member_id TEXT NOT NULL,
        store TEXT NOT NULL,
        home INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (member_id, store))""",
    "CREATE INDEX IF NOT EXISTS member_seen_store ON member_seen (store, at)",
    """CREATE TABLE IF NOT EXISTS store_deltas (
        store TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (store, seq))""",
    """CREATE TABLE IF NOT EXISTS store_snapshots (
        device_id TEXT NOT NULL,
        snapshot_id BIGINT NOT NULL,
        idx INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (device_id, snapshot_id, idx))""",
]

# A member's name lives in the row's JSON; the console searches it through an expression index
# (the query must spell the expression exactly as the index does). Byte order ("C") on both
# engines, so a prefix is a range.
MEMBER_NAME_SQL = {
    "sqlite": "json_extract(body, '$.name')",
    "postgresql": "((CAST(body AS jsonb) ->> 'name') COLLATE \"C\")",
}

_DIALECT_TABLES = {
    "sqlite": [
        f"CREATE INDEX IF NOT EXISTS members_name ON members ({MEMBER_NAME_SQL['sqlite']})",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        f"CREATE INDEX IF NOT EXISTS members_name ON members ({MEMBER_NAME_SQL['postgresql']})",
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}


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
        for statement in TABLES + _DIALECT_TABLES[db.dialect]:
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
