"""Reading a SQLite file of the store without writing anything, for `kiosk status` and `kiosk doctor`.

A plain `mode=ro` connection to a WAL database still creates its -wal and -shm files when they
are not there (a stopped kiosk closed them), owned by whoever reads: after `sudo kiosk status`
they were root's, and the kiosk user's service could not open its replica. No -wal file means no
connection is open on the database (WAL mode keeps it while one is), so nothing is writing it:
then it is opened `immutable`, which creates nothing. With a -wal there (a running kiosk), the
reader joins it read-only, and its files are already there."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write `path` and creates no file beside it."""
    being_written = Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
    mode = "mode=ro" if being_written else "mode=ro&immutable=1"
    return sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?{mode}", uri=True)
