"""The system's side of clock trust: this software's build date and whether NTP has synchronised,
put together with the ledger's latest time by kiosk.ledger.clock_trust.judge_clock.

Read cheaply and often (the session asks at every commit): the NTP flag is a file that
systemd-timesyncd creates once it has synchronised, and the ledger's latest time is looked up
at most once a minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import kiosk
from kiosk.ledger.clock_trust import ClockVerdict, judge_clock

# No kiosk runs this code before it was released: a clock earlier than this is certainly wrong.
RELEASE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
TIMESYNC_DIR = Path("/run/systemd/timesync")
LATEST_TTL_S = 60.0


def build_date() -> datetime:
    """The newest of the release date and when this code was installed."""
    try:
        mtime = datetime.fromtimestamp(Path(kiosk.__file__).stat().st_mtime, UTC)
    except OSError:
        mtime = RELEASE_DATE
    return max(RELEASE_DATE, mtime)


def ntp_synchronized(timesync_dir: Path = TIMESYNC_DIR) -> bool | None:
    """True once systemd-timesyncd has synchronised the clock since boot, False while it has not,
    None when it is not the time service here (not known: not held against the clock)."""
    if not timesync_dir.is_dir():
        return None
    return (timesync_dir / "synchronized").exists()


class SystemClockTrust:
    """judge_clock over the build date, the system's NTP flag and the ledger's latest time."""

    def __init__(
        self,
        latest_seen: Callable[[], datetime | None],
        *,
        built: datetime | None = None,
        ntp: Callable[[], bool | None] = ntp_synchronized,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._latest_seen, self._ntp, self._monotonic = latest_seen, ntp, monotonic
        self.built = built or build_date()
        self._latest: datetime | None = None
        self._looked = float("-inf")

    def __call__(self, now: datetime) -> ClockVerdict:
        if self._monotonic() - self._looked >= LATEST_TTL_S:
            self._latest, self._looked = self._latest_seen(), self._monotonic()
        return judge_clock(now, built=self.built, latest_seen=self._latest, ntp_synced=self._ntp())
