"""SIGKILL of a kiosk loading its store's snapshot in chunks (protocol v2), through the real broker
and the real HQ receiver: killed again and again mid-load, the kiosk restarts and resumes from the
last chunk it stored (the same snapshot, never back to chunk 0), its old replica serves unchanged
until the new one is complete, and the switched-in replica holds exactly HQ's rows.

Each kill falls at a random point of the load (after a random share of the chunks is stored; the
last run finishes it). Default: 6 runs. KIOSK_FULL=1: more members, more kills."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from kiosk.hq.delta_retention import KEEP_COUNT_KEY, kept_run, prune_deltas
from kiosk.hq.embedded import start_receiver
from kiosk.hq.ledger import load_state
from kiosk.hq.publisher import put_setting
from tests.sync.support import make_txns, open_store
from tests.sync.test_drain import start_kiosk
from tests.sync.test_store_feed_retention import hq_changes, session_expires

ROOT = Path(__file__).resolve().parent.parent
FULL = os.environ.get("KIOSK_FULL") == "1"
MEMBERS = 400 if FULL else 120
KILLS = 40 if FULL else 6


def _run_and_kill(cmd: list[str], at: float | None, in_use_before: int = 0) -> None:
    """Start the child; SIGKILL it once it has stored the share `at` of the chunks still missing when
    it started (None: let it finish the load, switching from snapshot `in_use_before`, then kill it)."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, bufsize=0,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
    line = child.stdout.readline().decode()
    assert line.startswith("started"), f"child did not start: {line!r} {child.stderr.read().decode()[-2000:]}"
    deadline = time.monotonic() + 90
    start = None
    while time.monotonic() < deadline:
        line = child.stdout.readline().decode().split()
        if not line:
            break
        stored, in_use, chunks = (int(v) for v in line[1:4])
        start = stored if start is None and chunks else start
        if in_use != in_use_before or (at is not None and chunks and stored >= start + max(1, at * (chunks - start))):
            break
    child.send_signal(signal.SIGKILL)
    _, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]


def _kill_through_the_load(cmd: list[str], data: Path, rng: random.Random, old: dict,
                           in_use_before: int = 0) -> list[tuple[int, int, int]]:
    """Kill the kiosk at random points of its load until it switches from snapshot `in_use_before`;
    after each kill its replica serves as it was (`old`) and a load of the same snapshot never goes
    back. Returns (snapshot being loaded, next chunk, chunks) after each kill before the switch."""
    loads: list[tuple[int, int, int]] = []
    for _ in range(KILLS):
        _run_and_kill(cmd, rng.uniform(0.05, 0.5) if len(loads) < KILLS - 1 else None, in_use_before)
        store = open_store(data)
        try:
            progress, feed = store.loading.progress, store.hq_feed
            if feed.snapshot_id != in_use_before:
                break
            assert dict(store.ledger.state.accounts.items()) == old  # the old replica serves, unchanged
            if loads and progress.snapshot_id == loads[-1][0]:
                assert progress.next_index >= loads[-1][1]  # resumed, never back to chunk 0
            loads.append((progress.snapshot_id, progress.next_index, progress.chunks))
        finally:
            store.close()
    return loads


def test_sigkill_during_a_chunked_snapshot_load_resumes_and_the_old_replica_serves(mosquitto, tmp_path):
    rng = random.Random(int(os.environ.get("KIOSK_CRASH_SEED", "20261207")))
    data = tmp_path / "kiosk"
    store = open_store(data)
    store.commit_many(make_txns("D1", MEMBERS * 2, members=MEMBERS))
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as hq:
        put_setting(hq.admin_db, "snapshot_chunk_bytes", "1024")
        kiosk = start_kiosk(store, mosquitto)  # v1: send everything to HQ first
        assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 30)
        kiosk.stop()
        old = dict(store.ledger.state.accounts.items())
        store.close()
        cmd = [sys.executable, "-m", "tests.sync.kiosk_feed_proc", str(data), mosquitto.host, str(mosquitto.port),
               mosquitto.password("D1"), mosquitto.store_of("D1")]
        loads = _kill_through_the_load(cmd, data, rng, old)
        store = open_store(data)
        try:
            assert store.hq_feed.snapshot_id
            assert dict(store.ledger.state.accounts.items()) == load_state(hq.admin_db).accounts
            assert store.loading.progress.chunks == 0
        finally:
            store.close()
    resumed = [b for a, b in zip(loads, loads[1:], strict=False) if a[0] == b[0] and 0 < a[1] < a[2]]
    assert resumed, f"no kill fell mid-load: {loads}"
    print(f"kills mid-load: {loads}")


def test_sigkill_during_the_fallback_load_after_the_deltas_were_pruned_resumes(mosquitto, tmp_path):
    """A kiosk off past HQ's retention is told `deltas_unavailable` and loads a fresh snapshot;
    killed again and again during that load it resumes it, its replica serving as it was."""
    rng = random.Random(int(os.environ.get("KIOSK_CRASH_SEED", "20261207")) + 1)
    data = tmp_path / "kiosk"
    store = open_store(data)
    store.commit_many(make_txns("D1", MEMBERS * 2, members=MEMBERS))
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as hq:
        put_setting(hq.admin_db, "snapshot_chunk_bytes", "1024")
        kiosk = start_kiosk(store, mosquitto, store_replica=True)
        assert kiosk.wait_until(lambda: store.hq_feed.snapshot_id > 0 and store.outbox_depth() == 0, 60)
        kiosk.stop()
        first = store.hq_feed
        old = dict(store.ledger.state.accounts.items())
        store.close()
        hq_changes(hq, sorted(old), 3)  # changes at HQ while the kiosk is away, a delta each
        put_setting(hq.admin_db, KEEP_COUNT_KEY, "1")
        prune_deltas(hq.admin_db, datetime.now(UTC))
        session_expires(mosquitto, "D1")
        assert kept_run(hq.admin_db, "S1").oldest > first.delta_seq + 1
        cmd = [sys.executable, "-m", "tests.sync.kiosk_feed_proc", str(data), mosquitto.host, str(mosquitto.port),
               mosquitto.password("D1"), mosquitto.store_of("D1")]
        loads = _kill_through_the_load(cmd, data, rng, old, first.snapshot_id)
        store = open_store(data)
        try:
            assert store.hq_feed.snapshot_id > first.snapshot_id
            assert dict(store.ledger.state.accounts.items()) == load_state(hq.admin_db).accounts
        finally:
            store.close()
    resumed = [b for a, b in zip(loads, loads[1:], strict=False) if a[0] == b[0] and 0 < a[1] < a[2]]
    assert resumed, f"no kill fell mid-load: {loads}"
