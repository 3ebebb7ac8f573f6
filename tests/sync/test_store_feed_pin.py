"""A new PIN chosen at one kiosk reaches the member's other kiosks with the store's account deltas
(the member row carries the PIN's hash), through the real broker and the real HQ receiver: a
second kiosk of the store refuses the old PIN within seconds, not at its next snapshot."""

from __future__ import annotations

import time
from datetime import timedelta

from kiosk.hq.ledger import load_state
from kiosk.ledger.txn import Kind
from tests.sync.support import T0, make_txns, open_store
from tests.sync.test_drain import start_kiosk
from tests.sync.test_store_feed import _drained, _receiver

OLD_PIN, NEW_PIN = "246810", "135790"  # make_txns signs members up with OLD_PIN


def test_a_pin_changed_at_one_kiosk_is_refused_at_another_within_seconds(mosquitto, tmp_path):
    d1_store, d2_store = open_store(tmp_path / "d1"), open_store(tmp_path / "d2", "D2")
    d1_store.commit_many(make_txns("D1", 10, members=10))
    with _receiver(mosquitto, tmp_path) as hq:
        d1 = start_kiosk(d1_store, mosquitto, store_replica=True)
        d2 = start_kiosk(d2_store, mosquitto, device="D2", store_replica=True)
        d2.start_worker()  # the test's thread polls d1; d2 polls on its own
        try:
            _drained(d1, d1_store)
            assert d1.wait_until(lambda: d1_store.hq_feed.snapshot_id > 0, 30), d1.status()
            member = sorted(d1_store.ledger.state.accounts)[3]
            assert d1.wait_until(lambda: member in d2_store.ledger.state.members, 30), d2.status()
            card = next(c.uid for c in d2_store.ledger.state.cards.values() if c.member_id == member)
            now = T0 + timedelta(days=1)
            assert d1_store.ledger.check_pin(card, OLD_PIN, now)[0]  # before: the old PIN opens it here

            started = time.monotonic()
            d2_store.commit(d2_store.ledger.change_pin(card, NEW_PIN, now))
            assert d1.wait_until(
                lambda: d1_store.ledger.state.members[member].pin_hash == d2_store.ledger.state.members[member].pin_hash, 15
            ), d1.status()
            print(f"new PIN chosen at D2 in force at D1 after {time.monotonic() - started:.2f} s")
            ok, failure = d1_store.ledger.check_pin(card, OLD_PIN, now)
            assert not ok and failure is not None and failure.kind is Kind.PIN_FAILED
            assert d1_store.ledger.check_pin(card, NEW_PIN, now)[0]
            applied = load_state(hq.admin_db).members[member].pin_hash
            assert applied == d1_store.ledger.state.members[member].pin_hash  # HQ's row, carried as is
            assert not d1.counters.rejected
        finally:
            d1.stop()
            d2.stop()
    d1_store.close()
    d2_store.close()
