"""`kiosk status` / `kiosk doctor`: where the kiosk's member replica stands with HQ (protocol v2).
Read-only and without the store's lock (the running kiosk holds it): the feed position in
replica.sqlite and the progress of a store snapshot being loaded beside it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kiosk.doctor.checks import CheckResult, Context, _need_config, ok, skip
from kiosk.store.loading import loading_line
from kiosk.store.read_only import connect_read_only
from kiosk.store.replica import REPLICA


def _feed(path: Path) -> tuple[int, int] | None:
    try:
        conn = connect_read_only(path)
        try:
            row = conn.execute("SELECT snapshot_id, delta_seq FROM hq_feed").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return (int(row[0]), int(row[1])) if row else (0, 0)


def check_member_replica(ctx: Context) -> CheckResult:
    """Loaded from HQ's store snapshot, being loaded (how far), or not yet."""
    name = "member replica"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    data_dir = ctx.path(config.device.data_dir)
    if not (data_dir / REPLICA).exists():
        return skip(name, "no replica yet (the kiosk creates it when it first starts)")
    feed = _feed(data_dir / REPLICA)
    loading = loading_line(data_dir)
    held = (f"from HQ's store snapshot {feed[0]}, account deltas up to {feed[1]}" if feed and feed[0]
            else "not loaded from HQ's store snapshot yet")
    if loading:
        return ok(name, f"loading {loading}; meanwhile the replica {held} serves")
    return ok(name, held)
