"""A table of ledger rows that need not all be in memory: the small interface through which
`LedgerState` reads the rows a transaction touches.

A plain dict is one such table (the whole state in memory: tests, HQ's small per-batch state).
`Rows` is the other: the rows changed since the last flush in memory, every other row read on
demand from a `RowSource` (the kiosk's on-disk replica) and kept in a small bounded LRU. The
rules in state.py and operations.py never see the difference; the few questions that would scan
a whole table (a member's cards, a phone number already in use, a referral code, the account
holding a till order) go through `find`, which an on-disk source answers from an index. An index
gives each row one value (a card's member id) or several (the keys of an account's till orders)."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Generic, Protocol, TypeVar

V = TypeVar("V")
IndexOf = Callable[[V], str | tuple[str, ...]]  # a row's value in an index, or its several values

CACHE_ROWS = 2048  # per table: a busy store's morning of members; bounded whatever the chain's size


class RowSource(Protocol[V]):
    """Where the rows not changed in memory live (the replica on disk)."""

    def load(self, key: str) -> V | None: ...

    def find(self, index: str, value: str) -> list[V]: ...

    def keys(self) -> Iterator[str]: ...

    def count(self) -> int: ...


class Rows(MutableMapping[str, V], Generic[V]):
    """Rows changed in memory over a source on disk, with an LRU of rows read from it.

    Rows are frozen values, so handing out a cached one is safe. Deleting is not supported: the
    ledger never deletes a row. Thread-safe: the UI thread reads while the store's thread writes."""

    def __init__(
        self,
        source: RowSource[V],
        key_of: Callable[[V], str],
        indexes: Mapping[str, IndexOf[V]],
        cache_rows: int = CACHE_ROWS,
    ) -> None:
        self.source = source
        self.key_of = key_of
        self.indexes = indexes
        self.changed: dict[str, V] = {}  # written since the last flush to the source
        # the changed rows by index value (index -> value -> keys), so `find` never scans them
        # all: a till's order is looked up several times per charge, and a busy day changes
        # thousands of accounts between checkpoints
        self._changed_by: dict[str, dict[str, set[str]]] = {name: {} for name in indexes}
        self._order: dict[str, int] = {}  # a changed row's place in `changed` (find's order)
        self._counter = itertools.count()
        self._cache: OrderedDict[str, V] = OrderedDict()
        self._cache_rows = cache_rows
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> V:
        with self._lock:
            found = self.changed.get(key)
            if found is not None:
                return found
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
            found = self.source.load(key)
            if found is None:
                raise KeyError(key)
            self._remember(key, found)
            return found

    def __setitem__(self, key: str, value: V) -> None:
        with self._lock:
            old = self.changed.get(key)
            if old is not None:
                self._index(key, old, add=False)
            else:
                self._order[key] = next(self._counter)
            self.changed[key] = value
            self._index(key, value, add=True)
            self._cache.pop(key, None)

    def __delitem__(self, key: str) -> None:
        raise TypeError("ledger rows are never deleted")

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        """Every key, the source's first: costs the whole table (checks and exports only)."""
        with self._lock:
            changed = dict(self.changed)
        for key in self.source.keys():
            if key not in changed:
                yield key
        yield from changed

    def __len__(self) -> int:
        with self._lock:
            fresh = [k for k in self.changed if self.source.load(k) is None]
        return self.source.count() + len(fresh)

    def find(self, index: str, value: str) -> list[V]:
        """Rows whose `index` equals `value`, as changed in memory (from an index on disk)."""
        with self._lock:  # the changed rows as they are now, then the disk's (a flush in between moves
            changed = set(self.changed)  # a row from one to the other: it is taken from here)
            keys = sorted(self._changed_by[index].get(value, ()), key=self._order.__getitem__)
            mine = [self.changed[k] for k in keys]
        return [row for row in self.source.find(index, value) if self.key_of(row) not in changed] + mine

    def take_changed(self) -> dict[str, V]:
        """The rows to write to the source (they stay readable here until `flushed`)."""
        with self._lock:
            return dict(self.changed)

    def flushed(self, written: Mapping[str, V]) -> None:
        """The source now holds `written`: move them from the changed rows into the cache."""
        with self._lock:
            for key, value in written.items():
                if self.changed.get(key) is value:
                    del self.changed[key]
                    del self._order[key]
                    self._index(key, value, add=False)
                    self._remember(key, value)

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _index(self, key: str, row: V, add: bool) -> None:
        for name, index_of in self.indexes.items():
            got = index_of(row)
            by_value = self._changed_by[name]
            for value in (got,) if isinstance(got, str) else got:
                if add:
                    by_value.setdefault(value, set()).add(key)
                elif value in by_value:
                    by_value[value].discard(key)
                    if not by_value[value]:
                        del by_value[value]

    def _remember(self, key: str, value: V) -> None:
        self._cache[key] = value
        if len(self._cache) > self._cache_rows:
            self._cache.popitem(last=False)


def indexed(index_of: IndexOf[V], row: V, value: str) -> bool:
    """Is `row` under `value` in the index (its one value, or one of its several)?"""
    got = index_of(row)
    return got == value if isinstance(got, str) else value in got


def find(table: Mapping[str, V], index: str, value: str, index_of: IndexOf[V]) -> list[V]:
    """`Rows.find` on a Rows, a scan on a plain dict (a state wholly in memory is small)."""
    if isinstance(table, Rows):
        return table.find(index, value)
    return [row for row in table.values() if indexed(index_of, row, value)]
