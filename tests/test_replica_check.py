"""`kiosk doctor`'s check of the member replica reads a bounded part of it (kiosk/store/replica_check.py):
the header and size, the small tables, one path down each large table. A file cut short, by half
a page or by whole pages, is named; a sound one passes."""

from __future__ import annotations

import sqlite3

from kiosk.store.replica_check import bounded_check, header_problems
from tests.sync.support import make_txns, open_store


def _replica(tmp_path):
    store = open_store(tmp_path)
    store.commit_many(make_txns("D1", 400, members=300))
    store.checkpoint()
    assert store._replica.quick_check() == []
    store._replica.fold_wal()
    store.close()
    return tmp_path / "replica.sqlite"


def test_a_sound_replica_passes_and_a_cut_one_is_named(tmp_path):
    path = _replica(tmp_path)
    size = path.stat().st_size
    conn = sqlite3.connect(path)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    assert bounded_check(path, conn) == []
    conn.close()
    assert size > 4 * page
    with open(path, "r+b") as f:
        f.truncate(size - page // 2)
    assert "not a whole number" in header_problems(path)[0]
    with open(path, "r+b") as f:
        f.truncate(size - 2 * page)
    assert "the header counts" in header_problems(path)[0]


def test_a_file_that_is_not_sqlite_is_named(tmp_path):
    path = tmp_path / "replica.sqlite"
    path.write_bytes(b"\0" * 4096)
    assert "bad header" in header_problems(path)[0]
