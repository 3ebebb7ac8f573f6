"""The transaction codec: lossless for every Txn, and only TxnFormatError for hostile input."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger.codec import CodecError, state_from_dict
from kiosk.ledger.txn import Kind, Txn, TxnFormatError, txn_from_dict, txn_to_dict

uids = st.sampled_from(["04A1B2C3D4E5F6", "DEADBEEF", "04112233445566778899"])
times = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
amounts = st.integers(0, 10**8)


@st.composite
def txns(draw) -> Txn:
    device = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True))
    seq = draw(st.integers(1, 2**40))
    points_before, points_after = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
    return Txn(
        txn_id=f"{device}:{seq}",
        device_id=device,
        seq=seq,
        at=draw(times),
        kind=draw(st.sampled_from(Kind)),
        member_id=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,29}", fullmatch=True)),
        card_uid=draw(uids),
        balance_before_fen=draw(amounts),
        balance_after_fen=draw(amounts),
        points_before=points_before,
        points_after=points_after,
        amount_fen=draw(amounts),
        bonus_fen=draw(amounts),
        points_expire_on=draw(st.dates()) if points_after > points_before else draw(st.none() | st.dates()),
        payment_ref=draw(st.text(max_size=64)),
        reward_id=draw(st.just("") | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,19}", fullmatch=True)),
        quantity=draw(st.integers(0, 100)),
        name=draw(st.text(max_size=40)),
        birthday=draw(st.none() | st.dates()),
        pin_locked_until=draw(st.none() | times),
        card_counter=draw(st.integers(0, 0xFFFFFFFF)),
    )


@settings(max_examples=500, deadline=None)
@given(txns())
def test_round_trip_is_lossless(txn):
    assert txn_from_dict(json.loads(json.dumps(txn_to_dict(txn), ensure_ascii=False))) == txn


@settings(max_examples=500, deadline=None)
@given(txns(), st.data())
def test_mutated_records_raise_only_format_errors(txn, data):
    record = txn_to_dict(txn)
    key = data.draw(st.sampled_from(sorted(record) + ["extra"]))
    record[key] = data.draw(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=300),
            st.lists(st.integers()),
        )
    )
    try:
        decoded = txn_from_dict(record)
    except TxnFormatError as exc:
        assert exc.field
    else:
        assert txn_to_dict(decoded) == txn_to_dict(txn_from_dict(txn_to_dict(decoded)))


def test_random_json_values_raise_only_format_errors():
    rng = random.Random(7)
    base = txn_to_dict(
        Txn("k:1", "k", 1, datetime(2026, 1, 1, tzinfo=UTC), Kind.TOP_UP, "M-1", "DEADBEEF", 0, 100, 0, 0)
    )
    junk = [None, True, -1, 2**70, 1.5, "", "x" * 500, [], {}, "2026-13-01", "04a1b2c3d4e5f6", "k:2"]
    for _ in range(20_000):
        record = dict(base)
        for _ in range(rng.randint(1, 3)):
            record[rng.choice(sorted(base) + ["kind", "at", "seq"])] = rng.choice(junk)
        try:
            txn_from_dict(record)
        except TxnFormatError:
            pass
    for bad in (None, [], "txn", 5):
        try:
            txn_from_dict(bad)
        except TxnFormatError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_naive_or_non_utc_times_are_refused():
    base = txn_to_dict(
        Txn("k:1", "k", 1, datetime(2026, 1, 1, tzinfo=UTC), Kind.TOP_UP, "M-1", "DEADBEEF", 0, 100, 0, 0)
    )
    for at in ("2026-01-01T08:00:00", "2026-01-01T08:00:00+08:00"):
        try:
            txn_from_dict({**base, "at": at})
        except TxnFormatError as exc:
            assert exc.field == "at"
        else:
            raise AssertionError(at)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=8), c),
        max_leaves=20,
    )
)
def test_snapshot_decoder_raises_only_codec_errors(blob):
    for doc in (blob, {"members": blob, "cards": [], "accounts": [], "stock": {}, "last_seq": {}}):
        try:
            state_from_dict(doc)
        except CodecError:
            pass
