"""What HQ sends reaches the kiosk through a real broker, is checked, and only valid, newer
messages change anything; everything else is rejected, logged and counted in the status."""

from __future__ import annotations

import json
import queue
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.payment.port import PaymentUnavailable
from kiosk.sync import messages as m
from kiosk.sync.client import SyncClient
from kiosk.sync.topics import DeviceTopics, chain_topic, store_topic
from tests.sync.support import ManualClock, make_txns, open_store
from tests.sync.test_drain import settings_for, start_kiosk

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULES_DOC = json.loads(Path("kiosk/data/rules.default.json").read_text())
OWN = DeviceTopics("S1", "D1")


@pytest.fixture
def kiosk_env(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 10))
    kiosk = start_kiosk(store, mosquitto, clock=ManualClock())  # its ack timeout never fires on its own
    hq = mosquitto.client("hq")
    assert kiosk.wait_until(lambda: kiosk.connected and kiosk._subscribed.is_set(), 10)
    yield kiosk, store, hq
    kiosk.stop()
    store.close()


def send(hq, topic: str, payload: bytes | m.Message, retain: bool = False) -> None:
    data = payload if isinstance(payload, bytes) else m.encode(payload)
    hq.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)


def rejected(kiosk) -> int:
    return sum(kiosk.counters.rejected.values())


def settle(kiosk, seconds: float = 0.4) -> None:
    kiosk.wait_until(lambda: False, seconds)


def rules_v(version: int) -> m.RulesUpdate:
    doc = {**RULES_DOC, "version": version}
    return m.RulesUpdate(doc, replace(default_rules(), version=version), NOW)


def test_newer_rules_go_in_force_older_and_bad_ones_change_nothing(kiosk_env):
    kiosk, store, hq = kiosk_env
    send(hq, chain_topic("rules"), rules_v(3), retain=True)
    assert kiosk.wait_until(lambda: store.ledger.rules.version == 3, 5)
    send(hq, store_topic("S1", "rules"), rules_v(2))
    bad = {**RULES_DOC, "version": 9, "topup": {**RULES_DOC["topup"], "min_fen": -1}}
    send(hq, store_topic("S1", "rules"), json.dumps({"type": "rules", "v": 1, "rules": bad, "at": "2026-01-01T00:00:00Z"}).encode())
    send(hq, store_topic("S2", "rules"), rules_v(8))  # another store's rules never reach this kiosk (ACL)
    assert kiosk.wait_until(lambda: rejected(kiosk) == 2, 5)
    settle(kiosk)
    assert store.ledger.rules.version == 3
    assert kiosk.counters.rejected == {"out_of_date": 1, "malformed": 1}
    assert kiosk.status().rejected == {"out_of_date": 1, "malformed": 1}
    assert "rules" in kiosk.status().last_error


def test_blocked_list_full_deltas_and_gap_asks_for_resync(kiosk_env, mosquitto):
    kiosk, store, hq = kiosk_env
    resyncs: queue.Queue = queue.Queue()
    watcher = mosquitto.client("hq")
    watcher.on_message = lambda c, u, msg: resyncs.put(m.decode(msg.payload, "resync"))
    watcher.subscribe(OWN.resync, qos=1)
    time.sleep(0.2)
    send(hq, chain_topic("blocked"), m.BlockedList(3, frozenset({"04AAAA01", "04AAAA02"}), NOW), retain=True)
    assert kiosk.wait_until(lambda: kiosk.blocked.version == 3, 5)
    send(hq, chain_topic("blocked_delta"), m.BlockedDelta(4, ("04AAAA03",), ("04AAAA01",), NOW))
    assert kiosk.wait_until(lambda: kiosk.blocked.version == 4, 5)
    assert kiosk.blocked.is_blocked("04aaaa03") and not kiosk.blocked.is_blocked("04AAAA01")
    send(hq, chain_topic("blocked_delta"), m.BlockedDelta(4, ("04AAAA09",), (), NOW))  # duplicate step
    send(hq, chain_topic("blocked_delta"), m.BlockedDelta(6, ("04AAAA06",), (), NOW))  # v5 missing: a gap
    assert kiosk.wait_until(lambda: not resyncs.empty(), 5)
    ask = resyncs.get_nowait()
    assert (ask.what, ask.have_version, ask.device) == ("blocked", 4, "D1")
    assert kiosk.blocked.version == 4 and not kiosk.blocked.is_blocked("04AAAA06")
    assert not kiosk.blocked.is_blocked("04AAAA09")
    # HQ answers on the device's own topic with the full list
    send(hq, OWN.topic("blocked"), m.BlockedList(6, frozenset({"04AAAA03", "04AAAA05", "04AAAA06"}), NOW))
    assert kiosk.wait_until(lambda: kiosk.blocked.version == 6, 5)
    assert kiosk.blocked.is_blocked("04AAAA05")
    assert store.meta_get("sync.blocked")["version"] == 6  # durable: a restart keeps it


def test_blocked_list_survives_restart(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    kiosk = start_kiosk(store, mosquitto)
    hq = mosquitto.client("hq")
    assert kiosk.wait_until(lambda: kiosk._subscribed.is_set(), 10)
    send(hq, chain_topic("blocked_delta"), m.BlockedDelta(1, ("04BBBB01",), (), NOW))
    assert kiosk.wait_until(lambda: kiosk.blocked.version == 1, 5)
    kiosk.stop()
    store.close()
    store = open_store(tmp_path / "kiosk")
    again = start_kiosk(store, mosquitto)
    try:
        assert again.blocked.version == 1 and again.blocked.is_blocked("04BBBB01")
    finally:
        again.stop()
        store.close()


def test_snapshot_replaces_state_once(kiosk_env):
    kiosk, store, hq = kiosk_env
    state = LedgerState()
    for txn in make_txns("D1", 10) + make_txns("D9", 3, first_uid=0x05000000):
        state.apply(txn)
    send(hq, OWN.topic("snapshot"), m.Snapshot(5, 10, state, NOW))
    assert kiosk.wait_until(lambda: "D9" in store.ledger.state.last_seq, 5)
    assert len(store.ledger.state.members) == 13
    send(hq, OWN.topic("snapshot"), m.Snapshot(4, 10, LedgerState(), NOW))  # older: ignored
    assert kiosk.wait_until(lambda: rejected(kiosk) == 1, 5)
    assert len(store.ledger.state.members) == 13 and kiosk.counters.rejected == {"out_of_date": 1}


def test_config_changes_sync_settings(kiosk_env):
    kiosk, store, hq = kiosk_env
    send(hq, OWN.topic("config"), m.ConfigUpdate(2, 30, 25, 7, NOW), retain=True)
    assert kiosk.wait_until(lambda: kiosk.settings_in_force().batch_size == 25, 5)
    assert kiosk.settings_in_force().ack_timeout_s == 7
    send(hq, OWN.topic("config"), m.ConfigUpdate(1, 300, 500, 60, NOW))
    assert kiosk.wait_until(lambda: rejected(kiosk) == 1, 5)
    assert kiosk.settings_in_force().batch_size == 25
    assert store.meta_get("sync.config")["version"] == 2


def test_payment_round_trip_and_bad_confirmations(kiosk_env, mosquitto):
    kiosk, store, hq = kiosk_env
    requests: queue.Queue = queue.Queue()
    bridge = mosquitto.client("hq")
    bridge.on_message = lambda c, u, msg: requests.put(m.decode(msg.payload, "payment_request"))
    bridge.subscribe("$share/pay/kiosk/v1/+/+/payment_request", qos=1)
    time.sleep(0.2)
    kiosk.payments.request("PAY-7", 5000)
    asked = requests.get(timeout=5)
    assert (asked.device, asked.payment_ref, asked.amount_fen) == ("D1", "PAY-7", 5000)
    pay = OWN.topic("payment")
    send(hq, pay, m.PaymentConfirmation("PAY-7", 4000, "paid", NOW))  # wrong amount
    send(hq, pay, m.PaymentConfirmation("PAY-8", 5000, "paid", NOW))  # nobody waits for it
    assert kiosk.wait_until(lambda: rejected(kiosk) == 2, 5)
    assert kiosk.payments.result("PAY-7") is None
    send(hq, pay, m.PaymentConfirmation("PAY-7", 5000, "paid", NOW, "WX-1"))
    done = kiosk.payments.wait("PAY-7", 5)
    assert done is not None and done.outcome == "paid" and done.detail == "WX-1"
    assert kiosk.counters.rejected == {"out_of_date": 2}


def test_payment_request_offline_is_refused(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    kiosk = start_kiosk(store, mosquitto)
    assert kiosk.wait_until(lambda: kiosk.connected, 10)
    mosquitto.kill()
    assert kiosk.wait_until(lambda: not kiosk.connected, 5)
    with pytest.raises(PaymentUnavailable):
        kiosk.payments.request("PAY-1", 100)
    kiosk.stop()
    store.close()


@pytest.mark.parametrize(
    "topic,payload,reason",
    [
        (OWN.ack, b"\x00\x01garbage", "not_json"),
        (OWN.ack, m.encode(m.Ack("D2", ((1, 10),), NOW)), "wrong_topic"),
        (OWN.ack, m.encode(rules_v(7)), "wrong_topic"),
        (OWN.ack, b'{"type":"ack","v":7,"device":"D1","ranges":[[1,10]],"at":"2026-01-01T00:00:00Z"}',
         "unsupported_version"),
        (OWN.topic("config"), b'{"type":"config","v":1,"pad":"' + b"x" * 5000 + b'"}', "oversized"),
        (chain_topic("blocked_delta"), b'{"type":"teleport","v":1}', "unknown_type"),
        (OWN.ack, b'{"type":"ack","v":1,"device":"D1","ranges":[[1,10]]}', "malformed"),
        (chain_topic("rules"), m.encode(rules_v(8)).replace(b'"Gold"', b'"Gold\\ud800"'), "not_json"),
        (OWN.topic("snapshot"), m.encode(m.Snapshot(1, 10, LedgerState(), NOW)).replace(b'"at"', b'"\\ud800"'),
         "not_json"),
    ],
)
def test_bad_messages_are_rejected_counted_and_change_nothing(kiosk_env, topic, payload, reason):
    kiosk, store, hq = kiosk_env
    before = ([t.txn_id for t in store.outbox()], store.ledger.rules.version, kiosk.blocked.version)
    send(hq, topic, payload)
    assert kiosk.wait_until(lambda: rejected(kiosk) == 1, 5)
    settle(kiosk)
    assert kiosk.counters.rejected == {reason: 1}
    assert ([t.txn_id for t in store.outbox()], store.ledger.rules.version, kiosk.blocked.version) == before
    assert kiosk.status().rejected == {reason: 1}


def test_a_flood_of_bad_messages_is_counted_but_not_all_logged(kiosk_env, caplog):
    kiosk, store, hq = kiosk_env
    caplog.set_level("WARNING", logger="kiosk.sync")
    for _ in range(60):
        hq.publish(OWN.ack, b"not json", qos=1)
    assert kiosk.wait_until(lambda: rejected(kiosk) == 60, 10)
    lines = [r for r in caplog.records if "rejected message" in r.getMessage()]
    assert len(lines) == 20
    assert kiosk.status().rejected == {"not_json": 60}


FUZZ_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def test_fuzzed_incoming_messages_change_nothing(mosquitto, tmp_path):
    """Random bytes and random JSON (with a real type name) on every topic a kiosk reads:
    each one is rejected and counted, nothing raises, nothing in the store changes."""
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 10))
    kiosk = SyncClient(store, settings_for(mosquitto, data_dir=store.data_dir))
    topics = OWN.kiosk_subscriptions()
    before = (state_to_dict(store.ledger.state), [t.txn_id for t in store.outbox()], store.ledger.rules.version)
    count = [0]

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
              deadline=None)
    @given(st.sampled_from(topics), st.one_of(
        st.binary(max_size=300),
        st.builds(lambda t, body: json.dumps({"type": t, "v": 1, **body}).encode(),
                  st.sampled_from(sorted(m.MAX_BYTES)), st.dictionaries(st.text(max_size=12), FUZZ_JSON, max_size=6)),
    ))
    def feed(topic, payload):
        decoded = kiosk._decode(topic, payload)
        if decoded is not None:
            kiosk._handle_one(topic, decoded)
        count[0] += 1

    try:
        feed()
        kiosk.poll()
        assert sum(kiosk.counters.rejected.values()) == count[0]
        after = (state_to_dict(store.ledger.state), [t.txn_id for t in store.outbox()], store.ledger.rules.version)
        assert after == before and kiosk.blocked.version == 0
    finally:
        store.close()
