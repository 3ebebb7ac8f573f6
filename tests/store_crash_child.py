"""Child process of the crash test: commits top-ups, acks and checkpoints in a loop until killed.

Usage: python tests/store_crash_child.py DATA_DIR SEED

Each line on stdout is written with one write() after the step it names:
  R <high-water>        the store is open
  W <seq> <amount_fen>  about to commit this top-up (in flight)
  C <seq> <amount_fen>  commit returned: the top-up is durable
  a <id,id,...>         about to ack;  A <id,...> ack returned
  K                     checkpoint started;  k  checkpoint returned"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.store.store import Store  # noqa: E402

DEVICE = "K1"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def main() -> None:
    data_dir, seed = Path(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    store = Store.open(data_dir, DEVICE, pepper=b"crash", pin_params=FAST_FOR_TESTS)
    ledger = store.ledger
    cards = sorted(ledger.state.cards)
    say(f"R {ledger.state.last_seq.get(DEVICE, 0)}")
    step = 0
    while True:
        step += 1
        card = rng.choice(cards)
        amount = rng.randrange(1000, 5000)
        txn = ledger.top_up(card, amount, f"PAY-{seed}-{step}", T0 + timedelta(seconds=step))
        say(f"W {txn.seq} {amount}")
        store.commit(txn)
        say(f"C {txn.seq} {amount}")
        if rng.random() < 0.2:
            outbox = store.outbox()
            ids = [t.txn_id for t in outbox[: rng.randrange(1, len(outbox) + 1)]]
            say(f"a {','.join(ids)}")
            store.ack(ids)
            say(f"A {','.join(ids)}")
        if rng.random() < 0.03:
            say("K")
            store.checkpoint()
            say("k")


if __name__ == "__main__":
    main()
