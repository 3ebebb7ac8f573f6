"""Issue 18, item 1, through a real broker: a snapshot on the kiosk's own topic that claims more of
its history than it wrote (own_high_water 1,000,000,000, an empty state, a huge snapshot_id)
is rejected and counted, the state stays, and the next commit takes the next seq (it used to
reset the kiosk to seq 0 and reuse D1:1...)."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.ledger.state import LedgerState
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics
from tests.sync.support import make_txns, open_store
from tests.sync.test_drain import start_kiosk

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_snapshot_from_the_future_is_rejected_and_no_seq_is_reused(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 45))
    kiosk = start_kiosk(store, mosquitto, ack_timeout_s=60)
    try:
        hq = mosquitto.client("hq")
        assert kiosk.wait_until(lambda: kiosk.connected and kiosk._subscribed.is_set(), 10)
        before = store.ledger.state.copy()
        forged = m.Snapshot(2**61, 1_000_000_000, LedgerState(), NOW)
        hq.publish(DeviceTopics("S1", "D1").topic("snapshot"), m.encode(forged), qos=1).wait_for_publish(5)
        assert kiosk.wait_until(lambda: sum(kiosk.counters.rejected.values()) == 1, 5)
        assert kiosk.counters.rejected == {"malformed": 1}
        assert "own_high_water" in kiosk.status().last_error
        assert store.ledger.state.accounts == before.accounts
        assert store.ledger.state.last_seq["D1"] == 45
        card = next(iter(store.ledger.state.cards))
        txn = store.ledger.top_up(card, 5000, "P-after", NOW)
        assert txn.txn_id == "D1:46"
    finally:
        kiosk.stop()
        store.close()
