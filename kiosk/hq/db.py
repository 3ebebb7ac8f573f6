"""One small SQL layer over SQLite (stdlib, WAL) and PostgreSQL (psycopg 3).

HQ's queries are written once, with `?` placeholders and the SQL both engines share
(`INSERT ... ON CONFLICT`, plain types); this module only smooths the few differences:
placeholders, how a write transaction starts and locks, and which errors mean "try again".
No ORM: the schema is small and the SQL is the clearest statement of what HQ stores."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_SQLITE = Path("/var/lib/kiosk-hq/hq.sqlite3")


class DatabaseError(RuntimeError):
    """The database could not be opened or used; the message says which and why (no password)."""


class MissingDatabase(DatabaseError):
    """A command that only reads or changes an existing HQ database found none at the address:
    a mistyped --db must not leave a new, empty database behind that looks like "no data"."""


FIX_MISSING = "create it with `kiosk hq init` (or start `kiosk hq serve`), or pass the right --db"


class Database:
    """A connection plus the dialect it speaks. Not shared between threads: open one per thread."""

    def __init__(self, conn: Any, dialect: str, where: str):
        self.conn, self.dialect, self.where = conn, dialect, where
        self.staged: set[str] = set()  # temporary tables made on this connection (PostgreSQL)

    # -- transactions ------------------------------------------------------------------------

    def transaction(self):
        """A write transaction (a context manager): committed on success, rolled back on error."""
        raise NotImplementedError

    def run(self, work: Callable[[Database], T], attempts: int = 20) -> T:
        """Run `work(self)` in a transaction, again from the start when the engine says the
        transaction lost a race (deadlock, serialization, busy); nothing half-done stays."""
        for attempt in range(attempts):
            try:
                with self.transaction():
                    return work(self)
            except Exception as exc:  # noqa: BLE001 - classified just below
                if not self.is_retryable(exc) or attempt == attempts - 1:
                    raise
                log.debug("retrying transaction after %s", type(exc).__name__)
                time.sleep(min(0.5, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    def is_retryable(self, exc: Exception) -> bool:
        if self.dialect == "sqlite":
            return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
        import psycopg.errors as pe

        return isinstance(exc, pe.DeadlockDetected | pe.SerializationFailure | pe.UniqueViolation)

    # -- statements --------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence = ()) -> Any:
        return self.conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        if self.dialect == "sqlite":
            self.conn.executemany(self._sql(sql), rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence], conflict: str = "") -> None:
        """INSERT rows (ON CONFLICT `conflict` when given, e.g. "(device_id, seq) DO NOTHING"), in
        the caller's transaction. PostgreSQL: COPY into a temporary table and one INSERT ...
        SELECT (a quarter of executemany's client CPU per row, where a receiver stores every event)."""
        if not rows:
            return
        names = ", ".join(columns)
        on_conflict = f" ON CONFLICT {conflict}" if conflict else ""
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _ in columns)
            self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}){on_conflict}", rows)
            return
        stage = self._stage(table, columns, rows)
        self.conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{on_conflict}")
        self.conn.execute(f"DELETE FROM {stage}")  # the next batch in the same transaction starts empty

    def update_many(self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """UPDATE the rows whose `key` (each row's first value) matches, setting the other columns
        (the rest of each row, in order); the same way as insert_many."""
        if not rows:
            return
        if self.dialect == "sqlite":
            sets = ", ".join(f"{c} = ?" for c in columns[1:])
            self.conn.executemany(f"UPDATE {table} SET {sets} WHERE {key} = ?", [(*row[1:], row[0]) for row in rows])
            return
        stage = self._stage(table, columns, rows)
        sets = ", ".join(f"{c} = s.{c}" for c in columns[1:])
        self.conn.execute(f"UPDATE {table} t SET {sets} FROM {stage} s WHERE t.{key} = s.{key}")
        self.conn.execute(f"DELETE FROM {stage}")

    def _stage(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> str:
        """PostgreSQL: the rows in a temporary copy of `table` (made once per connection, again
        after a rollback, which may have undone it), loaded with COPY."""
        stage = f"stage_{table}"
        if stage not in self.staged:
            self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
            self.staged.add(stage)
        with self.conn.cursor() as cur, cur.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write("".join(["\t".join([_copy_text(v) for v in row]) + "\n" for row in rows]).encode())
        return stage

    def one(self, sql: str, params: Sequence = ()) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return list(self.execute(sql, params).fetchall())

    def all_of(self, queries: Sequence[tuple[str, Sequence]]) -> list[list[tuple]]:
        """Several SELECTs' rows; PostgreSQL sends them together (pipeline mode: one round trip)."""
        if self.dialect != "postgresql":
            return [self.all(sql, params) for sql, params in queries]
        with self.conn.pipeline():
            cursors = [self.conn.execute(self._sql(sql), tuple(params)) for sql, params in queries]
        return [list(cur.fetchall()) for cur in cursors]

    def for_update(self) -> str:
        """Row locks where the engine has them (SQLite already holds the whole-file write lock)."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    def try_claim(self, name: str) -> bool:
        """Claim `name` for this connection without waiting and without a transaction (a
        PostgreSQL session advisory lock: released by release_claim or when the connection
        ends); False when another connection holds it. SQLite, one writer at a time, needs none.
        Names hash to 32 bits: two names sharing a hash only make one wait for the next turn."""
        if self.dialect != "postgresql":
            return True
        row = self.one("SELECT pg_try_advisory_lock(4242002, hashtext(?))", (name,))
        return bool(row and row[0])

    def release_claim(self, name: str) -> None:
        if self.dialect == "postgresql":
            self.execute("SELECT pg_advisory_unlock(4242002, hashtext(?))", (name,))

    def in_list(self, values: Sequence) -> str:
        return "(" + ",".join("?" for _ in values) + ")"

    def local_day(self, expr: str, offset_minutes: int) -> str:
        """'YYYY-MM-DD' of the UTC text time `expr` shifted to local time (NULL stays NULL)."""
        if self.dialect == "sqlite":
            return f"date({expr}, '{offset_minutes:+d} minutes')"
        return f"to_char((CAST({expr} AS timestamptz) AT TIME ZONE 'UTC') + interval '{offset_minutes} minutes', 'YYYY-MM-DD')"

    def json_text(self, column: str, key: str) -> str:
        """A text field of a JSON column (on PostgreSQL the column must already be jsonb)."""
        if self.dialect == "sqlite":
            return f"json_extract({column}, '$.{key}')"
        return f"({column} ->> '{key}')"

    def bytewise(self, expr: str) -> str:
        """Compare stored times byte by byte: a language collation (en_US, zh_CN) may skip the
        punctuation of '...:00+00:00' and '...:00.5+00:00' and misorder them."""
        return f'{expr} COLLATE "C"' if self.dialect == "postgresql" else expr

    def close(self) -> None:
        self.conn.close()

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else _QMARK.sub("%s", sql.replace("%", "%%"))


_QMARK = re.compile(r"\?")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: object) -> str:
    """A value in COPY's text format (None is NULL; backslash, tab, newline, CR escaped)."""
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def open_database(url: str | Path, connect_timeout: float = 10.0, create: bool = True) -> Database:
    """`postgresql://...` or `host=... dbname=...` (a libpq DSN) opens PostgreSQL; anything else is
    a SQLite file path (or `sqlite:///path`). With create=False a SQLite file that is not there
    raises MissingDatabase and nothing is created (no file, no folder)."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")) or "dbname=" in text or "host=" in text:
        return _open_postgres(text, connect_timeout)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") - 1 :]
    return _open_sqlite(Path(text), connect_timeout, create)


def _open_sqlite(path: Path, timeout: float, create: bool = True) -> Database:
    memory = str(path) == ":memory:"
    if not create and not memory and not path.is_file():
        raise MissingDatabase(f"no HQ database at {path}: {FIX_MISSING}")
    try:
        if memory:
            target, uri = ":memory:", False
        elif create:
            path.parent.mkdir(parents=True, exist_ok=True)
            target, uri = str(path), False
        else:  # mode=rw: open what is there, never create it (not even in a race with a delete)
            target, uri = f"file:{quote(str(path.resolve()))}?mode=rw", True
        conn = sqlite3.connect(target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=uri)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a process crash
        conn.execute("PRAGMA foreign_keys=ON")
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseError(f"cannot open SQLite database {path}: {exc}") from None
    return _SqliteDatabase(conn, "sqlite", str(path))


class _SqliteDatabase(Database):
    """isolation_level=None: we issue BEGIN ourselves, so commit/rollback need explicit SQL."""

    @contextmanager
    def transaction(self):
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no lock-upgrade deadlocks
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


def _open_postgres(dsn: str, timeout: float) -> Database:
    try:
        import psycopg
    except ImportError:
        raise DatabaseError("PostgreSQL needs psycopg 3: pip install 'psycopg[binary]'") from None
    try:
        conn = psycopg.connect(dsn, connect_timeout=int(max(1, timeout)), autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL ({redact_dsn(dsn)}): {exc}".strip()) from None
    return _PostgresDatabase(conn, "postgresql", redact_dsn(dsn))


class _PostgresDatabase(Database):
    @contextmanager
    def transaction(self):
        try:
            with self.conn.transaction():
                yield self
        except BaseException:
            self.staged.clear()  # a temporary table made in it is gone
            raise


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced, for logs and messages."""
    dsn = re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn)
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", dsn)
