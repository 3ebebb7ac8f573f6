"""The SIGKILL campaign against the real HQ (issue 17 item 4): the kiosk process
(tests/sync/kiosk_session_proc.py: real Store, Session through the simulated reader, the sync
client) syncs through a real Mosquitto to `kiosk hq serve` on its SQL ledger, and is SIGKILLed at
a random moment every round. HQ is a process too, and the rounds take turns:

- steady: HQ up all along;
- HQ killed: HQ is SIGKILLed at a random moment of the round and started again after it;
- HQ away: HQ is down for the whole round (the broker drops the kiosk's batches: nobody is in
  the share group), then the broker is SIGKILLed as well (anything it held is gone) and both
  come back.

After every kill the kiosk's store opens, passes check() and holds every top-up it showed done.
At the end the real sync client drains the store and HQ's SQL ledger holds every transaction of
the kiosk exactly once, applied in seq order, and HQ's balances equal the kiosk's.

The campaign must be able to fail: test_the_campaign_catches_a_kiosk_that_forgets_before_hqs_ack
runs it against a kiosk broken on purpose (tests/sync/broken_kiosk.py) and expects the loss.

Default: 6 kills on SQLite, 3 on PostgreSQL. KIOSK_FULL=1: 1,000 and 250 (KIOSK_SIGKILLS)."""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.hq_process import HqProcess
from tests.sync.kill_campaign import DEVICE, drain, hq_problems, kiosk_cmd, run_and_kill
from tests.sync.support import open_store

FULL = os.environ.get("KIOSK_FULL") == "1"
KILLS = int(os.environ.get("KIOSK_SIGKILLS", "1000" if FULL else "6"))
PLANS = ("steady", "hq away", "hq killed")


@dataclass
class Outcome:
    rounds: int = 0
    done: dict[str, int] = field(default_factory=dict)  # card uid -> top-up the kiosk showed done
    last: int = 0  # the kiosk's last seq after the drain
    hq_kills: int = 0
    broker_kills: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def campaign(broker, hq_url: str, workdir: Path, kills: int, seed: int, broken: str = "") -> Outcome:
    """Run `kills` rounds; what HQ and the kiosk hold at the end is judged into `problems`."""
    rng, out, began = random.Random(seed), Outcome(), time.monotonic()
    hq = HqProcess(broker, hq_url, workdir).start()
    data = workdir / "kiosk"
    try:
        for round_no in range(kills):
            plan = PLANS[round_no % len(PLANS)]
            timer = None
            if plan == "hq away":
                hq.kill()
            elif plan == "hq killed":
                timer = threading.Timer(rng.uniform(0.2, 2.0), hq.kill)
                timer.start()
            lines = run_and_kill(kiosk_cmd(data, broker, round_no), rng, broken)
            if timer:
                timer.join()
            if plan == "hq away":
                broker.kill()
                out.broker_kills += 1
                broker.start()
            if not hq.running:
                hq.start()
            high = 0
            for line in lines:
                _, seq, uid, amount = line.split()
                out.done[uid], high = int(amount), max(high, int(seq))
            with open_store(data / "store", DEVICE) as store:
                assert store.ledger.state.last_seq.get(DEVICE, 0) >= high, f"round {round_no}: a done txn is missing"
                assert store.check() == [], f"round {round_no}"
            out.rounds += 1
            if out.rounds % 50 == 0:
                print(f"  {out.rounds} rounds, {time.monotonic() - began:.0f} s", flush=True)
        with open_store(data / "store", DEVICE) as store:
            drain(store, broker, data)
            out.last = store.ledger.state.last_seq[DEVICE]
            kiosk_accounts = dict(store.ledger.state.accounts)  # the rows live in the store's replica
            kiosk_topups = {uid: store.ledger.state.card_account(uid)[2].lifetime_topup_fen for uid in out.done}
    finally:
        out.hq_kills = hq.kills
        hq.stop()
    out.problems = judge(hq_url, out, kiosk_accounts, kiosk_topups)
    out.seconds = time.monotonic() - began
    return out


def judge(hq_url: str, out: Outcome, kiosk_accounts: dict, kiosk_topups: dict[str, int]) -> list[str]:
    """Everything that is not "each top-up shown done is there once; HQ holds the rest right"."""
    problems = [f"{uid}: the kiosk holds top-ups of {got} fen, it showed {want} done"
                for uid, want in out.done.items() if (got := kiosk_topups[uid]) != want]
    return problems + hq_problems(hq_url, DEVICE, out.last, kiosk_accounts)


def _kills(hq_url: str) -> int:
    return KILLS if not hq_url.startswith(("postgresql:", "host=")) else max(3, KILLS // 4)


def test_sigkills_of_kiosk_and_hq_lose_and_double_nothing(mosquitto, hq_url, tmp_path):
    kills = _kills(hq_url)
    out = campaign(mosquitto, hq_url, tmp_path, kills, int(os.environ.get("KIOSK_CRASH_SEED", "20261207")))
    print(f"\n{out.rounds} SIGKILLs of the kiosk process ({out.hq_kills} of HQ, {out.broker_kills} of the broker) "
          f"in {out.seconds:.0f} s: {len(out.done)} top-ups shown done, {out.last} txns at HQ once each, in seq "
          f"order, balances equal")
    assert out.problems == []
    assert len(out.done) >= kills // 2 and out.hq_kills >= kills // 3


@pytest.mark.parametrize("hq_url", ["sqlite"], indirect=True)
def test_the_campaign_catches_a_kiosk_that_forgets_before_hqs_ack(mosquitto, hq_url, tmp_path):
    """The same campaign, two rounds, against a kiosk that forgets a batch on the broker's PUBACK:
    the round with HQ away loses what the kiosk sent meanwhile, and the judge names it."""
    out = campaign(mosquitto, hq_url, tmp_path, 2, 7, broken="forget_before_ack")
    print("\nbroken kiosk (forget_before_ack):", *out.problems, sep="\n  ")
    assert any(p.startswith("HQ misses") for p in out.problems), out
    assert any("accounts differ" in p for p in out.problems), out

