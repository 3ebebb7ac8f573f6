"""Codecs round-trip, every card we cannot use is refused with a typed error, and clones and
replays are refused with a reason."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.reader.base import CardInfo, CardType
from kiosk.reader.card_format import (
    KIND_CLASSIC,
    CardBlank,
    CardFormatError,
    CardMacError,
    CardNotRecognised,
    CardVersionError,
    MemberCard,
    PurseHint,
    Refusal,
    encode_identity,
    encode_slot,
    judge,
    parse_classic_image,
)
from tests.card_helpers import SITE

UID = bytes.fromhex("A1B2C3D4")
KEYS = SITE.for_card(UID)

member_ids = st.text(min_size=1, max_size=31).filter(lambda s: 1 <= len(s.encode()) <= 31)
purses = st.builds(
    PurseHint,
    balance_fen=st.integers(-(2**31), 2**31 - 1),
    points=st.integers(0, 2**32 - 1),
    counter=st.integers(0, 2**32 - 1),
    last_device=st.integers(0, 2**32 - 1),
)
dates = st.dates(date(2000, 1, 1), date(2179, 1, 1))


@given(member_ids, st.integers(0, 65535), dates, purses, purses)
def test_classic_image_round_trip(member_id, seq, issued, p0, p1):
    ident = encode_identity(KEYS, KIND_CLASSIC, member_id, seq, issued)
    image = ident + encode_slot(KEYS, ident[:40], p0) + encode_slot(KEYS, ident[:40], p1)
    card = parse_classic_image(UID, [KEYS], image)
    newest = p1 if p1.counter > p0.counter else p0
    assert card == MemberCard(member_id, seq, issued, newest, UID)


@given(member_ids, purses)
def test_other_uid_or_key_fails_the_mac(member_id, purse):
    ident = encode_identity(KEYS, KIND_CLASSIC, member_id, 1, date(2026, 1, 1))
    image = ident + encode_slot(KEYS, ident[:40], purse) * 2
    other = bytes.fromhex("A1B2C3D5")
    with pytest.raises(CardMacError):
        parse_classic_image(other, [SITE.for_card(other)], image)
    with pytest.raises(CardMacError):
        parse_classic_image(UID, [SITE.for_card(other)], image)


def test_slot_from_another_identity_does_not_check():
    a = encode_identity(KEYS, KIND_CLASSIC, "alice", 1, date(2026, 1, 1))
    b = encode_identity(KEYS, KIND_CLASSIC, "bob", 1, date(2026, 1, 1))
    rich = encode_slot(KEYS, b[:40], PurseHint(10**6, 0, 9, 0))
    mine = encode_slot(KEYS, a[:40], PurseHint(5, 0, 1, 0))
    card = parse_classic_image(UID, [KEYS], a + mine + rich)
    assert card.purse.balance_fen == 5


def test_version_and_size_errors_are_typed():
    ident = bytearray(encode_identity(KEYS, KIND_CLASSIC, "m", 1, date(2026, 1, 1)))
    ident[2] = 9
    with pytest.raises(CardVersionError):
        parse_classic_image(UID, [KEYS], bytes(ident) + bytes(64))
    with pytest.raises(CardNotRecognised):
        parse_classic_image(UID, [KEYS], bytes(112))
    with pytest.raises(CardNotRecognised):
        parse_classic_image(UID, [KEYS], b"short")


def test_encode_refuses_what_the_card_cannot_hold():
    with pytest.raises(ValueError):
        encode_identity(KEYS, KIND_CLASSIC, "x" * 32, 1, date(2026, 1, 1))
    with pytest.raises(ValueError):
        encode_identity(KEYS, KIND_CLASSIC, "m", 70000, date(2026, 1, 1))
    with pytest.raises(ValueError):
        encode_identity(KEYS, KIND_CLASSIC, "m", 1, date(1999, 12, 31))
    with pytest.raises(ValueError):
        encode_slot(KEYS, bytes(40), PurseHint(2**31, 0, 0, 0))


CARD = MemberCard("M-1", 3, date(2026, 1, 1), PurseHint(100, 5, 40, 1), UID)
NO_COUNTER = MemberCard("M-1", 3, date(2026, 1, 1), None, UID)  # an NTAG issued before tap counters


@pytest.mark.parametrize(
    ("read", "kwargs", "reason"),
    [
        (CARD, {"last_counter": 40, "current_card_seq": 3, "member_id": "M-1"}, None),
        (CARD, {"last_counter": 39}, None),
        (CARD, {"last_counter": 41}, Refusal.COUNTER_ROLLBACK),
        (CARD, {"current_card_seq": 4}, Refusal.OLD_CARD),
        (CARD, {"member_id": "M-2"}, Refusal.MEMBER_MISMATCH),
        (NO_COUNTER, {"last_counter": 0}, None),
        (NO_COUNTER, {"last_counter": 7}, Refusal.COUNTER_ROLLBACK),  # a copy hiding its counter
        (CardMacError("x"), {}, Refusal.MAC_FAILED),
        (CardVersionError("x"), {}, Refusal.UNSUPPORTED_VERSION),
        (CardNotRecognised("x"), {}, Refusal.NOT_RECOGNISED),
        (CardBlank("x"), {}, Refusal.NOT_RECOGNISED),
    ],
)
def test_judge_refuses_clones_and_replays_with_a_reason(read, kwargs, reason):
    verdict = judge(read, **kwargs)
    assert verdict.accepted is (reason is None)
    assert verdict.reason == reason
    assert verdict.report_to_hq is (
        reason
        in (Refusal.MAC_FAILED, Refusal.COUNTER_ROLLBACK, Refusal.OLD_CARD, Refusal.MEMBER_MISMATCH)
    )


def test_issue_date_epoch_limits_round_trip():
    for d in (date(2000, 1, 1), date(2000, 1, 1) + timedelta(days=65535)):
        ident = encode_identity(KEYS, KIND_CLASSIC, "m", 1, d)
        image = ident + encode_slot(KEYS, ident[:40], PurseHint(0, 0, 0, 0)) * 2
        assert parse_classic_image(UID, [KEYS], image).issued_on == d


def test_card_format_error_is_the_only_base():
    for cls in (CardNotRecognised, CardBlank, CardMacError, CardVersionError):
        assert issubclass(cls, CardFormatError)
    assert CardInfo(UID, CardType.UNKNOWN)


def test_identity_with_a_spoilt_mac_is_proven_by_a_valid_slot_only():
    ident = encode_identity(KEYS, KIND_CLASSIC, "m", 1, date(2026, 1, 1))
    slot = encode_slot(KEYS, ident[:40], PurseHint(7, 0, 3, 0))
    torn = ident[:44] + bytes(4)
    assert parse_classic_image(UID, [KEYS], torn + slot + slot).purse.balance_fen == 7
    with pytest.raises(CardMacError):
        parse_classic_image(UID, [KEYS], torn + bytes(64))
    forged = bytearray(torn)
    forged[9] ^= 1  # another member id: no slot covers it
    with pytest.raises(CardMacError):
        parse_classic_image(UID, [KEYS], bytes(forged) + slot + slot)
