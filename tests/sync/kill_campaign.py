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

from kiosk.store.store import Store
from kiosk.sync.client import SyncClient, SyncSettings
from tests.sync.kiosk_session_proc import DEVICE

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["DEVICE", "drain", "kiosk_cmd", "run_and_kill"]


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
