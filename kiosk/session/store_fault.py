"""Money pauses while the store cannot save, and says why; it comes back by itself.

A member must never pay cash into a kiosk that cannot record it. When a commit fails with a
write error (disk full, the card remounted read-only, an I/O error), new top-ups are refused
with the reason on screen. Before the next top-up the store is asked for one small durable write
(a meta record): once that succeeds the fault has cleared (space freed, the card back, the
journal healed) and money goes on, with no restart."""

from __future__ import annotations

import errno
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

_CODES = {
    errno.ENOSPC: "store_full",
    errno.EDQUOT: "store_full",
    errno.EFBIG: "store_full",
    errno.EROFS: "store_read_only",
}
PROBE_KEY = "store.probe"


class Probe(Protocol):
    def meta_put(self, key: str, value: object) -> None: ...


def fault_code(exc: BaseException) -> str:
    """The screen's reason for a failed save: the first errno along the exception's causes."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        number = getattr(seen, "errno", None)
        if isinstance(number, int):
            return _CODES.get(number, "store_error")
        seen = seen.__cause__ or seen.__context__
    return "store_error"


class StoreHealth:
    """The last save's outcome, and a probe write when it failed."""

    def __init__(self) -> None:
        self.problem = ""  # "" | store_full | store_read_only | store_error
        self.listener: Callable[[str], None] | None = None  # told of each change (HQ's status)

    def saw(self, exc: BaseException) -> None:
        self._set(fault_code(exc))

    def saved(self) -> None:
        self._set("")

    def _set(self, problem: str) -> None:
        changed, self.problem = problem != self.problem, problem
        if changed and self.listener is not None:
            self.listener(problem)

    def paused(self, store: object, now: datetime) -> str:
        """'' when money may be taken; else why not, after trying one small durable write."""
        if not self.problem:
            return ""
        put = getattr(store, "meta_put", None)
        if put is None:
            return self.problem
        try:
            put(PROBE_KEY, now.isoformat())
        except Exception as exc:  # noqa: BLE001 - any failure to save keeps money paused
            self.saw(exc)
            return self.problem
        self.saved()
        return ""
