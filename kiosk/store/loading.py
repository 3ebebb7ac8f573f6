"""A store snapshot from HQ being loaded, chunk by chunk, beside the replica that keeps serving.

    data_dir/replica.next.sqlite   a replica in the making: the chunks stored so far, and in the
                                   `loading` table which snapshot they belong to and the next
                                   chunk wanted (written in the same SQLite transaction as the
                                   chunk's rows, so a restart resumes from the last chunk stored)

When the last chunk is in, the store re-applies its own transactions HQ had not applied and
renames this file over replica.sqlite (Store.install_loaded): until then the old replica answers
every tap. A chunk of another snapshot, or out of order, changes nothing here.

The chunks are written on the sync client's chunk writer thread (kiosk/sync/chunk_writer.py), the
install on the store owner's: `Loading.lock` (not the store's lock, which a tap would wait on
while a chunk is written) keeps the two apart."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.ledger.state import LedgerState
from kiosk.store import files
from kiosk.store.errors import StoreCorrupt, StoreError
from kiosk.store.read_only import connect_read_only
from kiosk.store.replica import HqFeed, Replica, json_text

STAGED = "replica.next.sqlite"
_TABLE = """CREATE TABLE IF NOT EXISTS loading (
    one INTEGER PRIMARY KEY CHECK (one = 1), snapshot_id INTEGER NOT NULL, chunks INTEGER NOT NULL,
    next_index INTEGER NOT NULL, own_high_water INTEGER NOT NULL, delta_seq INTEGER NOT NULL
)"""


@dataclass(frozen=True)
class Progress:
    """Where a load stands: `next_index` of `chunks` stored (0 of 0: no load under way)."""

    snapshot_id: int = 0
    chunks: int = 0
    next_index: int = 0
    own_high_water: int = 0
    delta_seq: int = 0

    @property
    def complete(self) -> bool:
        return self.chunks > 0 and self.next_index >= self.chunks

    @property
    def line(self) -> str:
        """The staff menu's and `kiosk status`'s progress line (no member data)."""
        if not self.chunks:
            return ""
        percent = 100 * self.next_index // self.chunks
        return f"{self.next_index}/{self.chunks} chunks ({percent}%) of snapshot {self.snapshot_id}"


@dataclass(frozen=True)
class Chunk:
    """What the store needs of one snapshot_chunk message (kiosk/sync/messages/store_sync.py)."""

    snapshot_id: int
    index: int
    chunks: int
    own_high_water: int
    delta_seq: int
    members: tuple
    cards: tuple
    accounts: tuple
    stock: dict
    items: Mapping[str, tuple] | None = None  # the rows as HQ's JSON had them (MemberRows.items), if known


class Loading:
    """The staging replica; opened by the store. Every use holds `lock`: the chunk writer's thread
    stores, the store owner's installs, discards and closes."""

    def __init__(self, data_dir: Path, device_id: str) -> None:
        self.path = Path(data_dir) / STAGED
        self.device_id = device_id
        self.lock = threading.RLock()
        self._replica: Replica | None = None
        self._shut = False
        self.progress = Progress()  # replaced whole, so any thread may read it
        if self.path.exists():
            try:
                self.progress = self._read()
            except (sqlite3.DatabaseError, StoreCorrupt):
                self.discard()  # a staging file is only a cache of HQ's: start the load again

    def _open(self) -> Replica:
        if self._shut:
            raise StoreError(f"{self.path}: the store is closed")
        if self._replica is None:
            self._replica = Replica(self.path, self.device_id)
            self._replica._writer.execute(_TABLE)
        return self._replica

    def _read(self) -> Progress:
        row = self._open()._rows(
            "SELECT snapshot_id, chunks, next_index, own_high_water, delta_seq FROM loading"
        )
        return Progress(*(int(v) for v in row[0])) if row else Progress()

    def store(self, chunk: Chunk) -> bool:
        """Keep the chunk if it is the next one of the load under way (chunk 0 starts a new load,
        dropping an unfinished other one). True when it was kept."""
        with self.lock:
            return self._store(chunk)

    def _store(self, chunk: Chunk) -> bool:
        p = self.progress
        if chunk.index == 0 and chunk.snapshot_id != p.snapshot_id:
            self.discard()
            p = Progress(chunk.snapshot_id, chunk.chunks, 0, chunk.own_high_water, chunk.delta_seq)
        if (chunk.snapshot_id, chunk.chunks, chunk.index) != (p.snapshot_id, p.chunks, p.next_index):
            return False
        state = LedgerState(
            members={m.member_id: m for m in chunk.members},
            cards={c.uid: c for c in chunk.cards},
            accounts={a.member_id: a for a in chunk.accounts},
            stock=dict(chunk.stock),
            last_seq={self.device_id: p.own_high_water} if chunk.index == 0 else {},
        )
        mark = (
            "INSERT OR REPLACE INTO loading (one, snapshot_id, chunks, next_index, own_high_water, delta_seq) "
            "VALUES (1, ?, ?, ?, ?, ?)",
            (p.snapshot_id, p.chunks, chunk.index + 1, p.own_high_water, p.delta_seq),
        )
        self._open().write(state, 1, feed=HqFeed(p.snapshot_id, p.delta_seq), also=(mark,), texts=_texts(chunk))
        self.progress = Progress(p.snapshot_id, p.chunks, chunk.index + 1, p.own_high_water, p.delta_seq)
        return True

    def staged(self) -> Replica:
        """The complete staging replica, for the store to finish and rename into place."""
        return self._open()

    def close(self) -> None:
        with self.lock:
            if self._replica is not None:
                self._replica.close()
                self._replica = None

    def shut(self) -> None:
        """The store closes: a chunk still on its way is refused (StoreError), never written."""
        with self.lock:
            self.close()
            self._shut = True

    def discard(self) -> None:
        with self.lock:
            self.close()
            for suffix in ("", "-wal", "-shm"):
                extra = self.path.with_name(self.path.name + suffix)
                if extra.exists():
                    files.disk.unlink(extra)
            self.progress = Progress()

    def finished(self) -> None:
        """The file was renamed into place; nothing is loading now."""
        self._replica = None
        self.progress = Progress()


def _texts(chunk: Chunk) -> dict[str, dict[str, str]]:
    """Each row's text as HQ sent it, by key: its JSON dumped again is a third of what encoding the
    decoded row costs (0.26 s a chunk of 600 members), and decodes to the very same row, since the
    row was decoded strictly from it (no unknown field, every type checked)."""
    if chunk.items is None:
        return {}
    keys = {"members": [m.member_id for m in chunk.members], "cards": [c.uid for c in chunk.cards],
            "accounts": [a.member_id for a in chunk.accounts]}
    return {name: {k: json_text(item) for k, item in zip(keys[name], chunk.items[name], strict=True)}
            for name in keys}


def loading_line(data_dir: Path) -> str:
    """The progress line of a load under way in `data_dir`, read-only (for `kiosk status`)."""
    path = Path(data_dir) / STAGED
    if not path.exists():
        return ""
    try:
        conn = connect_read_only(path)
        try:
            row = conn.execute(
                "SELECT snapshot_id, chunks, next_index, own_high_water, delta_seq FROM loading"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return ""
    return Progress(*(int(v) for v in row)).line if row else ""

