"""When the wall clock can be believed.

A Raspberry Pi has no battery-backed clock: it boots at 1970, or at the time of its last
shutdown (fake-hwclock), and runs on that until NTP answers; NTP may then step it either way.
A transaction stamped meanwhile carries a time that may be wrong, so it is marked
(`Txn.clock_untrusted`) and HQ orders a device's transactions by seq, never by time. Rules
that hang on the date (birthday gift, daily check-in, points expiry) wait for a trusted clock
rather than give or take on a guess; money (top-up, spend) goes on, marked.

The clock is not trusted when it says a time before this software was built, or before the
latest time the ledger has seen (less SKEW, other kiosks' clocks differ a little), or when the
system says NTP has not synchronised yet (`ntp_synced` False; None: not known, e.g. off a Pi)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.ledger.state import LedgerState

SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class ClockVerdict:
    trusted: bool
    reason: str = ""  # why not, in a sentence for logs and `kiosk doctor` (English)
    floor: datetime | None = None  # untrusted: the earliest believable time (build, ledger's latest)


TRUSTED = ClockVerdict(True)


def judge_clock(
    now: datetime, *, built: datetime, latest_seen: datetime | None, ntp_synced: bool | None
) -> ClockVerdict:
    """Is `now` believable? The first reason found, else TRUSTED."""
    if now.tzinfo is None:
        raise ValueError("times are UTC and timezone-aware")
    if now < built:
        why = f"the clock says {now:%Y-%m-%d %H:%M} UTC, before this software was built ({built:%Y-%m-%d})"
    elif latest_seen is not None and now < latest_seen - SKEW:
        why = (f"the clock says {now:%Y-%m-%d %H:%M} UTC, before the latest transaction the ledger holds "
               f"({latest_seen:%Y-%m-%d %H:%M} UTC)")
    elif ntp_synced is False:
        why = "NTP has not synchronised the clock yet"
    else:
        return TRUSTED
    return ClockVerdict(False, why, max(built, latest_seen) if latest_seen is not None else built)


def latest_time_seen(state: LedgerState) -> datetime | None:
    """The latest moment the ledger records (a visit, an activity, a sign-up), or None."""
    times = [m.joined_at for m in state.members.values()]
    for account in state.accounts.values():
        if account.last_visit is not None:
            times.append(account.last_visit)
        times += [a.at for a in account.recent[:1]]
        times += [t.at for t in account.recent_topups]
    return max(times, default=None)
