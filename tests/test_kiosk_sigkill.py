"""SIGKILL of the whole kiosk process (issue 17 item 4), not only the store: a child runs the real
Store, a Session driven through the simulated reader (issue a member card, tap, top up with cash
a staff card confirms) and the sync client draining to a real Mosquitto and a test HQ, and is
killed at random moments, again and again. After every kill the store opens and holds every
top-up shown as done; at the end, drained, HQ holds every transaction exactly once, in seq order,
and each reported top-up is in its member's balance exactly once.

Default: 8 kills. KIOSK_FULL=1: 1,000 (KIOSK_SIGKILLS to choose)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.sync.client import SyncClient, SyncSettings
from tests.sync.kiosk_session_proc import DEVICE
from tests.sync.support import AckResponder, open_store

ROOT = Path(__file__).resolve().parent.parent
FULL = os.environ.get("KIOSK_FULL") == "1"
KILLS = int(os.environ.get("KIOSK_SIGKILLS", "1000" if FULL else "8"))


def _run_and_kill(cmd: list[str], rng: random.Random) -> list[str]:
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, bufsize=0,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if rng.random() < 0.15:
        time.sleep(rng.uniform(0.0, 1.0))  # often while it opens the store or connects
    else:
        line = child.stdout.readline().decode()
        assert line.startswith("R "), f"child did not start: {line!r} {child.stderr.read().decode()[-2000:]}"
        time.sleep(rng.uniform(0.05, 1.5))
    child.send_signal(signal.SIGKILL)
    rest, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    return [x for x in rest.decode().split("\n")[:-1] if x.startswith("C ")]  # a line without its newline was never said


def test_sigkill_of_the_whole_kiosk_loses_and_doubles_nothing(mosquitto, tmp_path):
    rng = random.Random(int(os.environ.get("KIOSK_CRASH_SEED", "20261207")))
    hq = AckResponder(mosquitto)
    data = tmp_path / "kiosk"
    store_dir = data / "store"
    reported: dict[str, int] = {}  # card uid -> top-up shown as done
    high = 0
    for round_no in range(KILLS):
        cmd = [sys.executable, "-m", "tests.sync.kiosk_session_proc", str(data), mosquitto.host,
               str(mosquitto.port), mosquitto.password(DEVICE), mosquitto.store_of(DEVICE), str(round_no)]
        lines = _run_and_kill(cmd, rng)
        for line in lines:
            _, seq, uid, amount = line.split()
            reported[uid] = int(amount)
            high = max(high, int(seq))
        store = open_store(store_dir, DEVICE)
        try:
            assert store.ledger.state.last_seq.get(DEVICE, 0) >= high, f"round {round_no}: a done txn is missing"
            assert store.check() == []
        finally:
            store.close()

    store = open_store(store_dir, DEVICE)
    settings = SyncSettings(store_id=mosquitto.store_of(DEVICE), device_id=DEVICE, host=mosquitto.host,
                            port=mosquitto.port, password=mosquitto.password(DEVICE), data_dir=data,
                            backoff_min_s=0.1, backoff_max_s=0.5, ack_timeout_s=2.0)
    client = SyncClient(store, settings)
    client.start()
    try:
        assert client.wait_until(lambda: store.outbox_depth() == 0, 60), client.status()
        last = store.ledger.state.last_seq[DEVICE]
        assert hq.seqs(DEVICE) == list(range(1, last + 1)), "HQ must hold every txn once, in seq order"
        for uid, amount in reported.items():
            _, _, account = store.ledger.state.card_account(uid)
            assert account.lifetime_topup_fen == amount, f"{uid}: top-up of {amount} not there exactly once"
    finally:
        client.stop()
        store.close()
    print(f"\n{KILLS} SIGKILLs of the kiosk process, {len(reported)} top-ups shown done, {last} txns at HQ once each")
    assert len(reported) >= KILLS // 2
