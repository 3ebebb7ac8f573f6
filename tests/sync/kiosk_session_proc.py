"""A whole kiosk process for the SIGKILL campaign: the real Store, a Session driven through the
simulated reader (a member card is issued, tapped, topped up with cash a staff card confirms),
and the sync client draining to the broker, all at once until killed.

argv: data_dir host port password store_id seed. Prints "R high" when open, "C high uid amount"
once a top-up is shown as done (every txn up to `high` had returned from commit).
KIOSK_BROKEN (tests/sync/broken_kiosk.py) breaks it on purpose, to show the campaigns catch it."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.payment.staff_cash import StaffCashPayment
from kiosk.reader import chips
from kiosk.reader.card import issue_card
from kiosk.reader.simulated import SimulatedReader
from kiosk.session.card_access import FormatCardAccess
from kiosk.session.clock import ManualClock
from kiosk.session.incidents import IncidentLog
from kiosk.session.reader_worker import ReaderWorker
from kiosk.session.session import Session
from kiosk.session.settings import SessionSettings
from kiosk.store.store import Store
from kiosk.sync.client import SyncSettings
from tests.session_support import KEYS, PIN, SIGNERS, STAFF_UID, START, Kiosk, Pulses, staff_card
from tests.sync import broken_kiosk

DEVICE = "D1"


def build(data_dir: Path) -> Kiosk:
    clock = ManualClock(START)
    store = Store.open(data_dir / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
    reader = SimulatedReader()
    cards = FormatCardAccess(KEYS, DEVICE, lambda: clock.now().date(), SIGNERS)
    holder: list[Session] = []
    worker = ReaderWorker(reader, cards, lambda item: holder[0].post(item), poll_s=0)
    session = Session(
        store, clock=clock, payments=[StaffCashPayment()], card_writer=worker,
        incidents=IncidentLog(data_dir / "incidents.jsonl"),
        settings=SessionSettings(staff_uids=frozenset({STAFF_UID})),
    )
    holder.append(session)
    return Kiosk(session, store, reader, cards, worker, clock, Pulses(), session.incidents, data_dir)


def new_member(kiosk: Kiosk, n: int):
    """Member n: signed up, card issued, welcome gift given (committed one by one, like a kiosk)."""
    chip = chips.new_classic(bytes([0x04, n >> 16 & 0xFF, n >> 8 & 0xFF, n & 0xFF]))
    uid, now = chip.uid.hex().upper(), kiosk.clock.now()
    txn = kiosk.ledger.sign_up(uid, 1, f"139{n:08d}", PIN, now, name=f"M{n}")
    kiosk.store.commit(txn)
    kiosk.reader.place(chip)
    issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, txn.member_id, 1, now.date(), DEVICE,
               signers=SIGNERS)
    kiosk.reader.remove()
    kiosk.store.commit(kiosk.ledger.new_member_gift(uid, now))
    return chip


def main(run: Callable[..., None]) -> None:
    """run(data_dir, host, port, password, store_id, seed) from argv, on the disk KIOSK_BROKEN asks for."""
    with broken_kiosk.disk():
        run(*sys.argv[1:7])


def sync_settings(data_dir: str, host: str, port: str, password: str, store_id: str, **timing) -> SyncSettings:
    return SyncSettings(store_id=store_id, device_id=DEVICE, host=host, port=int(port), password=password,
                        data_dir=Path(data_dir), **timing)


def run(data_dir: str, host: str, port: str, password: str, store_id: str, seed: str) -> None:
    rng = random.Random(int(seed))
    kiosk = build(Path(data_dir))
    store = kiosk.store
    settings = sync_settings(data_dir, host, port, password, store_id, batch_size=20, backoff_min_s=0.1,
                             backoff_max_s=0.5, ack_timeout_s=2.0, heartbeat_s=1.0)
    client = broken_kiosk.client_class()(store, settings)
    client.start_worker()
    n = len(store.ledger.state.members)  # card uids and phones never repeat across runs
    print(f"R {store.ledger.state.last_seq.get(DEVICE, 0)}", flush=True)
    while True:
        n += 1
        chip = new_member(kiosk, n)
        uid = chip.uid.hex().upper()
        amount = rng.randrange(10, 5000) * 100
        kiosk.tap(chip)
        assert kiosk.session.start_topup() and kiosk.session.choose_amount(amount), kiosk.session.view
        assert kiosk.session.pay("staff_cash")
        kiosk.lift()
        kiosk.tap(staff_card())
        assert kiosk.state == "done", kiosk.session.view
        high = store.ledger.state.last_seq[DEVICE]
        print(f"C {high} {uid} {amount}", flush=True)
        kiosk.lift()
        kiosk.wait(60)


if __name__ == "__main__":
    main(run)
