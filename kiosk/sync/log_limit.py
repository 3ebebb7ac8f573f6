"""At most N log lines a minute per sender for rejected messages; the rest are only counted.

A flood of bad messages (a broken or hostile kiosk) must not fill the disk with log lines nor
hide the other kiosks' lines; every message is still counted, and what was not logged is said
once per window and kept in `suppressed` for the operator's status."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

LOG_REJECTS_PER_MINUTE = 20


class LogLimit:
    """allow(sender) -> may this rejection be logged? Thread-safe; windows of `window_s` per sender."""

    def __init__(self, per_window: int = LOG_REJECTS_PER_MINUTE, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.per_window, self.window_s, self.clock = per_window, window_s, clock
        self.suppressed: Counter = Counter()  # sender -> rejections not logged, since start
        self._windows: dict[str, tuple[float, int, int]] = {}  # sender -> (start, logged, unlogged)
        self._lock = threading.Lock()

    def allow(self, sender: str) -> tuple[bool, int]:
        """(log this one?, how many of this sender's were not logged in the window just closed)."""
        now = self.clock()
        with self._lock:
            start, logged, unlogged = self._windows.get(sender, (now, 0, 0))
            closed = 0
            if now - start >= self.window_s:
                closed, start, logged, unlogged = unlogged, now, 0, 0
            quiet = logged >= self.per_window
            if quiet:
                unlogged += 1
                self.suppressed[sender] += 1
            else:
                logged += 1
            self._windows[sender] = (start, logged, unlogged)
            if len(self._windows) > 10_000:  # senders are topic segments: bound the memory
                self._windows = {sender: self._windows[sender]}
            return not quiet, closed
