"""Protocol v2 through the real broker and the real HQ receiver: a kiosk loads its store's snapshot
in chunks (resuming where it stopped), the old replica serving until the new one is complete,
then follows its store's account deltas: a top-up at another store shows at this one within
seconds."""

from __future__ import annotations

import time
from datetime import timedelta

from kiosk.hq.embedded import start_receiver
from kiosk.hq.ledger import load_state
from kiosk.hq.publisher import put_setting
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics
from tests.sync.support import T0, make_txns, open_store, paho_client_for
from tests.sync.test_drain import start_kiosk

MEMBERS = 40


def _receiver(broker, tmp_path):
    return start_receiver(tmp_path / "hq.sqlite3", broker.host, broker.port, "hq", broker.password("hq"))


def _accounts(store, ids):
    return {i: store.ledger.state.accounts[i] for i in ids}


def _drained(kiosk, store, timeout=30):
    assert kiosk.wait_until(lambda: store.outbox_depth() == 0, timeout), kiosk.status()


def test_a_store_snapshot_then_a_top_up_at_another_store_shows_within_seconds(mosquitto, tmp_path):
    d1_store = open_store(tmp_path / "d1")
    d1_store.commit_many(make_txns("D1", MEMBERS, members=MEMBERS))
    d3_store = open_store(tmp_path / "d3", "D3")
    with _receiver(mosquitto, tmp_path) as hq:
        put_setting(hq.admin_db, "snapshot_chunk_bytes", "4096")  # several chunks for 40 members
        d1 = start_kiosk(d1_store, mosquitto, store_replica=True)
        d3 = start_kiosk(d3_store, mosquitto, device="D3")
        d3.start_worker()  # the test's thread polls d1 (wait_until); d3 polls on its own
        try:
            _drained(d1, d1_store)
            assert d1.wait_until(lambda: d1_store.hq_feed.snapshot_id > 0, 30), d1.status()
            ids = sorted(d1_store.ledger.state.accounts)
            assert len(ids) == MEMBERS
            assert _accounts(d1_store, ids) == {i: load_state(hq.admin_db).accounts[i] for i in ids}
            # store S2's kiosk gets the chain's accounts the v1 way, and tops a S1 member up
            state = load_state(hq.admin_db)
            d3_store.replace_state_from_hq(state, 0)
            card = sorted(c for c, v in state.cards.items() if v.member_id == ids[3])[0]
            before = d1_store.ledger.state.accounts[ids[3]].balance_fen
            started = time.monotonic()
            d3_store.commit(d3_store.ledger.top_up(card, 8800, "P-S2", T0 + timedelta(days=1)))
            assert d1.wait_until(lambda: d1_store.ledger.state.accounts[ids[3]].balance_fen > before, 15), d1.status()
            print(f"top-up at S2 visible at S1 after {time.monotonic() - started:.2f} s")
            assert d1_store.hq_feed.delta_seq >= 1
            assert not d1.counters.rejected
        finally:
            d1.stop()
            d3.stop()
    d1_store.close()
    d3_store.close()


def _spy(broker, topic):
    seen: list[m.Message] = []
    client = paho_client_for(broker, "hq")
    client.on_message = lambda _c, _u, msg: seen.append(m.decode(msg.payload, msg.topic.rsplit("/", 1)[-1]))
    client.subscribe(topic, qos=1)
    time.sleep(0.2)
    return client, seen


def test_a_load_stopped_half_way_resumes_from_the_last_chunk_stored(mosquitto, tmp_path):
    d1_store = open_store(tmp_path / "d1")
    d1_store.commit_many(make_txns("D1", 200, members=MEMBERS))
    spy, asked = _spy(mosquitto, DeviceTopics("S1", "D1").topic("snapshot_request"))
    try:
        with _receiver(mosquitto, tmp_path) as hq:
            put_setting(hq.admin_db, "snapshot_chunk_bytes", "1024")
            d1 = start_kiosk(d1_store, mosquitto)  # v1 until it has sent everything
            _drained(d1, d1_store)
            d1.stop()
            old = dict(_accounts(d1_store, sorted(d1_store.ledger.state.accounts)))
            d1 = start_kiosk(d1_store, mosquitto, store_replica=True)
            assert d1.wait_until(lambda: d1_store.loading.progress.next_index >= 3, 30), d1.status()
            d1.stop()
            stopped_at = d1_store.loading.progress
            assert not stopped_at.complete and d1_store.hq_feed.snapshot_id == 0
            d1_store.close()

            d1_store = open_store(tmp_path / "d1")  # a restart: the old replica serves meanwhile
            assert d1_store.loading.progress == stopped_at
            assert _accounts(d1_store, sorted(old)) == old
            asked.clear()
            d1 = start_kiosk(d1_store, mosquitto, store_replica=True)
            assert d1.wait_until(lambda: d1_store.hq_feed.snapshot_id == stopped_at.snapshot_id, 30), d1.status()
            d1.stop()
            first = asked[0]  # (chunks the broker still held for its session may have come in before it asked)
            assert first.snapshot_id == stopped_at.snapshot_id and first.first >= stopped_at.next_index
            assert _accounts(d1_store, sorted(old)) == old  # HQ's rows are what the kiosk had
            assert d1_store.loading.progress.chunks == 0
            assert not (tmp_path / "d1" / "replica.next.sqlite").exists()
    finally:
        spy.loop_stop()
        spy.disconnect()
        d1_store.close()

