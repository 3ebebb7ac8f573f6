"""Card fees, their waivers, 换卡 and sales rewards: worked examples at every boundary (exactly the
threshold, one fen under, the first and last day of a free-card campaign, zero) and properties
(a fee is never stored value; a waiver only when its condition holds; a reward once per sale)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tests.test_ledger_properties as props
from kiosk.ledger.fees import CAMPAIGN, WAIVED_BY_TOPUP, FeeSplit
from kiosk.ledger.kinds import FEE_EXCHANGE, FEE_REPLACEMENT
from kiosk.ledger.model import CardStatus
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.refusal import Refused
from kiosk.ledger.rules import RulesError, parse_rules
from kiosk.ledger.sales_rules import FeeRules, FreeCardCampaign, RewardStep, StaffRewardRules
from kiosk.ledger.sample import default_rules
from kiosk.ledger.txn import Kind
from tests.test_ledger_boundaries import (
    CARD,
    NOW,
    OTHER,
    PIN,
    SECOND,
    account,
    do,
    local_midnight,
    make,
    refused,
)
from tests.test_ledger_properties import SETTINGS, ops_strategy, run

FEES = FeeRules(3800, 50_000, (), replacement_fee_fen=1000, exchange_fee_fen=500)
REWARDS = StaffRewardRules(800, (RewardStep(50_000, 800), RewardStep(100_000, 2000)))
FEW = settings(SETTINGS, max_examples=150 if os.environ.get("KIOSK_FULL") else 20)  # two runs each: kept quick
RULES = replace(default_rules(), fees=FEES, staff_rewards=REWARDS)
OPENING = FreeCardCampaign("soft-opening", date(2026, 11, 20), date(2026, 11, 23))  # NOW is its last day


def test_sign_up_owes_the_card_fee_and_the_seller_gets_the_card_reward():
    ledger = make(RULES)
    assert account(ledger).card_fee_due_fen == 3800
    blank = make(RULES)
    txn = blank.sign_up(OTHER, 1, "13900139000", PIN, NOW, staff_id="S-7")
    assert (txn.amount_fen, txn.waiver, txn.staff_id, txn.staff_reward_fen) == (3800, "", "S-7", 800)
    assert (txn.balance_after_fen, txn.points_after) == (0, 0)
    assert blank.sign_up(OTHER, 1, "13900139000", PIN, NOW).staff_reward_fen == 0  # nobody credited


def test_no_fee_rules_owe_nothing():
    ledger = make()
    assert account(ledger).card_fee_due_fen == 0
    refused("no_fee_due", ledger.settle_card_fee, CARD, 3800, "p", NOW)


@pytest.mark.parametrize(
    ("paid", "fee", "waiver", "topup"),
    [
        (50_000, 0, WAIVED_BY_TOPUP, 50_000),  # exactly the threshold: waived, all of it is stored value
        (49_999, 3800, "", 46_199),  # one fen under: the fee is paid out of it
        (50_001, 0, WAIVED_BY_TOPUP, 50_001),
        (3800, 3800, "", 0),  # the fee alone
    ],
)
def test_the_first_payment_settles_or_waives_the_fee(paid, fee, waiver, topup):
    ledger = make(RULES)
    txn, rest = ledger.settle_card_fee(CARD, paid, "cash-1", NOW)
    assert (txn.kind, txn.amount_fen, txn.waiver, rest) == (Kind.CARD_FEE, fee, waiver, topup)
    assert (txn.balance_before_fen, txn.balance_after_fen) == (0, 0)
    do(ledger, txn)
    assert account(ledger).card_fee_due_fen == 0
    refused("no_fee_due", ledger.settle_card_fee, CARD, paid, "cash-2", NOW)  # settled once


def test_a_payment_one_fen_under_the_fee_is_refused():
    ledger = make(RULES)
    refused("fee_not_covered", ledger.settle_card_fee, CARD, 3799, "p", NOW)
    assert account(ledger).card_fee_due_fen == 3800


def test_the_fee_not_covered_names_the_fee_due():
    with pytest.raises(Refused) as err:
        make(RULES).settle_card_fee(CARD, 3799, "p", NOW)
    assert err.value.detail == "3800 fen"


def test_a_payment_with_no_fee_due_is_all_top_up():
    ledger = make()
    assert ledger.fee_split(account(ledger), 12_345) == FeeSplit(0, "", 12_345)
    assert ledger.fee_split(account(ledger), 0) == FeeSplit(0, "", 0)


def test_a_fee_carries_its_payment_and_its_seller():
    ledger = make(RULES)
    settled, _ = ledger.settle_card_fee(CARD, 3800, "cash-1", NOW, staff_id="S-7")
    counter = ledger.counter_fee(CARD, FEE_EXCHANGE, "counter-1", NOW, staff_id="S-8")
    assert (settled.payment_ref, settled.staff_id, counter.payment_ref, counter.staff_id) == (
        "cash-1", "S-7", "counter-1", "S-8"
    )
    unsold, _ = ledger.settle_card_fee(CARD, 3800, "cash-2", NOW)
    assert (unsold.staff_id, ledger.counter_fee(CARD, FEE_REPLACEMENT, "c", NOW).staff_id) == ("", "")


def test_a_counter_fee_for_another_purpose_is_a_programming_error_naming_it():
    with pytest.raises(ValueError, match="no counter fee for 'sign_up'"):
        make(RULES).counter_fee(CARD, "sign_up", "counter", NOW)


def test_no_waiver_without_a_threshold():
    ledger = make(replace(RULES, fees=replace(FEES, waiver_topup_fen=0)))
    txn, rest = ledger.settle_card_fee(CARD, 500_000, "p", NOW)
    assert (txn.amount_fen, txn.waiver, rest) == (3800, "", 496_200)


@pytest.mark.parametrize(
    ("at", "free"),
    [
        (local_midnight(date(2026, 11, 20)), True),  # the campaign's first day, first instant
        (local_midnight(date(2026, 11, 20)) - SECOND, False),
        (local_midnight(date(2026, 11, 24)) - SECOND, True),  # last day
        (local_midnight(date(2026, 11, 24)), False),  # the day after
    ],
)
def test_a_free_card_campaign_covers_its_first_and_last_local_day(at, free):
    ledger = make(replace(RULES, fees=replace(FEES, free_card_campaigns=(OPENING,))))
    txn = ledger.sign_up(OTHER, 1, "13900139000", PIN, at)
    assert (txn.amount_fen, txn.waiver) == ((0, CAMPAIGN + "soft-opening") if free else (3800, ""))


@pytest.mark.parametrize(("amount", "reward"), [(49_999, 0), (50_000, 800), (99_999, 800), (100_000, 2000)])
def test_top_up_reward_steps(amount, reward):
    ledger = make(RULES)
    txn = ledger.top_up(CARD, amount, "p", NOW, staff_id="S-7")
    assert (txn.staff_id, txn.staff_reward_fen) == ("S-7", reward)
    assert ledger.top_up(CARD, amount, "p", NOW).staff_reward_fen == 0


def test_counter_fees_and_the_exchange():
    ledger = make(RULES)
    do(ledger, ledger.top_up(CARD, 10_000, "p", NOW))
    exchange = do(ledger, ledger.exchange_card(CARD, OTHER, NOW))
    assert (exchange.kind, exchange.new_card_uid, exchange.card_seq) == (Kind.CARD_EXCHANGE, OTHER, 2)
    assert ledger.state.cards[CARD].status is CardStatus.REPLACED
    assert ledger.lookup(OTHER)[2].balance_fen == 10_000  # no waiting period: the new card works at once
    fee = do(ledger, ledger.counter_fee(OTHER, FEE_EXCHANGE, "counter", NOW))
    assert (fee.amount_fen, fee.reason, fee.balance_delta_fen) == (500, "exchange", 0)
    assert ledger.counter_fee(OTHER, FEE_REPLACEMENT, "counter", NOW).amount_fen == 1000
    assert make().counter_fee(CARD, FEE_EXCHANGE, "counter", NOW) is None  # no fee in the rules: none
    refused("card_replaced", ledger.exchange_card, CARD, "04000000000099", NOW)


def test_a_return_after_fees_refunds_only_the_stored_value():
    ledger = make(RULES)
    fee, rest = ledger.settle_card_fee(CARD, 13_800, "p", NOW)
    do(ledger, fee)
    do(ledger, ledger.top_up(CARD, rest, "p", NOW))
    do(ledger, ledger.exchange_card(CARD, OTHER, NOW))
    do(ledger, ledger.counter_fee(OTHER, FEE_EXCHANGE, "counter", NOW))
    assert ledger.return_card(OTHER, NOW).amount_fen == 10_000  # not 13,800 nor 14,300


def test_fee_rules_are_checked_naming_the_field():
    doc = {**_document(), "fees": {"card_fee_fen": 3800, "free_card_campaigns": [
        {"id": "x", "first_day": "2026-12-31", "last_day": "2026-12-01"}]}}
    with pytest.raises(RulesError, match=r"fees.free_card_campaigns\[0\].last_day"):
        parse_rules(doc)
    with pytest.raises(RulesError, match="fees.card_fe"):
        parse_rules({**_document(), "fees": {"card_fe": 3800}})
    with pytest.raises(RulesError, match=r"staff_rewards.topup_steps\[0\].min_fen"):
        parse_rules({**_document(), "staff_rewards": {"topup_steps": [{"min_fen": 0, "reward_fen": 1}]}})
    rules = parse_rules({**_document(), "fees": {"card_fee_fen": 3800, "waiver_topup_fen": 50000},
                         "staff_rewards": {"per_card_fen": 800}})
    assert (rules.fees.card_fee_fen, rules.fees.waiver_topup_fen, rules.staff_rewards.per_card_fen) == (3800, 50000, 800)


def test_fee_rules_at_their_limits_are_read_whole():
    doc = {**_document(), "fees": {
        "card_fee_fen": 100_000, "waiver_topup_fen": 50_000, "replacement_fee_fen": 100_000, "exchange_fee_fen": 99_999,
        "free_card_campaigns": [{"id": "a", "first_day": "2026-12-01", "last_day": "2026-12-01"},
                                {"id": "b", "first_day": "2026-12-02", "last_day": "2026-12-31"}]},
        "staff_rewards": {"per_card_fen": 100_000, "topup_steps": [
            {"min_fen": 100_000, "reward_fen": 100_000}, {"min_fen": 1, "reward_fen": 0}]}}
    rules = parse_rules(doc)
    assert rules.fees == FeeRules(100_000, 50_000, (
        FreeCardCampaign("a", date(2026, 12, 1), date(2026, 12, 1)),  # one day: last_day == first_day
        FreeCardCampaign("b", date(2026, 12, 2), date(2026, 12, 31)),
    ), replacement_fee_fen=100_000, exchange_fee_fen=99_999)
    assert rules.staff_rewards == StaffRewardRules(100_000, (RewardStep(1, 0), RewardStep(100_000, 100_000)))  # sorted
    empty = parse_rules({**_document(), "fees": {}, "staff_rewards": {}})
    assert (empty.fees, empty.staff_rewards) == (FeeRules(), StaffRewardRules())  # every amount 0, nothing listed


_CAMPAIGN = {"id": "a", "first_day": "2026-12-01", "last_day": "2026-12-31"}


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ({"fees": {"card_fee_fen": 100_001}}, "fees.card_fee_fen: must be between 0 and 100000, got 100001"),
        ({"fees": {"replacement_fee_fen": 100_001}}, "fees.replacement_fee_fen: must be between 0 and 100000, got 100001"),
        ({"fees": {"exchange_fee_fen": 100_001}}, "fees.exchange_fee_fen: must be between 0 and 100000, got 100001"),
        ({"fees": {"waiver_topup_fen": -1}}, "fees.waiver_topup_fen: must be between 0 and 100000000, got -1"),
        ({"fees": {"free_card_campaigns": [{**_CAMPAIGN, "id": "a b"}]}}, "fees.free_card_campaigns[0].id: must be 1-64"),
        ({"fees": {"free_card_campaigns": [{**_CAMPAIGN, "first_day": "2026-1-01"}]}},
         "fees.free_card_campaigns[0].first_day: must be a date YYYY-MM-DD, got '2026-1-01'"),
        ({"fees": {"free_card_campaigns": [{**_CAMPAIGN, "first_day": 20261201}]}},
         "fees.free_card_campaigns[0].first_day: must be a date YYYY-MM-DD, got '20261201'"),
        ({"fees": {"free_card_campaigns": [{**_CAMPAIGN, "last_day": "2026-12-" + "9" * 50}]}},
         "fees.free_card_campaigns[0].last_day: must be a date YYYY-MM-DD, got '2026-12-" + "9" * 32 + "'"),
        ({"fees": {"free_card_campaigns": [{**_CAMPAIGN, "last_day": "2026-11-30"}]}},
         "fees.free_card_campaigns[0].last_day: must be on or after first_day"),
        ({"fees": {"free_card_campaigns": [_CAMPAIGN, _CAMPAIGN]}}, "fees.free_card_campaigns: campaign ids must be unique"),
        ({"fees": [3800]}, "fees: must be an object"),
        ({"staff_rewards": "800"}, "staff_rewards: must be an object"),
        ({"fees": {"free_card_campaigns": {"id": "a"}}}, "fees.free_card_campaigns: must be a list"),
        ({"fees": {"free_card_campaigns": [_CAMPAIGN, "b"]}}, "fees.free_card_campaigns[1]: must be an object"),
        ({"staff_rewards": {"topup_steps": [{"min_fen": 5, "reward": 1}]}},
         "staff_rewards.topup_steps[0].reward: unknown field"),
        ({"staff_rewards": {"per_card_fen": 100_001}}, "staff_rewards.per_card_fen: must be between 0 and 100000, got 100001"),
        ({"staff_rewards": {"topup_steps": [{"min_fen": 1, "reward_fen": 100_001}]}},
         "staff_rewards.topup_steps[0].reward_fen: must be between 0 and 100000, got 100001"),
        ({"staff_rewards": {"topup_steps": [{"min_fen": 5, "reward_fen": 1}, {"min_fen": 5, "reward_fen": 2}]}},
         "staff_rewards.topup_steps: two steps have the same min_fen"),
    ],
)
def test_a_bad_fee_or_reward_rule_names_its_path_and_the_fix(section, error):
    with pytest.raises(RulesError) as bad:
        parse_rules({**_document(), **section}, "rules.json")
    assert str(bad.value).startswith("rules.json: " + error)


def _document() -> dict:
    return json.loads(files("kiosk.data").joinpath("rules.default.json").read_bytes())


# -- properties ------------------------------------------------------------------------------


def _money(ledger, journal):
    """Balances by the card each member signed up with (member ids follow the journal's seq)."""
    first_card = {t.member_id: t.card_uid for t in journal if t.kind is Kind.SIGN_UP}
    balances = {first_card[m]: a.balance_fen for m, a in ledger.state.accounts.items()}
    refunds = sorted(t.amount_fen for t in journal if t.kind is Kind.CARD_RETURN)
    return balances, refunds


@FEW
@given(ops_strategy)
def test_a_fee_is_never_stored_value(ops):
    """The same operations with every fee set to zero leave the same balances and refunds: no
    sequence turns a fee into balance, and a return never gives one back."""
    with_fees = run(ops)
    free = replace(props.RULES, fees=FeeRules())
    saved, props.RULES = props.RULES, free
    try:
        without = run(ops)
    finally:
        props.RULES = saved
    assert _money(with_fees[0], with_fees[1]) == _money(without[0], without[1])
    for t in with_fees[1]:
        if t.kind is Kind.CARD_FEE:
            assert t.balance_delta_fen == 0 and t.points_delta == 0


@FEW
@given(ops_strategy)
def test_a_waiver_only_when_its_condition_holds_and_a_reward_once_per_sale(ops):
    ledger, journal, _, _ = run(ops)
    rules = ledger.rules
    for t in journal:
        if t.kind is Kind.CARD_FEE and t.waiver == WAIVED_BY_TOPUP:
            assert t.amount_fen == 0
        if t.kind is Kind.CARD_FEE and t.reason == "sign_up" and not t.waiver:
            assert t.amount_fen == rules.fees.card_fee_fen
        if t.kind is Kind.SIGN_UP:
            assert t.staff_reward_fen == (rules.staff_rewards.per_card_fen if t.staff_id else 0)
        if t.kind is Kind.TOP_UP:
            assert t.staff_reward_fen == (rules.staff_rewards.for_topup(t.amount_fen) if t.staff_id else 0)
        if t.staff_reward_fen:
            assert t.kind in (Kind.SIGN_UP, Kind.TOP_UP)
    settled = [t.member_id for t in journal if t.kind is Kind.CARD_FEE and t.reason == "sign_up"]
    assert len(settled) == len(set(settled))  # a sign-up fee is settled (or waived) once


@given(st.integers(0, 200_000), st.integers(1, 100_000), st.integers(0, 200_000))
def test_fee_split_adds_up_and_waives_only_at_the_threshold(paid, due, threshold):
    ledger = make(replace(RULES, fees=replace(FEES, card_fee_fen=due, waiver_topup_fen=threshold)))
    try:
        split = ledger.fee_split(account(ledger), paid)
    except Refused:
        assert paid < due and not (threshold and paid >= threshold)
        return
    assert split.fee_fen + split.topup_fen == paid
    assert (split.waiver == WAIVED_BY_TOPUP) == bool(threshold and paid >= threshold)
    assert split.fee_fen == (0 if split.waiver else due)


def test_a_fee_settled_at_two_kiosks_out_of_touch_is_applied_and_flagged():
    ledger = make(RULES)
    other = Ledger(ledger.state.copy(), RULES, "store1-k2", b"pepper", FAST_FOR_TESTS)
    first, _ = ledger.settle_card_fee(CARD, 3800, "cash-1", NOW)
    second, _ = other.settle_card_fee(CARD, 3800, "cash-2", NOW)
    do(ledger, first)
    result = ledger.apply(second)
    assert result.applied and "settled again" in result.conflict
    assert account(ledger).balance_fen == 0  # nothing moved: a refund is for staff to decide
