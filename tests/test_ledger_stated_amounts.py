"""LedgerState.apply moves an account only as far as a transaction's kind says (issue 18, item 2).

Every transaction the ledger's own operations build agrees with itself; a forged one, one fen
off, is refused as a conflict: its seq is used up and nothing else changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.ledger.state import LedgerState, stated_amounts_problem
from kiosk.ledger.txn import Kind
from tests.fixtures.histories import generate_history, many_top_ups
from tests.test_ledger_boundaries import CARD, NOW, do, make


def test_every_transaction_the_ledger_builds_agrees_with_itself():
    history = generate_history(5, devices=3, steps=200)
    txns = [t for ts in history.by_device().values() for t in ts]
    assert {t.kind for t in txns} >= {Kind.SIGN_UP, Kind.TOP_UP, Kind.SPEND, Kind.REDEMPTION}
    assert [t.txn_id for t in txns if stated_amounts_problem(t)] == []


def _state_after(txns):
    state = LedgerState()
    for t in txns:
        state.apply(t)
    return state


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: replace(t, balance_after_fen=-5_000_000),  # the campaign's forged top-up
        lambda t: replace(t, balance_after_fen=t.balance_after_fen + 1),  # one fen too much
        lambda t: replace(t, balance_after_fen=t.balance_after_fen - 1),  # one fen too little
        lambda t: replace(t, amount_fen=0),  # a top-up of nothing that still moves money
        lambda t: replace(t, bonus_fen=t.bonus_fen + 1),
    ],
    ids=["forged", "fen-over", "fen-under", "no-amount", "bonus-over"],
)
def test_a_top_up_one_fen_off_is_refused_and_changes_nothing(forge):
    signup, top_up = many_top_ups("D1", 2, members=1)
    forged = forge(top_up)
    assert stated_amounts_problem(forged)
    before = _state_after([signup])
    state = _state_after([signup])
    result = state.apply(forged)
    assert result.refused and result.conflict.startswith("not applied: top_up")
    assert state.accounts == before.accounts
    assert state.last_seq["D1"] == forged.seq  # the device's next txn is not held up


def test_spend_gifts_return_and_silent_kinds_at_their_boundaries():
    history = generate_history(5, devices=1, steps=300)
    by_kind = {}
    for t in history.by_device()["K1"]:
        by_kind.setdefault(t.kind, t)
    spend = by_kind[Kind.SPEND]
    assert stated_amounts_problem(replace(spend, balance_after_fen=spend.balance_after_fen + 1))
    assert stated_amounts_problem(replace(spend, amount_fen=0, balance_after_fen=spend.balance_before_fen)) == (
        "spend of no amount"
    )
    redemption = by_kind[Kind.REDEMPTION]
    assert stated_amounts_problem(replace(redemption, balance_after_fen=redemption.balance_before_fen - 1))
    assert stated_amounts_problem(replace(redemption, points_after=redemption.points_before + 1))
    signup = by_kind[Kind.SIGN_UP]
    assert stated_amounts_problem(replace(signup, balance_after_fen=1))
    assert stated_amounts_problem(replace(signup, balance_before_fen=1, balance_after_fen=1))
    assert stated_amounts_problem(replace(signup, bonus_fen=1))
    top_up = by_kind[Kind.TOP_UP]
    assert stated_amounts_problem(replace(top_up, points_after=top_up.points_before - 1))
    ret = replace(top_up, kind=Kind.CARD_RETURN, bonus_fen=0, balance_before_fen=500, balance_after_fen=0,
                  points_before=10, points_after=0, amount_fen=500, points_expire_on=None)
    assert stated_amounts_problem(ret) == ""  # exactly the whole balance back
    assert stated_amounts_problem(replace(ret, amount_fen=501))
    assert stated_amounts_problem(replace(ret, balance_after_fen=1, amount_fen=499))
    gift = replace(top_up, kind=Kind.BIRTHDAY_GIFT, amount_fen=0, bonus_fen=300,
                   balance_after_fen=top_up.balance_before_fen + 300)
    assert stated_amounts_problem(gift) == ""
    assert stated_amounts_problem(replace(gift, balance_after_fen=gift.balance_after_fen + 1))
    adjustment = replace(top_up, kind=Kind.ADJUSTMENT, amount_fen=0, bonus_fen=0, balance_after_fen=-1)
    assert stated_amounts_problem(adjustment) == ""  # HQ's own corrections move freely


def test_money_kinds_at_one_fen_and_at_none():
    ledger = make()
    top_up = ledger.top_up(CARD, 1_000, "p1", NOW)
    at = {"balance_before_fen": 500, "points_before": 0, "points_after": 0, "bonus_fen": 0, "points_expire_on": None}
    for kind, sign in ((Kind.TOP_UP, 1), (Kind.SPEND, -1)):
        one_fen = replace(top_up, kind=kind, amount_fen=1, balance_after_fen=500 + sign, **at)
        assert stated_amounts_problem(one_fen) == ""
        nothing = replace(one_fen, amount_fen=0, balance_after_fen=500)
        assert stated_amounts_problem(nothing) == f"{kind} of no amount"


def test_a_return_refunds_at_most_the_balance_and_nothing_of_an_empty_or_owing_card():
    ledger = make()
    ret = replace(ledger.return_card(CARD, NOW), balance_before_fen=0, amount_fen=0)
    assert stated_amounts_problem(ret) == ""
    assert stated_amounts_problem(replace(ret, amount_fen=1)) == "card_return refunds 1 fen of a balance of 0"
    owing = replace(ret, balance_before_fen=-300, balance_after_fen=0)  # HQ's debt after two offline spends
    assert stated_amounts_problem(owing) == ""
    assert stated_amounts_problem(replace(owing, amount_fen=1)) == "card_return refunds 1 fen of a balance of -300"


def test_a_kind_that_gives_no_points_taking_some_is_named_with_how_many():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))
    top_up = ledger.top_up(CARD, 10_000, "p2", NOW)
    taking = replace(top_up, points_after=top_up.points_before - 5, points_expire_on=None)
    assert stated_amounts_problem(taking) == "top_up takes 5 points"
    blocked = replace(ledger.block_card(CARD, "lost", NOW), points_after=top_up.points_before + 7)
    assert stated_amounts_problem(blocked) == "card_blocked gives 7 points"
