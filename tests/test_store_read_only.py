"""kiosk/store/read_only.py: `kiosk status` and `kiosk doctor` read the store's SQLite files
without creating anything beside them, and still see what a running kiosk has committed."""

from __future__ import annotations

import os
import sqlite3

import pytest

from kiosk.store.read_only import connect_read_only


def _wal_database(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (v INTEGER)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    return conn


def test_a_closed_database_is_read_and_nothing_appears_beside_it(tmp_path):
    path = tmp_path / "replica.sqlite"
    _wal_database(path).close()
    assert sorted(os.listdir(tmp_path)) == ["replica.sqlite"]
    conn = connect_read_only(path)
    assert conn.execute("SELECT v FROM t").fetchall() == [(1,)]
    conn.close()
    assert sorted(os.listdir(tmp_path)) == ["replica.sqlite"]  # a plain mode=ro left -wal and -shm


def test_a_database_being_written_is_read_with_its_latest_commit_and_never_written(tmp_path):
    path = tmp_path / "replica.sqlite"
    writer = _wal_database(path)
    writer.execute("INSERT INTO t VALUES (2)")
    writer.commit()  # in the -wal, not yet in the main file
    conn = connect_read_only(path)
    assert conn.execute("SELECT v FROM t ORDER BY v").fetchall() == [(1,), (2,)]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("INSERT INTO t VALUES (3)")
    conn.close()
    writer.close()
