"""How long HQ keeps each store's account deltas (protocol v2), and pruning the rest at a bounded cost.

A kiosk that missed some deltas asks for them (resync "deltas"); HQ can answer only from what it
kept. A delta is kept while it is younger than `store_delta_keep_days` (HQ setting, default 7)
and among its store's last `store_delta_keep_count` (default 10,000), whichever ends first; the
newest delta of each store is always kept, because the store's next seq follows it and a seq must
never be given twice. Pruning takes each store's oldest deltas first, so what a store keeps is
always one unbroken run of seqs: `kept_run` answers "which seqs can HQ still send".

A kiosk further behind than that gets `deltas_unavailable` and loads a fresh store snapshot:
resending weeks of deltas would cost more than the snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.hq import tunables
from kiosk.hq.db import Database
from kiosk.hq.tunables import KEEP_COUNT_KEY, KEEP_DAYS_KEY
from kiosk.ledger.utc import utc_text

log = logging.getLogger(__name__)

DEFAULT_KEEP_DAYS = tunables.BY_KEY[KEEP_DAYS_KEY].default
DEFAULT_KEEP_COUNT = tunables.BY_KEY[KEEP_COUNT_KEY].default
PRUNE_BATCH = 500  # rows deleted in one short transaction
PRUNE_ROUND = 5_000  # rows deleted in one round at most (the rest wait for the next round)


@dataclass(frozen=True)
class Retention:
    """Keep a delta while younger than `days` and among its store's last `count`."""

    days: int = DEFAULT_KEEP_DAYS
    count: int = DEFAULT_KEEP_COUNT


@dataclass(frozen=True)
class KeptRun:
    """The seqs HQ holds for a store: `oldest`..`newest` (0, 0: none yet)."""

    oldest: int
    newest: int


def retention(db: Database) -> Retention:
    """The retention the HQ settings ask for (a bad value: the default, and a warning naming it)."""
    return Retention(tunables.value(db, KEEP_DAYS_KEY), tunables.value(db, KEEP_COUNT_KEY))


def kept_run(db: Database, store: str) -> KeptRun:
    row = db.one("SELECT MIN(seq), MAX(seq) FROM store_deltas WHERE store = ?", (store,))
    return KeptRun(int(row[0] or 0), int(row[1] or 0)) if row else KeptRun(0, 0)


def _cut(db: Database, store: str, run: KeptRun, keep: Retention, now: datetime, budget: int) -> int:
    """The highest seq of `store` to prune this round (0: none). Only the store's oldest `budget`
    rows are looked at for their age (seqs and times rise together): a bounded read."""
    row = db.one("SELECT MAX(seq) FROM (SELECT seq, at FROM store_deltas WHERE store = ? ORDER BY seq LIMIT ?) oldest "
                 "WHERE at < ?", (store, budget, utc_text(now - timedelta(days=keep.days))))
    by_age = int(row[0] or 0) if row else 0
    return max(0, min(run.newest - 1, run.oldest + budget - 1, max(run.newest - keep.count, by_age)))


def prune_deltas(db: Database, now: datetime, keep: Retention | None = None, budget: int = PRUNE_ROUND) -> int:
    """Delete the deltas past the retention, oldest first, at most `budget` rows in transactions
    of PRUNE_BATCH (each a range of one store's primary key: no long lock, no scan of the
    table; a few index probes per store with kiosks); returns how many went."""
    keep = keep or retention(db)
    gone = 0
    for (store,) in db.all("SELECT DISTINCT store FROM devices ORDER BY store"):  # deltas go to kiosks' stores
        run = kept_run(db, store)
        cut = _cut(db, store, run, keep, now, budget - gone)
        low = run.oldest
        while low <= cut:
            high = min(cut, low + PRUNE_BATCH - 1)
            gone += db.run(lambda db, lo=low, hi=high, s=store: db.execute(
                "DELETE FROM store_deltas WHERE store = ? AND seq >= ? AND seq <= ?", (s, lo, hi)).rowcount)
            low = high + 1
        if gone >= budget:
            break
    if gone:
        log.info("pruned %d account deltas past the retention (%d days, last %d per store)", gone, keep.days, keep.count)
    return gone
