"""The member replica on disk: members, cards, accounts (with their points lots), stock and the
per-device seqs, in SQLite (standard library, WAL), indexed by card UID, member id, phone,
referral code and till order key, read a row at a time (kiosk/ledger/rows.py caches a few thousand).

The order keys an account keeps (at most ORDERS_KEPT, inside its JSON body) are listed in
`account_orders`, written in the same transaction as the account row, so the till's lookup by
order key is one indexed query, never a scan of the chain. A format 1 file (before that table)
gets it rebuilt from its accounts at open, once, in one transaction with the new format.

It is the base the journal replays onto, in place of the whole-state snapshot: a checkpoint
writes only the rows changed since the last one, together with `absorbed` (the first journal
segment whose transactions it does not hold) in the same SQLite transaction, so a power cut
leaves either the old rows and the old position or the new rows and the new one, never a mix
that would apply a transaction twice. The journal stays the source of durability and the
outbox; rules, the reward catalogue and small settings stay in the TinyDB snapshot (one whole
document each, written atomically). SQLite does its own file I/O, outside kiosk/store/files;
after each commit `files.disk.database_committed` is told, which the crash-state explorer
records as an atomic replace of the whole file (what a committed SQLite transaction is)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from kiosk.ledger.codec import CodecError, decode, encode
from kiosk.ledger.model import Account, Card, Member, referral_code_of
from kiosk.ledger.rows import Rows
from kiosk.ledger.state import ACCOUNT_INDEXES, CARD_INDEXES, MEMBER_INDEXES, LedgerState
from kiosk.store import files
from kiosk.store.errors import StoreCorrupt, StoreError
from kiosk.store.replica_check import bounded_check

REPLICA = "replica.sqlite"
FORMAT = 2  # 2: account_orders, the index of till order keys
CACHE_KIB = 2048  # SQLite's own page cache, per connection: bounded, whatever the chain's size

_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    member_id TEXT PRIMARY KEY, phone TEXT NOT NULL, referral TEXT NOT NULL, body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_phone ON members (phone);
CREATE INDEX IF NOT EXISTS members_referral ON members (referral);
CREATE TABLE IF NOT EXISTS cards (uid TEXT PRIMARY KEY, member_id TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cards_member ON cards (member_id);
CREATE TABLE IF NOT EXISTS accounts (member_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS account_orders (
    order_key TEXT NOT NULL, member_id TEXT NOT NULL, PRIMARY KEY (order_key, member_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_orders_member ON account_orders (member_id);
CREATE TABLE IF NOT EXISTS stock (reward_id TEXT PRIMARY KEY, units INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS last_seq (device_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hq_feed (
    one INTEGER PRIMARY KEY CHECK (one = 1), snapshot_id INTEGER NOT NULL, delta_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS position (
    one INTEGER PRIMARY KEY CHECK (one = 1), format INTEGER NOT NULL, device_id TEXT NOT NULL,
    absorbed INTEGER NOT NULL
);
"""

# table -> (value type, key column, index name -> the condition on the index's value)
_TABLES: dict[str, tuple[type, str, dict[str, str]]] = {
    "members": (Member, "member_id", {"phone": "phone = ?", "referral": "referral = ?"}),
    "cards": (Card, "uid", {"member_id": "member_id = ?"}),
    "accounts": (
        Account, "member_id", {"order": "member_id IN (SELECT member_id FROM account_orders WHERE order_key = ?)"}
    ),
}
REBUILD_BATCH = 1000  # accounts decoded at a time when a format 1 file gets its order index


def _text(value: object) -> str:
    return json_text(encode(value))


def json_text(item: object) -> str:
    """A row's JSON text as the replica keeps it."""
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


class Replica:
    """One SQLite file; a reading connection (taps, any thread) and a writing one (checkpoints)."""

    def __init__(self, path: Path, device_id: str) -> None:  # use Replica.open
        self.path, self.device_id = path, device_id
        self.closed = False
        self._read_lock = threading.Lock()
        try:
            self._writer = self._connect()
            self._writer.executescript(_SCHEMA)
            self._reader = self._connect()
            row = self._writer.execute("SELECT format, device_id, absorbed FROM position").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(path, f"the member replica cannot be read ({exc})") from None
        self.absorbed = 1  # nothing absorbed: the journal from its first segment must be replayed
        self.fresh = row is None
        if row is not None:
            fmt, owner, absorbed = row
            if fmt not in (1, FORMAT):
                raise StoreCorrupt(path, f"unknown replica format {fmt!r} (expected {FORMAT})")
            if owner != device_id:
                raise StoreCorrupt(path, f"belongs to device {owner!r}, not {device_id!r}")
            if isinstance(absorbed, bool) or not isinstance(absorbed, int) or absorbed < 1:
                raise StoreCorrupt(path, "position.absorbed must be a positive integer")
            self.absorbed = absorbed
            if fmt == 1:
                self._index_orders()

    def _index_orders(self) -> None:
        """Format 1 to 2: list every account's order keys in account_orders, and the new format, in
        one transaction (a power cut leaves format 1, and the next open does it again)."""
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM account_orders")
                after = ""
                while True:
                    batch = conn.execute(
                        "SELECT member_id, body FROM accounts WHERE member_id > ? ORDER BY member_id LIMIT ?",
                        (after, REBUILD_BATCH),
                    ).fetchall()
                    if not batch:
                        break
                    accounts = {key: self._decode("accounts", key, body) for key, body in batch}
                    conn.executemany("INSERT INTO account_orders (order_key, member_id) VALUES (?, ?)",
                                     _order_rows(accounts))
                    after = batch[-1][0]
                conn.execute("UPDATE position SET format = ?", (FORMAT,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise OSError(f"member replica {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(self.path, f"the member replica cannot be indexed ({exc})") from None
        files.disk.database_committed(self.path, self._image)

    @classmethod
    def open(cls, data_dir: Path, device_id: str) -> Replica:
        return cls(Path(data_dir) / REPLICA, device_id)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a commit is on the card when it returns
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        return conn

    # -- reading -------------------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._read_lock:
            if self.closed:  # the rows are on disk, not in memory: a closed store has none to show
                raise StoreError(f"{self.path}: the store is closed")
            try:
                return self._reader.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreCorrupt(self.path, f"the member replica cannot be read ({exc})") from None

    def _decode(self, table: str, key: str, body: str):
        cls = _TABLES[table][0]
        try:
            return decode(cls, json.loads(body), f"{table}[{key[:40]}]")
        except (ValueError, CodecError) as exc:
            raise StoreCorrupt(self.path, f"bad row in {table}: {exc}") from None

    def source(self, table: str) -> TableSource:
        return TableSource(self, table)

    def state(self) -> LedgerState:
        """A LedgerState over this replica: rows on demand, stock and seqs (small) in memory."""
        return LedgerState(
            members=Rows(self.source("members"), lambda m: m.member_id, MEMBER_INDEXES),
            cards=Rows(self.source("cards"), lambda c: c.uid, CARD_INDEXES),
            accounts=Rows(self.source("accounts"), lambda a: a.member_id, ACCOUNT_INDEXES),
            stock={rid: int(units) for rid, units in self._rows("SELECT reward_id, units FROM stock")},
            last_seq={dev: int(seq) for dev, seq in self._rows("SELECT device_id, seq FROM last_seq")},
        )

    # -- writing -------------------------------------------------------------------------------

    def write(
        self, state: LedgerState, absorbed: int, whole: bool = False, feed: HqFeed | None = None,
        also: tuple[tuple[str, tuple], ...] = (), texts: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """One transaction: the rows `state` changed (every row when `whole`: a first load or an
        HQ snapshot replacing everything), its stock and seqs, and the journal position; `feed`
        (where HQ's per-store feed stands, written with the rows it produced) and `also` (a
        staging file's own bookkeeping) in the same transaction. `texts`: rows' JSON already
        at hand (table -> key -> text), used instead of encoding those rows again.
        OSError (disk full, I/O error) or StoreCorrupt, and then nothing is written: SQLite
        rolls the transaction back."""
        tables = {name: self._changed(getattr(state, name), whole) for name in _TABLES}
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if whole:
                    for name in (*_TABLES, "account_orders", "stock", "last_seq"):
                        conn.execute(f"DELETE FROM {name}")  # noqa: S608 - fixed table names
                self._put_rows(conn, tables, texts or {})
                self._put_orders(conn, tables["accounts"], whole)
                conn.executemany(
                    "INSERT INTO stock (reward_id, units) VALUES (?, ?) "
                    "ON CONFLICT (reward_id) DO UPDATE SET units = excluded.units",
                    list(state.stock.items()),
                )
                conn.executemany(
                    "INSERT INTO last_seq (device_id, seq) VALUES (?, ?) "
                    "ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq",
                    list(state.last_seq.items()),
                )
                conn.execute(
                    "INSERT INTO position (one, format, device_id, absorbed) VALUES (1, ?, ?, ?) "
                    "ON CONFLICT (one) DO UPDATE SET absorbed = excluded.absorbed",
                    (FORMAT, self.device_id, absorbed),
                )
                if feed is not None:
                    conn.execute("INSERT OR REPLACE INTO hq_feed (one, snapshot_id, delta_seq) VALUES (1, ?, ?)", feed)
                for sql, args in also:
                    conn.execute(sql, args)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # (a failed COMMIT may have rolled back already)
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:  # disk full, I/O error, read-only card
            raise OSError(f"member replica {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(self.path, f"the member replica cannot be written ({exc})") from None
        self.absorbed, self.fresh = absorbed, False
        files.disk.database_committed(self.path, self._image)
        for name, rows in tables.items():
            table = getattr(state, name)
            if isinstance(table, Rows):
                table.flushed(rows)

    @staticmethod
    def _changed(table: Mapping, whole: bool) -> dict:
        if whole or not isinstance(table, Rows):
            return dict(table.items())
        return table.take_changed()

    @staticmethod
    def _put_rows(conn: sqlite3.Connection, tables: Mapping[str, Mapping], texts: Mapping[str, Mapping]) -> None:
        def text(table: str, key: str, row: object) -> str:
            given = texts.get(table, {}).get(key)
            return given if given is not None else _text(row)

        conn.executemany(
            "INSERT OR REPLACE INTO members (member_id, phone, referral, body) VALUES (?, ?, ?, ?)",
            [(k, m.phone, referral_code_of(m.member_id), text("members", k, m)) for k, m in tables["members"].items()],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO cards (uid, member_id, body) VALUES (?, ?, ?)",
            [(k, c.member_id, text("cards", k, c)) for k, c in tables["cards"].items()],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO accounts (member_id, body) VALUES (?, ?)",
            [(k, text("accounts", k, a)) for k, a in tables["accounts"].items()],
        )

    @staticmethod
    def _put_orders(conn: sqlite3.Connection, accounts: Mapping[str, Account], whole: bool) -> None:
        """Bring account_orders up to date with the accounts written: each account's keys as its
        row now keeps them (a charge adds one, the 101st drops the oldest), nothing else touched."""
        if whole:  # the table was emptied with the accounts
            conn.executemany("INSERT INTO account_orders (order_key, member_id) VALUES (?, ?)", _order_rows(accounts))
            return
        gone: list[tuple[str, str]] = []
        new: list[tuple[str, str]] = []
        for member_id, account in accounts.items():
            kept = {k for (k,) in conn.execute("SELECT order_key FROM account_orders WHERE member_id = ?", (member_id,))}
            now = {o.key for o in account.orders}
            gone += [(key, member_id) for key in sorted(kept - now)]
            new += [(key, member_id) for key in sorted(now - kept)]
        conn.executemany("DELETE FROM account_orders WHERE order_key = ? AND member_id = ?", gone)
        conn.executemany("INSERT INTO account_orders (order_key, member_id) VALUES (?, ?)", new)

    def _image(self) -> bytes:
        """The committed database as one file (for the crash-state explorer's recorder)."""
        with self._read_lock:
            return self._reader.serialize()

    def feed(self) -> HqFeed:
        """Which HQ snapshot these rows came from and the store's last account delta they hold."""
        rows = self._rows("SELECT snapshot_id, delta_seq FROM hq_feed")
        return HqFeed(int(rows[0][0]), int(rows[0][1])) if rows else HqFeed(0, 0)

    def swap_in(self, staged: Path) -> None:
        """Replace this file by `staged` (a complete replica, its WAL folded in and closed): one
        rename, so a power cut leaves the old replica or the new one. Readers wait meanwhile."""
        with self._read_lock:
            self._reader.close()
            self._writer.close()
            files.disk.replace(staged, self.path)
            files.fsync_dir(self.path.parent)
            self._writer = self._connect()
            self._reader = self._connect()
        files.disk.database_committed(self.path, self._image)

    def fold_wal(self) -> None:
        """Write the WAL into the main file, so the file alone is the database (before a rename)."""
        self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def quick_check(self) -> list[str]:
        """A check bounded whatever the chain's size (replica_check.py says what it reads)."""
        with self._read_lock:
            if self.closed:
                raise StoreError(f"{self.path}: the store is closed")
            return bounded_check(self.path, self._reader)

    def close(self) -> None:
        with self._read_lock:
            self.closed = True
            self._reader.close()
        self._writer.close()


class HqFeed(NamedTuple):
    snapshot_id: int
    delta_seq: int


class TableSource:
    """One replica table as a `RowSource` for `Rows`."""

    def __init__(self, replica: Replica, table: str) -> None:
        self.replica, self.table = replica, table
        _, self.key, self.columns = _TABLES[table]

    def load(self, key: str):
        rows = self.replica._rows(f"SELECT body FROM {self.table} WHERE {self.key} = ?", (key,))  # noqa: S608
        return self.replica._decode(self.table, key, rows[0][0]) if rows else None

    def find(self, index: str, value: str) -> list:
        condition = self.columns[index]
        rows = self.replica._rows(
            f"SELECT {self.key}, body FROM {self.table} WHERE {condition} ORDER BY {self.key}", (value,)  # noqa: S608
        )
        return [self.replica._decode(self.table, key, body) for key, body in rows]

    def keys(self) -> Iterator[str]:
        """Streamed on a connection of its own: a million keys are never in memory at once."""
        conn = self.replica._connect()
        try:
            for (key,) in conn.execute(f"SELECT {self.key} FROM {self.table} ORDER BY {self.key}"):  # noqa: S608
                yield key
        finally:
            conn.close()

    def count(self) -> int:
        return int(self.replica._rows(f"SELECT COUNT(*) FROM {self.table}")[0][0])  # noqa: S608



def _order_rows(accounts: Mapping[str, Account]) -> list[tuple[str, str]]:
    """(order key, member id) of every till order the accounts keep: account_orders' rows."""
    return [(order.key, member_id) for member_id, account in accounts.items() for order in account.orders]
