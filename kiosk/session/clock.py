"""Where the session gets the time: injectable so tests move time instead of sleeping.

Two clocks, because a Raspberry Pi's wall clock jumps: it boots at 1970 or at the time of its
last shutdown (fake-hwclock) until NTP answers, and NTP may step it back. `now()` is the wall
clock, stamped on transactions and used for the programme's dates; `monotonic()` only ever moves
forward at the rate time passes, and is what every timeout on screen is measured with, so a step
of the wall clock neither ends a payment early nor keeps a member's screen open for a day."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current wall time, UTC and timezone-aware (it may step)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back, unmoved by wall-clock steps."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when told to (tests, the headless demo)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("times are UTC and timezone-aware")
        self._now = start.astimezone(UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> datetime:
        """Time passes: both clocks move."""
        if seconds < 0:
            raise ValueError("time only passes forward; use step() for a wall-clock step")
        self._now += timedelta(seconds=seconds)
        self._elapsed += seconds
        return self._now

    def step(self, seconds: float) -> datetime:
        """The wall clock is set (NTP, fake-hwclock), forward or back; no time passes."""
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, wall: datetime) -> datetime:
        """The wall clock is set to `wall` (e.g. NTP answers after a boot at 1970)."""
        if wall.tzinfo is None:
            raise ValueError("times are UTC and timezone-aware")
        self._now = wall.astimezone(UTC)
        return self._now
