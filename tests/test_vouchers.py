"""Vouchers and points as cash, worked at their boundaries: the last valid day, the minimum
spend, single use, the store, a whole refund and a void giving the voucher back, the share
points may pay, and the state holding a forged or doubled use to account."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk.ledger import charges, vouchers
from kiosk.ledger.model import PointsLot, TillOrder, VoucherStatus
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.points_cash import PointsCashRule, cash_due_back, lots_after_cash
from kiosk.ledger.rules import RulesError, parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind
from tests.test_ledger_properties import PIN

UID = "04000000000001"
JOINED = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _doc() -> dict:
    from importlib.resources import files

    return json.loads(files("kiosk.data").joinpath("rules.default.json").read_text())


def _ledger(**vouchers_doc) -> Ledger:
    doc = _doc()
    doc["vouchers"]["types"][0].update(vouchers_doc)
    ledger = Ledger(LedgerState(), parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    for txn in (
        ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, salt=b"s" * 16),
    ):
        ledger.apply(txn)
    ledger.apply(ledger.top_up(UID, 50_000, "cash-1", JOINED))
    return ledger


def _welcome(ledger: Ledger) -> str:
    txn = vouchers.next_due(ledger, UID, JOINED)
    assert txn.kind is Kind.VOUCHER_ISSUED and txn.reason == "new_member"
    ledger.apply(txn)
    assert vouchers.next_due(ledger, UID, JOINED) is None  # given once
    return txn.txn_id


def _charge(ledger, order, total, at, voucher="", points=0, store=""):
    txn = charges.charge(ledger, UID, f"T1:{order}", total, False, at, pin_verified=True, voucher_id=voucher, points=points, store=store)
    result = ledger.apply(txn)
    assert result.applied and not result.conflict, result
    return txn


def test_the_new_member_voucher_is_valid_through_its_last_local_day_and_not_a_second_after():
    ledger = _ledger()
    vid = _welcome(ledger)
    voucher = ledger.state.accounts[ledger.state.cards[UID].member_id].voucher(vid)
    # issued 1 March (Shanghai), valid_days 30: the last valid day is 30 March, ending 16:00 UTC
    assert voucher.expires_at == datetime(2026, 3, 30, 16, 0, tzinfo=UTC)
    last_moment = voucher.expires_at - timedelta(seconds=1)
    with pytest.raises(Refused) as late:
        charges.quote(ledger, UID, "T1:late", 8000, False, voucher.expires_at, vid)
    assert late.value.code == "voucher_expired"
    txn = _charge(ledger, "A1", 8000, last_moment, vid)
    assert (txn.voucher_id, txn.voucher_fen, txn.amount_fen) == (vid, 1000, 7000)


def test_the_minimum_spend_is_met_exactly_and_missed_by_one_fen():
    ledger = _ledger()
    vid = _welcome(ledger)
    with pytest.raises(Refused) as short:
        charges.quote(ledger, UID, "T1:A1", 4999, False, JOINED, vid)
    assert (short.value.code, short.value.detail) == ("voucher_min_spend", "5000")
    assert _charge(ledger, "A1", 5000, JOINED, vid).amount_fen == 4000


def test_a_voucher_is_used_once():
    ledger = _ledger()
    vid = _welcome(ledger)
    _charge(ledger, "A1", 6000, JOINED, vid)
    with pytest.raises(Refused) as again:
        charges.quote(ledger, UID, "T1:A2", 6000, False, JOINED, vid)
    assert again.value.code == "voucher_used"
    assert charges.quote(ledger, UID, "T1:A2", 6000, False, JOINED).vouchers == ()


def test_a_voucher_for_some_stores_is_refused_at_another():
    ledger = _ledger(stores=["S1"])
    vid = _welcome(ledger)
    with pytest.raises(Refused) as other:
        charges.quote(ledger, UID, "T1:A1", 6000, False, JOINED, vid, store="S2")
    assert other.value.code == "voucher_other_store"
    assert _charge(ledger, "A1", 6000, JOINED, vid, store="S1").voucher_fen == 1000


def test_a_whole_refund_gives_the_voucher_back_a_partial_one_does_not():
    ledger = _ledger()
    vid = _welcome(ledger)
    spend = _charge(ledger, "A1", 6000, JOINED, vid)
    part = charges.refund(ledger, "T1:A1", "R1", 1000, JOINED)
    assert part.voucher_id == ""
    ledger.apply(part)
    rest = charges.refund(ledger, "T1:A1", "R2", spend.amount_fen - 1000, JOINED)
    assert rest.voucher_id == vid
    ledger.apply(rest)
    account = ledger.state.accounts[spend.member_id]
    assert account.voucher(vid).status is VoucherStatus.VALID
    assert charges.quote(ledger, UID, "T1:A2", 6000, False, JOINED, vid).voucher_fen == 1000


def test_a_refund_after_the_voucher_ran_out_keeps_it_used_a_void_gives_it_back():
    ledger = _ledger()
    vid = _welcome(ledger)
    _charge(ledger, "A1", 6000, JOINED, vid)
    late = JOINED + timedelta(days=40)
    assert charges.refund(ledger, "T1:A1", "R1", 5000, late).voucher_id == ""
    void = charges.void(ledger, "T1:A1", JOINED + timedelta(hours=1))
    assert void.voucher_id == vid
    ledger.apply(void)
    assert ledger.state.accounts[void.member_id].voucher(vid).status is VoucherStatus.VALID


def test_a_voucher_past_its_last_day_expires_when_the_member_comes_by():
    ledger = _ledger()
    vid = _welcome(ledger)
    expires = ledger.state.accounts[ledger.state.cards[UID].member_id].voucher(vid).expires_at
    assert vouchers.next_due(ledger, UID, expires - timedelta(seconds=1)) is None
    txn = vouchers.next_due(ledger, UID, expires)
    assert (txn.kind, txn.voucher_id) == (Kind.VOUCHER_EXPIRED, vid)
    ledger.apply(txn)
    assert ledger.state.accounts[txn.member_id].voucher(vid).status is VoucherStatus.EXPIRED


def test_points_pay_at_most_their_share_and_come_back_in_proportion():
    ledger = _ledger()
    member = ledger.state.cards[UID].member_id
    points = ledger.state.accounts[member].points  # 500 from the top-up, 100 from the gift? (not given here)
    q = charges.quote(ledger, UID, "T1:A1", 1000, False, JOINED)
    assert q.most_points == min(points, 200)  # 20% of 10 yuan at 100 points a yuan
    with pytest.raises(Refused) as greedy:
        charges.quote(ledger, UID, "T1:A1", 1000, False, JOINED, points=201)
    assert greedy.value.code == "bad_points_choice"
    spend = _charge(ledger, "A1", 1000, JOINED, points=200)
    assert (spend.points_cash, spend.points_cash_fen, spend.amount_fen) == (200, 200, 800)
    half = charges.refund(ledger, "T1:A1", "R1", 400, JOINED)
    assert half.points_cash == 100
    ledger.apply(half)
    rest = charges.refund(ledger, "T1:A1", "R2", 400, JOINED)
    assert rest.points_cash == 100
    ledger.apply(rest)
    assert ledger.state.accounts[member].points == points


def test_a_forged_refund_giving_back_more_points_is_refused_and_a_doubled_voucher_flagged():
    ledger = _ledger()
    vid = _welcome(ledger)
    elsewhere = ledger.state.copy()
    spend = _charge(ledger, "A1", 6000, JOINED, vid, points=200)
    forged = replace(charges.refund(ledger, "T1:A1", "R1", 100, JOINED), points_cash=150)
    forged = replace(forged, points_after=forged.points_after + 147)
    result = ledger.state.copy().apply(forged)
    assert result.refused and "more points" in result.conflict
    # another kiosk, offline, took the same voucher: the money moved, the conflict says so
    other = Ledger(elsewhere, ledger.rules, "kiosk-2", b"pepper", FAST_FOR_TESTS)
    second = charges.charge(other, UID, "T2:B1", 6000, False, JOINED, pin_verified=True, voucher_id=vid)
    second = replace(second, balance_before_fen=spend.balance_after_fen, balance_after_fen=spend.balance_after_fen - second.amount_fen,
                     points_before=spend.points_after, points_after=spend.points_after + second.points_delta)
    result = ledger.apply(second)
    assert result.applied and not result.refused and "already used" in result.conflict
    assert ledger.state.accounts[spend.member_id].voucher(vid).order_key == "T1:A1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["vouchers"]["types"][0].update(min_spend_fen=1000), "vouchers.types[0].min_spend_fen"),
        (lambda d: d["vouchers"]["types"][0].update(valid_days=0), "vouchers.types[0].valid_days"),
        (lambda d: d["vouchers"]["types"][0].update(stores=["a b"]), "vouchers.types[0].stores[0]"),
        (lambda d: d["vouchers"]["gifts"].update(new_member="nope"), "vouchers.gifts.new_member"),
        (lambda d: d["vouchers"]["gifts"]["spend"].update(type="nope"), "vouchers.gifts.spend.type"),
        (lambda d: d["vouchers"]["types"].append(dict(d["vouchers"]["types"][0])), "vouchers.types"),
        (lambda d: d["points_cash"].update(max_share_pct=100), "points_cash.max_share_pct"),
        (lambda d: d["points_cash"].update(rate=1), "points_cash.rate"),
    ],
)
def test_bad_voucher_rules_name_the_field(change, field):
    doc = _doc()
    change(doc)
    with pytest.raises(RulesError) as bad:
        parse_rules(doc, "rules.json")
    assert bad.value.field == field


def test_a_charge_paying_the_threshold_earns_a_voucher_one_fen_less_does_not():
    ledger = _ledger()
    _welcome(ledger)
    gift = ledger.rules.vouchers.spend  # ¥200 from stored value earns a ¥5 voucher
    _charge(ledger, "A1", gift.min_fen - 1, JOINED)
    assert vouchers.next_due(ledger, UID, JOINED) is None
    _charge(ledger, "A2", gift.min_fen, JOINED)
    txn = vouchers.next_due(ledger, UID, JOINED)
    assert (txn.kind, txn.voucher_type, txn.reason) == (Kind.VOUCHER_ISSUED, gift.type, "spend:T1:A2")
    ledger.apply(txn)
    assert vouchers.next_due(ledger, UID, JOINED) is None  # once per charge


def test_the_birthday_voucher_comes_with_the_birthday_gift_once():
    doc = _doc()
    ledger = Ledger(LedgerState(), parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, birthday=JOINED.date().replace(year=1990), salt=b"s" * 16))
    ledger.apply(vouchers.next_due(ledger, UID, JOINED))  # the new-member voucher first
    assert vouchers.next_due(ledger, UID, JOINED) is None  # no birthday gift taken yet
    ledger.apply(ledger.birthday_gift(UID, JOINED))
    txn = vouchers.next_due(ledger, UID, JOINED)
    assert (txn.voucher_type, txn.reason) == ("thanks5", "birthday:2026")
    ledger.apply(txn)
    assert vouchers.next_due(ledger, UID, JOINED) is None


# -- points as cash, the rule alone ----------------------------------------------------------


def test_points_cannot_pay_when_the_rules_switch_them_off_or_nothing_is_owed():
    assert (PointsCashRule().fen_for(100), PointsCashRule().most_points(1000, 500)) == (0, 0)
    assert PointsCashRule(100, 0).most_points(1000, 500) == 0  # a rate but no share: off
    assert PointsCashRule(100, 20).most_points(-1, 500) == 0


@pytest.mark.parametrize(
    ("rule", "payable", "held", "most"),
    [
        (PointsCashRule(100, 20), 999, 500, 199),  # 20% of 9.99 yuan is 199.8 fen: 199 points, never a fraction
        (PointsCashRule(150, 20), 1000, 100, 99),  # held 100, step 3 (3 points are 2 fen): 99, not 100 or 102
        (PointsCashRule(150, 20), 1000, 1000, 300),
    ],
)
def test_the_most_points_are_whole_steps_within_the_share_and_the_points_held(rule, payable, held, most):
    found = rule.most_points(payable, held)
    assert found == most and type(found) is int


def test_points_given_back_by_a_refund_in_proportion_and_never_from_nothing():
    order = TillOrder("T1:A1", "k:1", JOINED, paid_fen=1000, points_earned=0, balance_after_fen=0, points_after=0,
                      points_cash=200)
    assert (cash_due_back(order, 1), cash_due_back(order, 5), cash_due_back(order, 1000)) == (0, 1, 200)
    assert cash_due_back(replace(order, paid_fen=1), 1) == 200  # a 1 fen charge: its points back whole
    assert cash_due_back(replace(order, paid_fen=0), 0) == 0  # the card paid nothing: nothing to share out
    assert cash_due_back(replace(order, points_cash=0), 1000) == 0


def test_lots_after_points_as_cash_take_the_oldest_and_add_none_of_nothing():
    lots = (PointsLot(date(2027, 1, 31), 5), PointsLot(date(2027, 6, 30), 10))
    new = date(2027, 12, 31)
    assert lots_after_cash(lots, 1, 0, new) == (PointsLot(date(2027, 1, 31), 4), lots[1])
    assert lots_after_cash(lots, 0, 0, new) == lots
    assert lots_after_cash(lots, 0, 1, new) == (*lots, PointsLot(new, 1))
    assert lots_after_cash(lots, 0, 7, None) == lots  # no expiry: no points to add (the rules give none)


def test_points_cash_that_is_not_an_object_says_so():
    doc = _doc()
    doc["points_cash"] = [100, 20]
    with pytest.raises(RulesError) as bad:
        parse_rules(doc, "rules.json")
    assert str(bad.value) == "rules.json: points_cash: must be an object"


@pytest.mark.parametrize(
    ("section", "rule"),
    [
        ({}, PointsCashRule()),  # absent values: points cannot pay
        ({"points_per_yuan": 0, "max_share_pct": 0}, PointsCashRule(0, 0)),
        ({"points_per_yuan": 100_000, "max_share_pct": 99}, PointsCashRule(100_000, 99)),
    ],
)
def test_points_cash_rules_are_read_at_their_limits(section, rule):
    doc = _doc()
    doc["points_cash"] = section
    assert parse_rules(doc).points_cash == rule


def test_a_points_rate_above_its_limit_names_the_field_and_the_range():
    doc = _doc()
    doc["points_cash"] = {"points_per_yuan": 100_001}
    with pytest.raises(RulesError) as bad:
        parse_rules(doc, "rules.json")
    assert str(bad.value) == "rules.json: points_cash.points_per_yuan: must be between 0 and 100000, got 100001"


def test_a_voucher_is_issued_with_its_stores_and_a_utc_end_or_refused_naming_what_is_missing():
    ledger = _ledger(stores=["S1", "S2"])
    member = ledger.state.cards[UID].member_id
    type_id = ledger.rules.vouchers.types[0].id
    txn = vouchers.issue(ledger, member, type_id, JOINED, "campaign")
    assert txn.voucher_stores == "S1,S2" and txn.voucher_until.tzinfo is UTC  # not the machine's zone
    for args, code, detail in (
        ((member, "t" * 70), "unknown_voucher_type", "t" * 64),
        (("m" * 70, type_id), "member_closed", "m" * 64),
    ):
        with pytest.raises(Refused) as refused:
            vouchers.issue(ledger, *args, JOINED, "campaign")
        assert (refused.value.code, refused.value.detail) == (code, detail)


def test_the_vouchers_offered_are_those_of_this_store_from_exactly_their_minimum_spend():
    ledger = _ledger(stores=["S1"])
    vid = _welcome(ledger)
    account = ledger.state.accounts[ledger.state.cards[UID].member_id]
    here = vouchers.price(ledger, account, 5000, "", 0, JOINED, "S1")
    assert ([v.id for v in here.usable], here.voucher, here.voucher_fen) == ([vid], None, 0)
    assert vouchers.price(ledger, account, 4999, "", 0, JOINED, "S1").usable == ()
    assert vouchers.price(ledger, account, 5000, "", 0, JOINED, "S2").usable == ()
    assert [v.id for v in vouchers.valid(account, JOINED)] == [vid]  # no store named: the member's screen
    anywhere = _ledger()
    any_id = _welcome(anywhere)
    any_account = anywhere.state.accounts[anywhere.state.cards[UID].member_id]
    assert [v.id for v in vouchers.valid(any_account, JOINED, "S9")] == [any_id]  # no stores: every store
    with pytest.raises(Refused) as unknown:
        vouchers.price(ledger, account, 5000, "v" * 120, 0, JOINED, "S1")
    assert (unknown.value.code, unknown.value.detail) == ("voucher_not_found", "v" * 100)


def test_the_new_member_and_spend_vouchers_are_due_through_their_last_moment_and_not_after():
    ledger = _ledger()
    week = JOINED + timedelta(days=7)
    assert vouchers.next_due(ledger, UID, week + timedelta(seconds=1)) is None
    assert vouchers.next_due(ledger, UID, week).reason == "new_member"
    _welcome(ledger)
    _charge(ledger, "A1", ledger.rules.vouchers.spend.min_fen, JOINED)
    day = JOINED + timedelta(days=1)
    assert vouchers.next_due(ledger, UID, day + timedelta(seconds=1)) is None
    assert vouchers.next_due(ledger, UID, day).reason == "spend:T1:A1"


def test_a_voucher_or_points_refused_at_a_charge_name_the_voucher_or_the_range():
    ledger = _ledger(stores=["S1"])
    ledger.apply(ledger.top_up(UID, 100_000, "cash-2", JOINED))  # 1,500 points: more than a share takes
    vid = _welcome(ledger)
    account = ledger.state.accounts[ledger.state.cards[UID].member_id]
    expires = account.voucher(vid).expires_at
    assert vouchers.price(ledger, account, 5000, vid, 0, JOINED, "S1").most_points == 800  # 20% of 50 - 10 yuan
    assert vouchers.price(ledger, account, 5000, "", 0, expires, "S1").usable == ()

    def refusal(voucher_id, points, at, store):
        held = ledger.state.accounts[account.member_id]  # as it is now
        with pytest.raises(Refused) as refused:
            vouchers.price(ledger, held, 5000, voucher_id, points, at, store)
        return refused.value.code, refused.value.detail

    assert refusal(vid, 0, expires, "S1") == ("voucher_expired", vid)
    assert refusal(vid, 0, JOINED, "S2") == ("voucher_other_store", vid)
    assert refusal("", 1001, JOINED, "S1") == ("bad_points_choice", "0..1000 step 1")
    assert refusal("", True, JOINED, "S1") == ("bad_points_choice", "0..1000 step 1")
    ledger.apply(vouchers.next_due(ledger, UID, expires))  # VOUCHER_EXPIRED
    assert refusal(vid, 0, JOINED, "S1") == ("voucher_expired", vid)
    used = _ledger()
    used_id = _welcome(used)
    _charge(used, "A1", 6000, JOINED, used_id)
    used_account = used.state.accounts[used.state.cards[UID].member_id]
    with pytest.raises(Refused) as again:
        vouchers.price(used, used_account, 6000, used_id, 0, JOINED, "")
    assert (again.value.code, again.value.detail) == ("voucher_used", used_id)
