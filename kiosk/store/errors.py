"""What can go wrong with the store, as specific types the screens and `kiosk doctor` can name."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base of the store's errors."""


class StoreLocked(StoreError):
    """Another live process holds the data directory's lock."""

    def __init__(self, path: Path, pid: int | None):
        self.path, self.pid = path, pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{path}: the store is in use by {holder}")


class StoreCorrupt(StoreError):
    """The store on disk cannot be trusted; it was left exactly as found."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}; the store was not changed (see `kiosk doctor`)")


class StoreWriteError(StoreError):
    """A write could not be made durable (disk full, I/O error); nothing changed."""


class StaleSnapshot(StoreError):
    """An HQ snapshot older than transactions HQ already acknowledged; ask HQ for a newer one."""


class ImpossibleSnapshot(StoreError):
    """An HQ snapshot that claims more of this device's transactions than it ever wrote."""


class TxnIdReused(StoreError):
    """A different transaction with the id of one already committed: two operations were decided
    against the same state (e.g. from two threads) and the second must be decided again."""

    def __init__(self, txn_id: str):
        self.txn_id = txn_id
        super().__init__(
            f"transaction id {txn_id} is already used by a different transaction; nothing written"
        )
