"""Worked examples for the card lifecycle and staff operations (kiosk/ledger/card_ops.py) at the
edges mutation testing found: the reason's length limit, an adjustment that adds no points, and
when a PIN reset at the counter is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.ledger.operations import Refused
from tests.test_ledger_boundaries import CARD, NOW, do, make, refused

LONG = "挂失 " + "x" * 300


def test_a_block_unblock_or_adjustment_keeps_the_first_200_characters_of_its_reason():
    ledger = make()
    assert do(ledger, ledger.block_card(CARD, LONG, NOW)).reason == LONG[:200]
    assert do(ledger, ledger.unblock_card(CARD, LONG, NOW)).reason == LONG[:200]
    assert do(ledger, ledger.adjust(CARD, 100, 0, LONG, NOW)).reason == LONG[:200]


def test_an_adjustment_of_money_only_sets_no_points_expiry():
    ledger = make()
    assert do(ledger, ledger.adjust(CARD, 100, 0, "till rounding", NOW)).points_expire_on is None
    assert do(ledger, ledger.adjust(CARD, 0, 1, "apology", NOW)).points_expire_on is not None


def test_a_pin_reset_needs_a_failed_pin_and_takes_one_failure_without_a_lock():
    ledger = make()
    with pytest.raises(Refused) as err:
        ledger.reset_pin_lock(CARD, NOW)
    assert (err.value.code, err.value.detail) == ("pin_not_locked", "no failed PIN to reset")
    do(ledger, ledger.check_pin(CARD, "000001", NOW)[1])  # one failure, no lock yet
    txn = do(ledger, ledger.reset_pin_lock(CARD, NOW))
    assert ledger.state.members[txn.member_id].pin_failures == 0
    refused("pin_not_locked", ledger.reset_pin_lock, CARD, NOW + timedelta(seconds=1))
