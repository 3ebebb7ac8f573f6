"""SIGKILL of the whole kiosk process (issue 17 item 4), not only the store: a child runs the real
Store, a Session driven through the simulated reader (issue a member card, tap, top up with cash
a staff card confirms) and the sync client draining to a real Mosquitto and a test HQ, and is
killed at random moments, again and again. After every kill the store opens and holds every
top-up shown as done; at the end, drained, HQ holds every transaction exactly once, in seq order,
and each reported top-up is in its member's balance exactly once. (Against the real SQL HQ,
killed too: tests/hq/test_hq_kiosk_sigkill.py.)

Default: 8 kills. KIOSK_FULL=1: 1,000 (KIOSK_SIGKILLS to choose)."""

from __future__ import annotations

import os
import random

from tests.sync.kill_campaign import DEVICE, drain, kiosk_cmd, run_and_kill
from tests.sync.support import AckResponder, open_store

FULL = os.environ.get("KIOSK_FULL") == "1"
KILLS = int(os.environ.get("KIOSK_SIGKILLS", "1000" if FULL else "8"))


def test_sigkill_of_the_whole_kiosk_loses_and_doubles_nothing(mosquitto, tmp_path):
    rng = random.Random(int(os.environ.get("KIOSK_CRASH_SEED", "20261207")))
    hq = AckResponder(mosquitto)
    data = tmp_path / "kiosk"
    store_dir = data / "store"
    reported: dict[str, int] = {}  # card uid -> top-up shown as done
    high = 0
    for round_no in range(KILLS):
        for line in run_and_kill(kiosk_cmd(data, mosquitto, round_no), rng):
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
    try:
        drain(store, mosquitto, data)
        last = store.ledger.state.last_seq[DEVICE]
        assert hq.seqs(DEVICE) == list(range(1, last + 1)), "HQ must hold every txn once, in seq order"
        for uid, amount in reported.items():
            _, _, account = store.ledger.state.card_account(uid)
            assert account.lifetime_topup_fen == amount, f"{uid}: top-up of {amount} not there exactly once"
    finally:
        store.close()
    print(f"\n{KILLS} SIGKILLs of the kiosk process, {len(reported)} top-ups shown done, {last} txns at HQ once each")
    assert len(reported) >= KILLS // 2
