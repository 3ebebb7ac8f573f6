"""A new PIN for a member who forgot theirs (kiosk/ledger/card_ops.py `change_pin`): the member
chooses it, the ledger keeps only its hash, the old PIN stops working and a lockout ends; a PIN
the rules refuse at sign-up is refused here too and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState, is_locked
from kiosk.ledger.txn import Kind, txn_to_dict

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
UID, OLD = "04A1B2C3", "482915"


def member_ledger() -> Ledger:
    ledger = Ledger(LedgerState(), default_rules(), "K1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(UID, 1, "13800000001", OLD, NOW, salt=b"s" * 16))
    return ledger


def test_the_new_pin_works_the_old_one_does_not_and_the_lock_ends():
    ledger = member_ledger()
    for _ in range(ledger.rules.pin.max_attempts):
        ok, txn = ledger.check_pin(UID, "000001", NOW)
        assert not ok
        ledger.apply(txn)
    member = ledger.state.members[ledger.state.cards[UID].member_id]
    assert is_locked(member, NOW)
    txn = ledger.change_pin(UID, "975318", NOW + timedelta(minutes=1))
    assert txn.kind is Kind.PIN_CHANGED and "975318" not in str(txn_to_dict(txn))  # only its hash travels
    assert (txn.balance_before_fen, txn.balance_after_fen, txn.points_before, txn.points_after) == (0, 0, 0, 0)
    ledger.apply(txn)
    member = ledger.state.members[member.member_id]
    assert not is_locked(member, NOW + timedelta(minutes=1)) and member.pin_failures == 0
    assert ledger.check_pin(UID, "975318", NOW + timedelta(minutes=2))[0]
    assert not ledger.check_pin(UID, OLD, NOW + timedelta(minutes=2))[0]


@pytest.mark.parametrize(("pin", "code"), [("12345", "bad_pin_format"), ("1234567", "bad_pin_format"),
                                           ("12a456", "bad_pin_format"), ("111111", "pin_too_simple")])
def test_a_pin_sign_up_would_refuse_is_refused_and_changes_nothing(pin, code):
    ledger = member_ledger()
    before = ledger.state.copy()
    with pytest.raises(Refused) as refused:
        ledger.change_pin(UID, pin, NOW)
    assert refused.value.code == code
    assert ledger.state.members == before.members


def test_a_blocked_card_gets_no_new_pin():
    ledger = member_ledger()
    ledger.apply(ledger.block_card(UID, "lost", NOW))
    with pytest.raises(Refused):
        ledger.change_pin(UID, "975318", NOW)


@settings(max_examples=30, deadline=None)
@given(pin=st.text("0123456789", min_size=6, max_size=6))
def test_any_accepted_pin_is_the_only_one_that_works_afterwards(pin):
    ledger = member_ledger()
    try:
        txn = ledger.change_pin(UID, pin, NOW)
    except Refused as refused:
        assert refused.code == "pin_too_simple"
        return
    ledger.apply(txn)
    assert ledger.check_pin(UID, pin, NOW)[0]
    assert ledger.check_pin(UID, OLD, NOW)[0] is (pin == OLD)
