"""The kiosk process of the soak (tests/hq/test_soak.py): the real Store, a Session driven through
the simulated reader and the sync client polled on the same thread, as `kiosk run` does on its UI
thread. A fixed pool of members comes back again and again: a top-up (cash a staff card
confirms) while the balance is low, a staff charge with the PIN once it is high, so the ledger
does not grow with the run and the kiosk's memory can be watched.

Compressed time: the session's clock moves a minute per visit (KIOSK_SOAK_VISIT_S to choose), and the sync client's (ack
timeouts, heartbeats) runs SPEED times faster than real time; the broker, HQ and paho's keepalive
stay in real time.

argv: data_dir host port password store_id seed. Prints "R" once serving; on a line (or EOF) on
stdin it stops taking visits, drains the outbox to HQ and prints "E last_seq visits topups
charges declined" before it exits. KIOSK_SOAK_TRACE=path traces its memory (soak_trace.py). KIOSK_BROKEN (tests/sync/broken_kiosk.py) breaks it on purpose."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.session.sync_link import SyncClientLink
from tests.session_support import PIN, staff_card
from tests.sync import broken_kiosk, soak_trace
from tests.sync.kiosk_session_proc import DEVICE, build, main, new_member, sync_settings

SPEED = 5.0  # the sync client's clock against real time
VISIT_S = max(60.0, float(os.environ.get("KIOSK_SOAK_VISIT_S", "60")))  # session time a visit takes
MEMBERS = 12
LOW_FEN, HIGH_FEN = 50_000, 300_000


@dataclass
class Tally:
    visits: int = 0
    topups: int = 0
    charges: int = 0
    declined: int = 0


def compressed(speed: float):
    start = time.monotonic()
    return lambda: (time.monotonic() - start) * speed


def serve(kiosk, client, chip, rng: random.Random, tally: Tally) -> None:
    """One visit of one member: a top-up or a staff charge, ended back at idle."""
    session, uid = kiosk.session, chip.uid.hex().upper()
    balance = kiosk.ledger.state.card_account(uid)[2].balance_fen
    if balance < HIGH_FEN:
        kiosk.tap(chip)
        ok = session.start_topup() and session.choose_amount(rng.randrange(10, 2000) * 100) and session.pay("staff_cash")
        kiosk.lift()
        if ok:
            kiosk.tap(staff_card())
        counted = "topups"
    else:
        kiosk.tap(staff_card())
        ok = session.start_staff_charge()
        kiosk.lift()
        if ok and session.charge_amount(rng.randrange(1, (balance - LOW_FEN) // 100) * 100):
            kiosk.tap(chip)
            session.confirm_charge()
            kiosk.enter_pin(PIN)
            kiosk.run()
        counted = "charges"
    tally.visits += 1
    if kiosk.state == "done":
        setattr(tally, counted, getattr(tally, counted) + 1)
    else:
        tally.declined += 1
    kiosk.lift()
    kiosk.wait(60)  # the done screen and any notice time out: back to idle
    kiosk.clock.advance(VISIT_S - 60)
    client.poll()


def run(data_dir: str, host: str, port: str, password: str, store_id: str, seed: str) -> None:
    rng = random.Random(int(seed))
    kiosk = build(Path(data_dir))
    store = kiosk.store
    settings = sync_settings(data_dir, host, port, password, store_id, batch_size=50, backoff_min_s=0.2,
                             backoff_max_s=2.0, ack_timeout_s=10.0, heartbeat_s=60.0)
    client = broken_kiosk.client_class()(store, settings, now=kiosk.clock.now, clock=compressed(SPEED))
    kiosk.session.sync = SyncClientLink(client)
    client.start()
    pool = [new_member(kiosk, n) for n in range(1, MEMBERS + 1)]
    soak_trace.start_if_asked(client, store, [chip.uid.hex().upper() for chip in pool])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("R", flush=True)
    tally = Tally()
    while not stop.is_set():
        serve(kiosk, client, rng.choice(pool), rng, tally)
        for _ in range(3):  # a little idle time between members, syncing meanwhile
            client.poll()
            time.sleep(0.02)
    deadline = time.monotonic() + 120
    while store.outbox_depth() and time.monotonic() < deadline:
        client.poll()
        time.sleep(0.02)
    client.stop()
    last = store.ledger.state.last_seq.get(DEVICE, 0)
    print(f"E {last} {tally.visits} {tally.topups} {tally.charges} {tally.declined} {store.outbox_depth()}", flush=True)
    store.close()


if __name__ == "__main__":
    main(run)
