"""How long HQ has been out of reach: what the offline spend limit (`offline.after_hours`) is
judged by.

While the kiosk runs, the time since HQ's last ack is measured on the monotonic clock. The wall
clock may step — forward a year when NTP answers a Pi that booted at its last shutdown time,
back when NTP corrects — and a step forward must not make the limit apply early, nor a step
back lift it.

Across a restart the monotonic clock is gone (it starts again at boot), so the wall clock is the
only link: at start, the time from HQ's last ack (saved in the store as a wall time) to the
wall clock's now is taken once, and the monotonic clock adds to it from then on. When the wall
clock at start is before HQ's last ack (stepped back, or 1970 at boot), how long is not known, and
the limit applies until HQ answers; so it does when HQ was never heard from. A Pi that booted
on fake-hwclock counts from the time it was switched off: the hours it was off are not counted
(a later NTP step is not trusted to say how long that was).

Reachable means HQ answers, not that the broker does: with the broker up and HQ down for days,
nothing acks, and the count runs as if the kiosk were cut off. HQ answers every heartbeat (an
ack of no seqs, kiosk/hq/receiver.py), so an idle kiosk whose HQ is there hears it each beat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

UNKNOWN = timedelta(days=36_500)  # never heard from HQ, or the clock went back past its last word
SAVE_EVERY_S = 600.0  # HQ's answers come each heartbeat: their time is saved at most this often


class HqContact:
    """Time since HQ's last ack. `clock`: monotonic seconds (the sync client's)."""

    def __init__(self, clock: Callable[[], float], last_ack_at: datetime | None, started_at: datetime):
        self._clock = clock
        self._mark = clock()
        self._saved: float | None = None
        if last_ack_at is None or started_at < last_ack_at:
            self._before = UNKNOWN
        else:
            self._before = started_at - last_ack_at

    def heard(self) -> bool:
        """HQ answered: the count starts again from now. True when its time is due to be saved
        (for the count across a restart), which spares the SD card a write every heartbeat."""
        self._mark, self._before = self._clock(), timedelta(0)
        if self._saved is not None and self._mark - self._saved < SAVE_EVERY_S:
            return False
        self._saved = self._mark
        return True

    def unreachable_for(self) -> timedelta:
        """How long since HQ's last ack, as well as the kiosk can tell (UNKNOWN or more: not known)."""
        return self._before + timedelta(seconds=max(0.0, self._clock() - self._mark))

    def offline_for(self, connected: bool, answers_within: timedelta) -> timedelta | None:
        """What the offline limit is judged by: None while HQ answers (the broker connected and HQ
        heard within `answers_within`), else the time since HQ's last answer."""
        silent = self.unreachable_for()
        return None if connected and silent <= answers_within else silent
