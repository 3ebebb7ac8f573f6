"""Worked examples for `LedgerState.apply` where mutation testing found it unwatched: what a
late or out-of-order transaction does to the account HQ holds, and what apply tells its caller.

Each example is the state at HQ when two kiosks worked offline on the same card: kiosk A's
transaction was made before it heard of kiosk B's, and HQ applies B's first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk.ledger import charges
from kiosk.ledger.model import PointsLot
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sales_rules import FeeRules
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import ApplyResult, LedgerState, SequenceGap
from kiosk.ledger.txn import txn_id_for
from tests.test_ledger_boundaries import CARD, NOW, OTHER, account, do, make
from tests.test_ledger_engagement import referred
from tests.test_vouchers import JOINED, UID
from tests.test_vouchers import _charge as charge
from tests.test_vouchers import _ledger as voucher_ledger

A_YEAR_ON = datetime(2027, 11, 2, 2, 0, tzinfo=UTC)  # the points earned in November 2026 expired on 31 October


def kiosk_b(a: Ledger) -> Ledger:
    """A second kiosk that has seen everything kiosk A has, so far."""
    return Ledger(a.state.copy(), default_rules(), "store1-k2", b"pepper", FAST_FOR_TESTS)


def test_a_sequence_gap_names_the_device_the_seq_expected_and_the_one_that_came():
    a = make()
    txn = a.top_up(CARD, 10_000, "p1", NOW)
    skipped = replace(txn, seq=3, txn_id=txn_id_for(txn.device_id, 3))
    with pytest.raises(SequenceGap, match=r"^device store1-k1: expected seq 2, got 3$"):
        a.apply(skipped)


def test_the_last_txn_delivered_again_is_a_duplicate_that_changes_nothing():
    a = make()
    txn = do(a, a.top_up(CARD, 10_000, "p1", NOW))
    before = a.state.copy()
    assert a.apply(txn) == ApplyResult(applied=False)
    assert (a.state.accounts, a.state.last_seq) == (before.accounts, before.last_seq)


def test_the_same_card_counter_again_is_not_a_copy_one_lower_is():
    a = make()
    do(a, a.purse_written(CARD, 5, NOW))
    assert a.apply(replace(a.top_up(CARD, 10_000, "p1", NOW), card_counter=5)).conflict == ""
    assert a.state.cards[CARD].card_counter == 5
    conflict = a.apply(replace(a.top_up(CARD, 10_000, "p2", NOW), card_counter=4)).conflict
    assert conflict == f"card {CARD} showed counter 4, below 5 already seen: a copy of the card?"


def test_an_expiry_takes_every_point_of_the_expired_lot_even_those_its_kiosk_had_not_seen():
    a = make()
    do(a, a.top_up(CARD, 10_000, "p1", NOW))  # 100 points, expiring at the end of October 2027
    late = kiosk_b(a).top_up(CARD, 5_000, "p2", NOW)  # 50 more in the same lot, made offline at B
    expiry = a.expire_points(CARD, A_YEAR_ON)  # A takes the 100 it knows of
    assert expiry.points_delta == -100
    hq = a.state.copy()
    do_at(hq, late)
    assert "expected balance 10000 / points 100, found 15000 / 150" in hq.apply(expiry).conflict
    assert hq.accounts[expiry.member_id].lots == ()  # B's 50 expired too, on the same day


@pytest.mark.parametrize(
    "field, value",
    [("expire_before", date(2030, 1, 1)), ("local_day", date(2026, 11, 23)), ("referee_id", "M-store1-k1-1")],
)
def test_a_field_its_kind_does_not_carry_changes_nothing(field, value):
    a = make()
    do(a, a.top_up(CARD, 10_000, "p1", NOW))
    result = a.apply(replace(a.purse_written(CARD, 7, NOW), **{field: value}))
    assert result.refused and result.conflict == f"not applied: a purse_written transaction may not carry {field}"
    after = account(a)
    assert (after.points, after.last_checkin_on, after.checkin_streak) == (100, None, 0)
    assert (after.referee_rewarded, after.referrer_rewarded) == (False, False)


def test_a_return_made_before_a_late_top_up_leaves_that_money_as_paid_not_bonus():
    a = make()
    do(a, a.top_up(CARD, 50_000, "p1", NOW))  # 2,500 bonus
    late = kiosk_b(a).top_up(CARD, 10_000, "p2", NOW)  # no bonus
    ret = a.return_card(CARD, NOW)
    hq = a.state.copy()
    do_at(hq, late)
    assert hq.apply(ret).conflict  # A returned a card whose balance it did not know in full
    after = hq.accounts[ret.member_id]
    assert (after.balance_fen, after.bonus_fen, after.lots) == (10_000, 0, ())  # for HQ to settle


def test_two_kiosks_spending_the_whole_balance_leave_a_debt_that_a_top_up_bonus_does_not_hide():
    a = make()
    do(a, a.top_up(CARD, 500_000, "p1", NOW))  # 508,000 with its bonus
    late = kiosk_b(a).spend(CARD, 508_000, NOW, pin_verified=True)
    do(a, a.spend(CARD, 508_000, NOW, pin_verified=True))
    hq = a.state.copy()
    assert hq.apply(late).conflict.startswith("spend expected balance 508000")  # HQ follows it up
    assert hq.accounts[late.member_id].balance_fen == -508_000
    top_up = Ledger(hq, default_rules(), "store1-k3", b"pepper", FAST_FOR_TESTS).top_up(CARD, 50_000, "p2", NOW)
    do_at(hq, top_up)
    after = hq.accounts[late.member_id]
    assert (after.balance_fen, after.bonus_fen) == (-455_500, 0)  # the 2,500 bonus went to the debt


def test_returning_one_of_two_active_cards_keeps_the_member_open():
    a = make()
    third = "04000000000001"
    at_b = kiosk_b(a).replace_card(CARD, third, NOW)  # two counters replaced the same lost card
    do(a, a.replace_card(CARD, OTHER, NOW))
    do_at(a.state, at_b)
    do(a, a.return_card(OTHER, NOW))
    member_id = at_b.member_id
    assert a.state.members[member_id].status == "active"
    do(a, a.return_card(third, NOW))
    assert a.state.members[member_id].status == "closed"


def test_a_redemption_line_names_its_reward():
    a = make()
    do(a, a.top_up(CARD, 50_000, "p1", NOW))  # 500 points
    do(a, a.redeem(CARD, "coffee", NOW, pin_verified=True))
    assert [(line.kind, line.reward_id) for line in account(a).recent[:2]] == [("redemption", "coffee"), ("top_up", "")]


def test_a_pin_reset_ends_the_lockout_not_only_the_count():
    a = make()
    for _ in range(5):
        do(a, a.check_pin(CARD, "000001", NOW)[1])
    member_id = a.state.cards[CARD].member_id
    assert a.pin_locked(a.state.members[member_id], NOW)
    do(a, a.reset_pin_lock(CARD, NOW))
    member = a.state.members[member_id]
    assert (member.pin_failures, member.pin_locked_until, a.pin_locked(member, NOW)) == (0, None, False)


def test_a_sign_up_with_a_known_member_id_or_a_known_card_is_a_conflict():
    a = make()  # member M-store1-k1-1 holds CARD
    fresh = Ledger(LedgerState(), default_rules(), "store1-k1", b"pepper", FAST_FOR_TESTS)
    signup = fresh.sign_up(OTHER, 1, "13900139000", "482915", NOW, "李雷")  # M-store1-k1-1 again
    same_id = replace(signup, seq=2, txn_id=txn_id_for("store1-k1", 2))
    assert a.apply(same_id).conflict == "sign-up of M-store1-k1-1 with a card or member id already known"
    same_card = replace(signup, card_uid=CARD, device_id="k9", txn_id=txn_id_for("k9", 1), member_id="M-k9-1")
    assert a.apply(same_card).conflict == "sign-up of M-k9-1 with a card or member id already known"
    assert set(a.state.members) == {"M-store1-k1-1"} and set(a.state.cards) == {CARD}


def test_a_new_member_was_last_seen_at_sign_up():
    assert account(make()).last_visit == NOW


def test_a_txn_that_moves_only_points_clashes_with_a_late_one_too():
    a = make()
    late = kiosk_b(a).top_up(CARD, 10_000, "p1", NOW)
    check_in = a.check_in(CARD, NOW)  # 5 points, no money
    hq = a.state.copy()
    do_at(hq, late)
    assert hq.apply(check_in).conflict == "check_in expected balance 0 / points 0, found 10000 / 100"


def test_every_conflict_of_one_txn_is_told():
    a = make()
    do(a, a.purse_written(CARD, 5, NOW))
    late = kiosk_b(a).top_up(CARD, 10_000, "p1", NOW)
    copied = replace(a.top_up(CARD, 20_000, "p2", NOW), card_counter=4)  # an older image of the card, at A
    hq = a.state.copy()
    do_at(hq, late)
    assert hq.apply(copied).conflict == (
        f"card {CARD} showed counter 4, below 5 already seen: a copy of the card?; "
        "top_up expected balance 0 / points 0, found 10000 / 100"
    )


def do_at(state, txn) -> None:
    result = state.apply(txn)
    assert result.applied and not result.conflict, result


def test_a_points_expiry_recorded_without_its_day_takes_the_points_from_the_oldest_lots():
    a = make()
    do(a, a.top_up(CARD, 10_000, "p1", NOW))  # 100 points, in the lot expiring end of October 2027
    do(a, a.top_up(CARD, 5_000, "p2", A_YEAR_ON - timedelta(days=10)))  # 50 more, expiring a year later
    first, second = account(a).lots
    expiry = a.expire_points(CARD, A_YEAR_ON)
    assert (expiry.points_delta, expiry.expire_before) == (-100, date(2027, 11, 2))
    old = replace(expiry, expire_before=None)  # a record made before the day was kept with it
    do(a, old)
    assert account(a).lots == (second,) and first.points == 100


def test_a_check_in_recorded_without_its_day_leaves_the_streak_as_it_was():
    a = make()
    do(a, a.check_in(CARD, NOW))
    assert (account(a).last_checkin_on, account(a).checkin_streak) == (date(2026, 11, 23), 1)
    old = replace(a.check_in(CARD, NOW + timedelta(days=1)), local_day=None)
    do(a, old)
    assert (account(a).last_checkin_on, account(a).checkin_streak) == (date(2026, 11, 23), 1)
    assert account(a).points == 2 * old.points_delta


@pytest.mark.parametrize("reason", ["sign_up", "replacement"])
def test_only_the_card_fee_of_a_sign_up_settles_what_the_sign_up_owes(reason):
    a = make(replace(default_rules(), fees=FeeRules(3800, 50_000, ())))
    assert account(a).card_fee_due_fen == 3800
    do(a, a.block_card(CARD, reason, NOW))  # staff may type any reason, even a fee's
    do(a, a.unblock_card(CARD, reason, NOW))
    assert account(a).card_fee_due_fen == 3800
    txn, _ = a.settle_card_fee(CARD, 3800, "cash-1", NOW)
    do(a, txn)
    assert account(a).card_fee_due_fen == 0


def test_points_as_cash_come_from_the_oldest_lot_and_go_back_as_fresh_ones():
    ledger = voucher_ledger()
    member = ledger.state.cards[UID].member_id
    (held,) = ledger.state.accounts[member].lots
    spend = charge(ledger, "A1", 1000, JOINED + timedelta(days=40), points=200)
    assert spend.points_cash == 200 and spend.points_delta + spend.points_cash >= 0
    earned = spend.points_delta + spend.points_cash
    kept = (PointsLot(held.expires_on, held.points - 200),)
    new = (PointsLot(spend.points_expire_on, earned),) if earned else ()
    assert ledger.state.accounts[member].lots == kept + new
    # Half of it refunded: the earned points it takes back come from the oldest lot again, and
    # the 100 points given back are fresh ones, in a lot of their own.
    refund = charges.refund(ledger, "T1:A1", "R1", 400, JOINED + timedelta(days=80))
    taken_back = refund.points_cash - refund.points_delta
    assert (refund.points_cash, taken_back) == (100, earned // 2)
    do(ledger, refund)
    back = PointsLot(refund.points_expire_on, 100)
    assert ledger.state.accounts[member].lots == (PointsLot(held.expires_on, held.points - 200 - taken_back), *new, back)


def test_a_referral_reward_naming_a_referee_this_state_does_not_hold_gives_its_points_and_flags_no_one():
    ledger = referred({"referee_points": 3, "referrer_points": 3})
    referee = ledger.state.cards[OTHER].member_id
    do(ledger, ledger.referral_reward(OTHER, NOW))  # the referee's own
    theirs = ledger.referral_reward(OTHER, NOW)  # the referrer's, naming the referee
    assert (theirs.member_id, theirs.referee_id) == (account(ledger).member_id, referee)
    do(ledger, replace(theirs, referee_id="M-elsewhere-1"))  # a referee known only where it was made
    assert account(ledger).points == 3 and "M-elsewhere-1" not in ledger.state.accounts
    assert ledger.state.accounts[referee].referrer_rewarded is False


@pytest.mark.parametrize("consent", [True, False])
def test_a_sign_up_keeps_the_members_answer_to_notes(consent):
    a = make()
    do(a, a.sign_up(OTHER, 1, "13900139000", "482915", NOW, notes_consent=consent))
    assert a.state.members[a.state.cards[OTHER].member_id].notes_consent is consent
