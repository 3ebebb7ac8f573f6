"""How long HQ keeps a kiosk's store snapshot (protocol v2), and pruning the rest at a bounded cost.

HQ keeps one snapshot per kiosk in `store_snapshots` (a new build replaces the kiosk's last), up
to about 140 MB at 100,000 members: a kiosk retired or replaced kept its last one for ever. The
rule: a snapshot is kept `store_delta_keep_days` days (the deltas' retention, default 7) from its
build (its `snapshot_id` is the build's time in microseconds), then dropped.

Why the deltas' days: a snapshot is of use only with the deltas after it (a kiosk that installs
one asks for them at once), and those days on HQ prunes them, so a kiosk resuming a load that old
would be told `deltas_unavailable` after installing it and load a new one anyway. Dropping one a
kiosk is still loading loses nothing: its next request for it is answered with a new snapshot
from chunk 0 (store_snapshots.answer_request), which the kiosk takes as a new load. A snapshot
built in the last 10 minutes (the one a repeated request for a new one reuses) is never dropped.

A kiosk whose snapshot went still follows its store's feed: the transaction that drops the
snapshot's chunk 0 notes the kiosk in `settings` (`FOLLOWS_KEY`), so HQ never takes it for a v1
kiosk and sends it the whole chain after an operation (publisher.follows_store_feed)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from kiosk.hq.db import Database
from kiosk.hq.delta_retention import retention

log = logging.getLogger(__name__)

FOLLOWS_KEY = "follows_store_feed:"  # + device id: its snapshot was pruned, it follows its store's feed
PRUNE_BATCH = 16  # chunks deleted in one short transaction (at most 12 MiB of rows)
PRUNE_ROUND = 256  # chunks deleted in one round at most (the rest wait for the next round)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def built_micros(at: datetime) -> int:
    """The snapshot id of a snapshot built at `at` (ids are the build's time in microseconds)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def prune_snapshots(db: Database, now: datetime, days: int | None = None, budget: int = PRUNE_ROUND) -> int:
    """Delete the snapshots built more than `days` days before `now` (default: the HQ setting
    `store_delta_keep_days`), at most `budget` chunks in transactions of PRUNE_BATCH, each chunk 0
    first; returns how many chunks went. The read is of the primary key only, never of a body."""
    days = days if days is not None else retention(db).days
    cutoff = built_micros(now - timedelta(days=days))
    old = db.all("SELECT device_id, snapshot_id, MIN(idx), MAX(idx) FROM store_snapshots WHERE snapshot_id < ? "
                 "GROUP BY device_id, snapshot_id ORDER BY snapshot_id", (cutoff,))
    gone = 0
    for device, snapshot_id, low, high in old:
        low, high = int(low), int(high)
        while low <= high and gone < budget:
            top = min(high, low + PRUNE_BATCH - 1, low + budget - gone - 1)
            gone += db.run(lambda db, d=device, s=int(snapshot_id), lo=low, hi=top: _drop(db, d, s, lo, hi))
            low = top + 1
        if gone >= budget:
            break
    if gone:
        log.info("pruned %d store snapshot chunks built more than %d days ago", gone, days)
    return gone


def _drop(db: Database, device: str, snapshot_id: int, low: int, high: int) -> int:
    if low == 0:
        db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (FOLLOWS_KEY + device, str(snapshot_id)))
    return db.execute("DELETE FROM store_snapshots WHERE device_id = ? AND snapshot_id = ? AND idx >= ? AND idx <= ?",
                      (device, snapshot_id, low, high)).rowcount
