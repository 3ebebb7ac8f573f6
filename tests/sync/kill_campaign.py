"""The parts the kiosk-process campaigns share (tests/test_kiosk_sigkill.py against the test HQ,
tests/hq/test_hq_kiosk_sigkill.py against the real one, tests/hq/test_soak.py): start the kiosk
process (tests/sync/kiosk_session_proc.py), kill it, read what it said was done, and drain what
it left with the real sync client."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.hq.db import open_database
from kiosk.hq.ledger import event_counts, load_state
from kiosk.store.store import Store
from kiosk.sync.client import SyncClient, SyncSettings
from tests.sync.kiosk_session_proc import DEVICE

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["DEVICE", "drain", "hq_problems", "kiosk_cmd", "run_and_kill"]


def kiosk_cmd(data: Path, broker, seed: int, module: str = "tests.sync.kiosk_session_proc") -> list[str]:
    return [sys.executable, "-m", module, str(data), broker.host, str(broker.port), broker.password(DEVICE),
            broker.store_of(DEVICE), str(seed)]


def run_and_kill(cmd: list[str], rng: random.Random, broken: str = "") -> list[str]:
    """Run the kiosk process and SIGKILL it at a random moment: often while it opens the store or
    connects, mostly while it serves. The "C ..." lines it printed whole (a line without its
    newline was never said)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), KIOSK_BROKEN=broken)
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, bufsize=0, env=env)
    if rng.random() < 0.15:
        time.sleep(rng.uniform(0.0, 1.0))
    else:
        line = child.stdout.readline().decode()
        assert line.startswith("R "), f"child did not start: {line!r} {child.stderr.read().decode()[-2000:]}"
        time.sleep(rng.uniform(0.05, 1.5))
    child.send_signal(signal.SIGKILL)
    rest, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    return [x for x in rest.decode().split("\n")[:-1] if x.startswith("C ")]


def drain(store: Store, broker, data: Path, timeout: float = 60.0) -> SyncClient:
    """The real sync client, in this process, until the store's outbox is empty (HQ acknowledged
    everything after its commit). Returns the stopped client (its status for messages)."""
    settings = SyncSettings(store_id=broker.store_of(DEVICE), device_id=DEVICE, host=broker.host,
                            port=broker.port, password=broker.password(DEVICE), data_dir=data,
                            backoff_min_s=0.1, backoff_max_s=0.5, ack_timeout_s=2.0)
    client = SyncClient(store, settings)
    client.start()
    try:
        assert client.wait_until(lambda: store.outbox_depth() == 0, timeout), client.status()
    finally:
        client.stop()
    return client


def hq_problems(hq_url: str, device: str, last: int, kiosk_accounts: dict) -> list[str]:
    """What is wrong with HQ's SQL ledger against a kiosk that made seqs 1..`last` and holds
    `kiosk_accounts` (a dict, read while the store was open: its rows live in the store's replica):
    [] when HQ holds each seq once, applied all in seq order, same balances."""
    db = open_database(hq_url)
    try:
        seqs = [r[0] for r in db.all("SELECT seq FROM events WHERE device_id = ? ORDER BY seq", (device,))]
        _, highest, applied = event_counts(db).get(device, (0, 0, 0))
        hq_accounts = dict(load_state(db).accounts)  # read now: a state's rows may live in the database
    finally:
        db.close()
    problems = []
    missing = sorted(set(range(1, last + 1)) - set(seqs))
    if missing:
        problems.append(f"HQ misses {len(missing)} of the kiosk's {last} txns, e.g. seqs {missing[:8]}")
    if len(seqs) != len(set(seqs)) or highest > last:
        problems.append(f"HQ holds {len(seqs)} events up to seq {highest}; the kiosk made {last}")
    if applied != last:
        problems.append(f"HQ applied through seq {applied} of {last} (in seq order: stops at a gap)")
    differ = [mid for mid in kiosk_accounts.keys() | hq_accounts.keys() if kiosk_accounts.get(mid) != hq_accounts.get(mid)]
    if differ:
        problems.append(f"{len(differ)} members' accounts differ between HQ and the kiosk")
    return problems
