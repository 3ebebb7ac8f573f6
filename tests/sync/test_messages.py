"""Message schemas: every type round-trips, every bad payload raises MessageError naming the
field, and no input — random bytes, random JSON, mutated valid messages — raises anything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, TopicError, chain_topic, hq_subscription, parse_topic, store_topic
from tests.sync.support import make_txns

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TXNS = make_txns("D1", 60)
RULES_DOC = json.loads((__import__("pathlib").Path("kiosk/data/rules.default.json")).read_text())


def _state() -> LedgerState:
    state = LedgerState()
    for txn in TXNS[:30]:
        state.apply(txn)
    return state


def samples() -> list[m.Message]:
    return [
        m.StoreNotes(7, (m.NoteLine("M-K1-1", 3, "2026-11-23T10:00:00Z", "s1", "青霉素过敏", ("过敏",)),), NOW),
        m.Events("D1", tuple(TXNS[5:25]), NOW),
        m.Status("D1", "S1", "online", "0.1.0", 12, NOW, "boom", "disk_nearly_full", {"malformed": 2}, 3, 7, NOW),
        m.Status("D1", "S1", "offline", "0.1.0", 0, NOW),
        m.Resync("D1", "blocked", 4, "gap", NOW),
        m.HqPaymentRequest("D1", "PAY-1", 5000, "qr", NOW),
        m.Ack("D1", ((1, 3), (7, 9)), NOW, expect_seq=4),
        m.Ack("D1", (), NOW, expect_seq=4),
        m.RulesUpdate(RULES_DOC, default_rules(), NOW),
        m.Snapshot(3, 30, _state(), NOW),
        m.BlockedList(5, frozenset({"04A1B2C3", "04A1B2C3D4E5F6"}), NOW),
        m.BlockedDelta(6, ("04A1B2C4",), ("04A1B2C3",), NOW),
        m.PaymentConfirmation("PAY-1", 5000, "paid", NOW, "WX 42"),
        m.ConfigUpdate(2, 30, 50, 5, NOW),
        m.Incidents(
            "D1",
            (
                m.Incident(0, NOW, "blocked_card_presented", "04A1B2C3", {"status": "blocked", "member_id": "M1"}),
                m.Incident(120, NOW, "payment_abandoned", "", {"received_fen": 300, "late": True, "ref": None}),
            ),
            250,
            NOW,
        ),
        m.IncidentsAck("D1", 250, NOW),
        m.SnapshotRequest("D1", 1765000000000001, 8, 8, NOW),
        m.SnapshotChunk(1765000000000001, 0, 3, 30, 12, _rows(), {"mug": 40}, NOW),
        m.AccountDelta("S1", 13, {"D1": 30, "D2": 0}, _rows(), NOW),
        m.DeltasUnavailable("S1", 3, 120, 9000, "pruned", NOW),
        m.MemberRequest("D1", "04A1B2C3", NOW),
        m.MemberAnswer("04A1B2C3", 30, _rows(), NOW),
    ]


def _rows() -> m.MemberRows:
    state = _state()
    return m.MemberRows(tuple(state.members.values())[:3], tuple(state.cards.values())[:3],
                        tuple(state.accounts.values())[:3])


@pytest.mark.parametrize("msg", samples(), ids=lambda x: x.TYPE)
def test_round_trip(msg):
    payload = m.encode(msg)
    back = m.decode(payload, msg.TYPE)
    if isinstance(msg, m.Snapshot):
        assert state_to_dict(back.state) == state_to_dict(msg.state)
        assert (back.snapshot_id, back.own_high_water, back.at) == (msg.snapshot_id, msg.own_high_water, msg.at)
    elif isinstance(msg, m.RulesUpdate):
        assert back.rules == msg.rules and back.doc == msg.doc
    else:
        assert back == msg
    assert m.decode(payload) == back or isinstance(msg, m.Snapshot | m.RulesUpdate)


@given(st.sets(st.integers(1, 5000), min_size=1, max_size=300))
def test_ack_ranges_cover_exactly_the_seqs(seqs):
    ack = m.Ack("D1", m.ranges_of(seqs), NOW)
    assert ack.seqs() == sorted(seqs)
    assert m.decode(m.encode(ack), "ack").seqs() == sorted(seqs)


@given(st.integers(0, 59), st.integers(1, 60))
def test_events_round_trip_any_slice(start, length):
    batch = tuple(TXNS[start : start + length])
    msg = m.Events("D1", batch, NOW)
    assert m.decode(m.encode(msg), "events") == msg


def _payload(**obj) -> bytes:
    return json.dumps(obj).encode()


ACK = {"type": "ack", "v": 1, "device": "D1", "ranges": [[1, 2]], "at": "2026-11-23T10:00:00Z"}


@pytest.mark.parametrize(
    "payload,expect,reason,field",
    [
        (b"\xff\xfe", "ack", m.NOT_JSON, "-"),
        (b"[1,2]", "ack", m.MALFORMED, "-"),
        (b'{"type":"ack","type":"ack"}', "ack", m.NOT_JSON, "-"),
        (b'{"type":"ack","v":NaN}', "ack", m.NOT_JSON, "-"),
        (b'{"type":"ack","v":1,"device":"D1\\ud800","ranges":[[1,2]],"at":"2026-11-23T10:00:00Z"}',
         "ack", m.NOT_JSON, "device"),  # a lone surrogate: valid JSON grammar, not well-formed text
        (b'{"type":"payment","v":1,"payment_ref":"P","amount_fen":5,"outcome":"paid",'
         b'"at":"2026-01-01T00:00:00Z","detail":["\\udc00"]}', "payment", m.NOT_JSON, "detail[0]"),
        (b'{"type":"payment","v":1,"payment_ref":"P\\u0000","amount_fen":5,"outcome":"paid",'
         b'"at":"2026-01-01T00:00:00Z","detail":""}', "payment", m.NOT_JSON, "payment_ref"),  # NUL: not storable
        (b"[" * 100_000 + b"]" * 100_000, "ack", m.OVERSIZED, "-"),
        (b"[" * 5000 + b"]" * 5000, None, m.NOT_JSON, "-"),
        (b" " * (65 * 1024), "ack", m.OVERSIZED, "-"),
        (_payload(**{**ACK, "type": "launch"}), None, m.UNKNOWN_TYPE, "type"),
        (_payload(**{**ACK, "type": "rules"}), "ack", m.WRONG_TOPIC, "type"),
        (_payload(**{**ACK, "v": 2}), "ack", m.UNSUPPORTED_VERSION, "v"),
        (_payload(**{**ACK, "v": True}), "ack", m.MALFORMED, "v"),
        (_payload(**{**ACK, "device": "D/1"}), "ack", m.MALFORMED, "device"),
        (_payload(**{**ACK, "ranges": [[3, 2]]}), "ack", m.MALFORMED, "ranges[0]"),
        (_payload(**{**ACK, "ranges": [[1, 5], [4, 6]]}), "ack", m.MALFORMED, "ranges[1]"),
        (_payload(**{**ACK, "ranges": [[1.0, 2]]}), "ack", m.MALFORMED, "ranges[0]"),
        (_payload(**{**ACK, "ranges": [[1, 600_000], [600_002, 1_300_000]]}), "ack", m.MALFORMED, "ranges"),
        (_payload(**{**ACK, "at": "2026-11-23T10:00:00+08:00"}), "ack", m.MALFORMED, "at"),
        (_payload(**{**ACK, "at": "2026-11-23T10:00:00"}), "ack", m.MALFORMED, "at"),
        (_payload(**{**ACK, "extra": 1}), "ack", m.MALFORMED, "extra"),
        (_payload(**{k: v for k, v in ACK.items() if k != "at"}), "ack", m.MALFORMED, "at"),
        (_payload(type="blocked_delta", v=1, version=2, block=["04a1b2c3"], unblock=[], at="2026-01-01T00:00:00Z"),
         "blocked_delta", m.MALFORMED, "block[0]"),
        (_payload(type="blocked_delta", v=1, version=2, block=["04A1B2C3"], unblock=["04A1B2C3"],
                  at="2026-01-01T00:00:00Z"), "blocked_delta", m.MALFORMED, "unblock"),
        (_payload(type="config", v=1, version=1, heartbeat_s=1, batch_size=10, ack_timeout_s=5,
                  at="2026-01-01T00:00:00Z"), "config", m.MALFORMED, "heartbeat_s"),
        (_payload(type="payment", v=1, payment_ref="P", amount_fen=-5, outcome="paid", at="2026-01-01T00:00:00Z",
                  detail=""), "payment", m.MALFORMED, "amount_fen"),
        (_payload(type="rules", v=1, rules={**RULES_DOC, "version": 0}, at="2026-01-01T00:00:00Z"),
         "rules", m.MALFORMED, "rules.version"),
        (_payload(type="snapshot", v=1, snapshot_id=1, own_high_water=0, state={"members": []},
                  at="2026-01-01T00:00:00Z"), "snapshot", m.MALFORMED, "state.cards"),
    ],
)
def test_bad_payloads_name_the_field_and_reason(payload, expect, reason, field):
    with pytest.raises(m.MessageError) as err:
        m.decode(payload, expect)
    assert err.value.reason == reason
    assert err.value.field == field


def _events_dict(txns) -> dict:
    return m.to_dict(m.Events("D1", tuple(txns), NOW))


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d["txns"][2].update(seq=99, txn_id="D1:99"), "txns[2].seq"),
        (lambda d: d["txns"][1].update(device_id="D2", txn_id="D2:" + str(d["txns"][1]["seq"])), "txns[1].device_id"),
        (lambda d: d["txns"][0].update(balance_after_fen=1.5), "txns[0].balance_after_fen"),
        (lambda d: d["txns"][3].pop("kind"), "txns[3].kind"),
        (lambda d: d.update(txns=[]), "txns"),
        (lambda d: d.update(txns=d["txns"] * 400), "txns"),
    ],
)
def test_bad_events_name_the_transaction_field(mutate, field):
    data = _events_dict(TXNS[10:20])
    mutate(data)
    with pytest.raises(m.MessageError) as err:
        m.decode(json.dumps(data).encode(), "events")
    assert err.value.field == field


# ---------------------------------------------------------------- fuzzing

@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from([None, *m.MAX_BYTES]))
def test_random_bytes_never_crash(payload, expect):
    try:
        m.decode(payload, expect)
    except m.MessageError as exc:
        assert exc.reason in m.REASONS


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(m.MAX_BYTES)), st.dictionaries(st.text(max_size=15), JSON, max_size=8))
def test_random_json_objects_never_crash(msg_type, body):
    payload = json.dumps({"type": msg_type, "v": 1, **body}).encode()
    try:
        m.decode(payload, msg_type)
    except m.MessageError as exc:
        assert exc.reason in m.REASONS


def _paths(obj, prefix=()):
    """Every (path) into a JSON value, to mutate one place."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield from _paths(v, (*prefix, i))


SAMPLE_DICTS = [m.to_dict(x) for x in samples() if not isinstance(x, m.Snapshot | m.RulesUpdate)]
SAMPLE_DICTS.append(m.to_dict(m.Snapshot(3, 30, _state(), NOW)))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_mutated_valid_messages_decode_or_raise_message_error(data):
    base = json.loads(json.dumps(data.draw(st.sampled_from(SAMPLE_DICTS))))
    paths = [p for p in _paths(base) if p]
    path = data.draw(st.sampled_from(paths))
    parent = base
    for key in path[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["delete", "replace", "add"]))
    if action == "delete":
        del parent[path[-1]]
    elif action == "replace":
        parent[path[-1]] = data.draw(JSON)
    elif isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=8))] = data.draw(JSON)
    else:
        parent.append(data.draw(JSON))
    try:
        msg = m.decode(json.dumps(base).encode(), base.get("type") if isinstance(base.get("type"), str) else None)
    except m.MessageError as exc:
        assert exc.reason in m.REASONS and exc.field
        return
    assert m.decode(m.encode(msg), msg.TYPE).TYPE == msg.TYPE  # whatever was accepted re-encodes cleanly


# ---------------------------------------------------------------- topics

def test_topic_layout_and_parsing():
    t = DeviceTopics("S1", "D1")
    assert t.events == "kiosk/v1/S1/D1/events"
    assert parse_topic(t.events).up and parse_topic(t.events).message_type == "events"
    assert parse_topic(t.ack).device == "D1" and not parse_topic(t.ack).up
    assert parse_topic(chain_topic("blocked_delta")).scope == "chain"
    assert parse_topic(store_topic("S1", "rules")).store == "S1"
    assert hq_subscription("events") == "$share/hq/kiosk/v1/+/+/events"
    assert set(t.kiosk_subscriptions()) >= {t.ack, "kiosk/v1/_chain/blocked", "kiosk/v1/S1/_store/rules"}
    for bad in ["kiosk/v2/S1/D1/events", "kiosk/v1/S1/D1/launch", "kiosk/v1/_chain/events", "kiosk/v1/S1/_x/ack",
                "kiosk/v1/S 1/D1/events", "kiosk/v1/S1/D1/events/extra", "x" * 400]:
        with pytest.raises(TopicError):
            parse_topic(bad)
    with pytest.raises(TopicError):
        DeviceTopics("S1", "_store")


@given(st.text(max_size=80))
def test_parse_topic_never_crashes(topic):
    try:
        parse_topic(topic)
    except TopicError:
        pass


def test_times_are_utc():
    msg = m.Resync("D1", "rules", 1, "x", NOW + timedelta(hours=1))
    assert b'"at":"2026-11-23T11:00:00Z"' in m.encode(msg)
