"""The receiver's fast read of `events` payloads (kiosk/hq/events_wire.py) gives exactly what the
strict decoder and encode_events give, or None, never a different answer: it never takes what the
strict decoder refuses, and every payload a kiosk writes takes it."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hq.events_wire import decode_events, txn_from_row
from kiosk.hq.ledger import encode_events
from kiosk.ledger.txn import Kind, Txn, txn_from_dict, txn_of, txn_to_dict
from kiosk.sync import messages as m
from tests.fixtures.histories import generate_history, many_top_ups
from tests.kind_helpers import every_kind_journal
from tests.test_txn_codec import txns as any_txn

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
TXNS = tuple(many_top_ups("D1", 60, members=5)[:3])
GOOD = m.encode(m.Events("D1", TXNS, AT))


def strict(payload: bytes) -> m.Events | None:
    try:
        return m.decode(payload, "events")
    except m.MessageError:
        return None


def assert_agree(payload: bytes, fast_expected: bool | None = None) -> None:
    """decode_events gives None or what the strict decoder gives (and the row texts encode_events
    gives); None whenever the strict decoder refuses."""
    fast, slow = decode_events(payload), strict(payload)
    if fast is not None:
        assert slow is not None, "taken fast, refused by the strict decoder"
        assert fast.events == slow
        assert fast.bodies == encode_events(slow.txns)
    if fast_expected is not None:
        assert (fast is not None) is fast_expected


def test_every_kind_is_read_fast_and_alike():
    _, txns = every_kind_journal()
    assert {t.kind for t in txns} == set(Kind)
    payload = m.encode(m.Events(txns[0].device_id, tuple(txns), AT))
    assert_agree(payload, fast_expected=True)
    for t in txns:
        body = encode_events([t])[(t.device_id, t.seq)]
        assert txn_from_row(body) == txn_from_dict(json.loads(body)) == t


def test_generated_histories_are_read_fast_and_alike():
    for seed in range(8):
        for device, txns in generate_history(seed, devices=3, members=5, steps=80).by_device().items():
            assert_agree(m.encode(m.Events(device, tuple(txns), AT)), fast_expected=True)


@settings(max_examples=300, deadline=None)
@given(any_txn())
def test_any_transaction_a_kiosk_writes_agrees(txn):
    """Random texts (any Unicode a kiosk may write), times, dates, amounts; the strict decoder may
    refuse the txn (check_txn), and then so does the fast read."""
    payload = m.encode(m.Events(txn.device_id, (txn,), AT))
    assert_agree(payload, fast_expected=strict(payload) is not None)


def _with(doc_change) -> bytes:
    doc = json.loads(GOOD)
    doc_change(doc)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _txn0(name: str, value: object):
    return lambda doc: doc["txns"][0].__setitem__(name, value)


REFUSED = {
    "duplicate key in a txn": GOOD.replace(b'"seq":1,', b'"seq":1,"seq":1,', 1),
    "duplicate key at the top": GOOD.replace(b'"device":"D1",', b'"device":"D1","device":"D1",', 1),
    "NUL in a text": _with(_txn0("payment_ref", "a\x00")),
    "lone surrogate": GOOD.replace(b'"rules_version"', b'"payment_ref":"\\ud800","rules_version"', 1),
    "time not in UTC": _with(_txn0("at", "2026-11-02T10:00:00+08:00")),
    "naive time": _with(_txn0("at", "2026-11-02T10:00:00")),
    "lock time not in UTC": _with(_txn0("pin_locked_until", "2026-11-02T10:00:00+08:00")),
    "naive voucher end": _with(_txn0("voucher_until", "2026-11-02T10:00:00")),
    "money as a float": _with(_txn0("amount_fen", 1.5)),
    "money as a whole float": _with(_txn0("amount_fen", 100.0)),
    "true as a number": _with(_txn0("quantity", True)),
    "amount out of range": _with(_txn0("amount_fen", -1)),
    "text too long": _with(_txn0("payment_ref", "x" * 201)),
    "unknown field in a txn": _with(_txn0("extra", 1)),
    "missing field": _with(lambda doc: doc["txns"][0].pop("member_id")),
    "null for a date": _with(_txn0("birthday", None)),
    "unknown kind": _with(_txn0("kind", "gift_of_money")),
    "another device's txn": _with(_txn0("device_id", "D2")),
    "seq gap": _with(lambda doc: doc["txns"][1].update(seq=7, txn_id="D1:7")),
    "no txns": _with(lambda doc: doc.__setitem__("txns", [])),
    "bad device id": _with(lambda doc: doc.__setitem__("device", "-D1")),
    "unknown version": _with(lambda doc: doc.__setitem__("v", 9)),
    "version as true": _with(lambda doc: doc.__setitem__("v", True)),
    "another type": _with(lambda doc: doc.__setitem__("type", "status")),
    "unknown field at the top": _with(lambda doc: doc.__setitem__("extra", 1)),
    "not UTF-8": GOOD.replace(b'"rules_version"', b'"payment_ref":"\xff","rules_version"', 1),
    "trailing bytes": GOOD + b"x",
    "NaN": GOOD.replace(b'"v":1', b'"v":NaN', 1),
}
TAKEN_SLOWLY = {  # well-formed but not as kiosks write it: the strict decoder takes it
    "spaces": json.dumps(json.loads(GOOD), ensure_ascii=False).encode(),
    "escaped non-ASCII": json.dumps(json.loads(GOOD), separators=(",", ":")).encode().replace(b'"D1"', b'"\\u0044\\u0031"', 1),
    "time with +00:00": _with(_txn0("at", "2026-11-02T02:00:00+00:00")),
    "a default written out": _with(_txn0("reason", "")),
    "keys in another order": _with(lambda doc: doc["txns"].__setitem__(0, dict(reversed(doc["txns"][0].items())))),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_strict_decoder_refuses_is_not_read_fast(case):
    assert strict(REFUSED[case]) is None, "the case must be one the strict decoder refuses"
    assert decode_events(REFUSED[case]) is None


@pytest.mark.parametrize("case", sorted(TAKEN_SLOWLY))
def test_other_spellings_go_to_the_strict_decoder(case):
    assert strict(TAKEN_SLOWLY[case]) is not None
    assert decode_events(TAKEN_SLOWLY[case]) is None


TOKENS = [b'"', b",", b":", b"{", b"}", b"[", b"]", b" ", b"\\", b"\\u0000", b"\\ud83d", b"0", b"-1", b"1.0", b"true",
          b"null", b'"seq":2', b'"at":"2026-11-02T02:00:00Z"', b"\xc3\xa9", b"\xff", b'"extra":1', b"e9"]


@settings(max_examples=600, deadline=None)
@given(st.integers(0, len(GOOD)), st.integers(0, 40), st.lists(st.sampled_from(TOKENS), max_size=4))
def test_an_edited_payload_is_read_alike_or_left_to_the_strict_decoder(at, cut, tokens):
    assert_agree(GOOD[:at] + b"".join(tokens) + GOOD[at + cut :])


def test_rows_not_in_hqs_own_form_are_read_by_the_strict_codec():
    t = TXNS[1]
    spaced = json.dumps(txn_to_dict(t))  # ", " and ": ", non-ASCII escaped
    plus = json.dumps(txn_to_dict(t) | {"at": "2026-11-02T02:00:07+00:00"})
    for body in (spaced, plus):
        assert txn_from_row(body) == txn_from_dict(json.loads(body))
    with pytest.raises(ValueError):
        txn_from_row(spaced.replace('"seq": 2', '"seq": 0'))


def test_txn_of_makes_what_the_dataclass_makes():
    t = TXNS[0]
    values = {f.name: getattr(t, f.name) for f in fields(Txn)}
    made = txn_of(dict(values))
    assert made == Txn(**values) and hash(made) == hash(t) and repr(made) == repr(t)
    assert not hasattr(Txn, "__post_init__") and not hasattr(Txn, "__slots__")
