"""Worked examples at the edges of every member-facing rule: exactly at a limit, one step inside
and one step outside, so a rule that is off by one (or ignores a term) fails here. The sample
rules' numbers; Shanghai is UTC+8, so local midnight is 16:00 UTC the day before."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.rules import MAX_FEN, GiftRule
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import TIER_WINDOW, LedgerState, is_locked

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 on 23 November in Shanghai
CARD, OTHER = "04A1B2C3D4E5F6", "04FFEEDDCCBBAA"
PIN = "482915"
SECOND = timedelta(seconds=1)


def local_midnight(day: date) -> datetime:
    """The first instant of a Shanghai local day, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)


def make(rules=None, birthday: date | None = date(1990, 11, 25)) -> Ledger:
    ledger = Ledger(LedgerState(), rules or default_rules(), "store1-k1", b"pepper", FAST_FOR_TESTS)
    do(ledger, ledger.sign_up(CARD, 1, "13800138000", PIN, NOW, "王芳", birthday))
    return ledger


def do(ledger: Ledger, txn):
    result = ledger.apply(txn)
    assert result.applied and not result.conflict, result
    return txn


def refused(code: str, call, *args, **kwargs) -> None:
    with pytest.raises(Refused) as err:
        call(*args, **kwargs)
    assert err.value.code == code


def account(ledger: Ledger, uid: str = CARD):
    return ledger.state.accounts[ledger.state.cards[uid].member_id]


# -- tiers -----------------------------------------------------------------------------------


def test_tier_threshold_exactly_and_one_below():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 50_000, "p1", NOW))
    do(ledger, ledger.top_up(CARD, 49_999, "p2", NOW))
    view = ledger.view(CARD, NOW)
    assert (view.tier.id, view.topup_12m_fen, view.to_next_tier_fen) == ("regular", 99_999, 1)
    ledger = make()
    do(ledger, ledger.top_up(CARD, 50_000, "p1", NOW))
    do(ledger, ledger.top_up(CARD, 50_000, "p2", NOW))
    view = ledger.view(CARD, NOW)
    assert (view.tier.id, view.next_tier.id, view.to_next_tier_fen) == ("silver", "gold", 400_000)


def test_top_tier_has_no_next_tier_and_nothing_to_go():
    ledger = make()
    for i in range(4):
        do(ledger, ledger.top_up(CARD, 500_000, f"p{i}", NOW))
    view = ledger.view(CARD, NOW)
    assert (view.tier.id, view.next_tier, view.to_next_tier_fen) == ("platinum", None, 0)


def test_a_top_up_counts_for_the_tier_until_exactly_366_days_later():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW))
    assert ledger.view(CARD, NOW + TIER_WINDOW - SECOND).tier.id == "silver"
    assert ledger.view(CARD, NOW + TIER_WINDOW).tier.id == "regular"
    assert ledger.tier_of(account(ledger), NOW + TIER_WINDOW - SECOND).id == "silver"
    assert ledger.tier_of(account(ledger), NOW + TIER_WINDOW).id == "regular"


def test_applying_a_top_up_drops_the_ones_older_than_the_window():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))
    do(ledger, ledger.top_up(CARD, 20_000, "p2", NOW + TIER_WINDOW - SECOND))
    assert [t.amount_fen for t in account(ledger).recent_topups] == [10_000, 20_000]
    do(ledger, ledger.top_up(CARD, 30_000, "p3", NOW + TIER_WINDOW))
    assert [t.amount_fen for t in account(ledger).recent_topups] == [20_000, 30_000]
    assert account(ledger).lifetime_topup_fen == 60_000


def test_points_are_whole_points_times_the_tier_multiplier():
    ledger = make()
    assert do(ledger, ledger.top_up(CARD, 1_099, "p0", NOW)).points_delta == 10  # 10.99 yuan, x1
    assert do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW)).points_delta == 1_000  # still regular
    assert do(ledger, ledger.top_up(CARD, 1_050, "p2", NOW)).points_delta == 12  # silver: 10 x 1.2
    assert do(ledger, ledger.spend(CARD, 199, NOW)).points_delta == 1  # spending earns too
    assert account(ledger).lifetime_spend_fen == 199


def test_no_points_when_the_rules_do_not_give_them():
    rules = default_rules()
    rules = replace(rules, points=replace(rules.points, earn_on_topup=False, earn_on_spend=False))
    ledger = make(rules)
    top_up = do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))
    spend = do(ledger, ledger.spend(CARD, 5_000, NOW))
    assert (top_up.points_delta, top_up.points_expire_on, spend.points_delta, spend.points_expire_on) == (
        0, None, 0, None
    )


# -- top-up ------------------------------------------------------------------------------------


def test_top_up_minimum_and_maximum_exactly():
    ledger = make()
    assert do(ledger, ledger.top_up(CARD, 1_000, "p1", NOW)).balance_after_fen == 1_000
    refused("amount_out_of_range", ledger.top_up, CARD, 999, "p", NOW)
    assert do(ledger, ledger.top_up(CARD, 500_000, "p2", NOW)).bonus_fen == 8_000
    refused("amount_out_of_range", ledger.top_up, CARD, 500_001, "p", NOW)


def test_bonus_step_exactly_and_one_below():
    ledger = make()
    assert ledger.top_up(CARD, 49_999, "p", NOW).bonus_fen == 0
    assert ledger.top_up(CARD, 50_000, "p", NOW).bonus_fen == 2_500
    assert ledger.top_up(CARD, 99_999, "p", NOW).bonus_fen == 2_500
    assert ledger.top_up(CARD, 100_000, "p", NOW).balance_after_fen == 108_000


def test_payment_reference_up_to_64_characters():
    ledger = make()
    assert ledger.top_up(CARD, 1_000, "r" * 64, NOW).payment_ref == "r" * 64
    refused("payment_ref_missing", ledger.top_up, CARD, 1_000, "r" * 65, NOW)
    refused("payment_ref_missing", ledger.top_up, CARD, 1_000, "", NOW)


def test_balance_cap_counts_the_bonus():
    ledger = make()
    do(ledger, ledger.adjust(CARD, MAX_FEN - 508_000, 0, "set up", NOW))
    assert do(ledger, ledger.top_up(CARD, 500_000, "p1", NOW)).balance_after_fen == MAX_FEN
    ledger = make()
    do(ledger, ledger.adjust(CARD, MAX_FEN - 507_999, 0, "set up", NOW))
    refused("balance_limit", ledger.top_up, CARD, 500_000, "p1", NOW)  # 1 fen over, only with the bonus


# -- spending --------------------------------------------------------------------------------


def test_spend_exactly_the_balance_and_one_fen_more():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))
    refused("insufficient_balance", ledger.spend, CARD, 10_001, NOW)
    refused("amount_out_of_range", ledger.spend, CARD, 0, NOW)
    refused("amount_out_of_range", ledger.spend, CARD, MAX_FEN + 1, NOW)
    assert do(ledger, ledger.spend(CARD, 10_000, NOW)).balance_after_fen == 0


def test_largest_spend_is_max_fen():
    ledger = make()
    do(ledger, ledger.adjust(CARD, MAX_FEN, 0, "set up", NOW))
    assert ledger.spend(CARD, MAX_FEN, NOW, pin_verified=True).balance_after_fen == 0


def test_pin_threshold_exactly_and_one_fen_above():
    ledger = make()
    assert not ledger.pin_required_for_spend(20_000)
    assert ledger.pin_required_for_spend(20_001)


def test_spending_draws_paid_money_first_and_bonus_last():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW))  # 100_000 paid + 8_000 bonus
    do(ledger, ledger.spend(CARD, 100_000, NOW, pin_verified=True))
    assert (account(ledger).balance_fen, account(ledger).bonus_fen) == (8_000, 8_000)
    do(ledger, ledger.spend(CARD, 1, NOW))
    assert (account(ledger).balance_fen, account(ledger).bonus_fen) == (7_999, 7_999)


def test_bonus_is_never_more_than_the_balance():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW))
    do(ledger, ledger.adjust(CARD, -104_000, 0, "correction", NOW))
    assert (account(ledger).balance_fen, account(ledger).bonus_fen) == (4_000, 4_000)


def test_offline_limit_starts_after_exactly_the_grace_hours():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW))
    grace = timedelta(hours=24)
    ledger.spend(CARD, 15_000, NOW, offline_for=grace, offline_spent_fen=10_000)
    refused("offline_limit", ledger.spend, CARD, 15_000, NOW, offline_for=grace + SECOND, offline_spent_fen=10_000)


def test_offline_limit_exactly_at_the_limit_and_one_fen_over():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW))
    late = timedelta(hours=30)
    assert ledger.spend(CARD, 15_000, NOW, offline_for=late, offline_spent_fen=5_000).amount_fen == 15_000
    refused("offline_limit", ledger.spend, CARD, 15_001, NOW, offline_for=late, offline_spent_fen=5_000)
    refused("offline_limit", ledger.spend, CARD, 20_001, NOW, pin_verified=True, offline_for=late)


# -- rewards ---------------------------------------------------------------------------------


def test_stock_check_counts_the_quantity():
    ledger = make()
    do(ledger, ledger.adjust(CARD, 0, 20_000, "campaign", NOW))
    do(ledger, ledger.redeem(CARD, "mask-set", NOW, quantity=3, pin_verified=True))
    assert ledger.state.stock["mask-set"] == 2
    refused("out_of_stock", ledger.redeem, CARD, "mask-set", NOW, quantity=3, pin_verified=True)
    txn = do(ledger, ledger.redeem(CARD, "mask-set", NOW, quantity=2, pin_verified=True))
    assert (txn.quantity, txn.points_delta, ledger.state.stock["mask-set"]) == (2, -4_000, 0)


def test_quantity_from_1_to_100():
    rules = default_rules()
    rules = replace(rules, rewards=tuple(replace(r, stock=1_000) for r in rules.rewards))
    ledger = make(rules)
    do(ledger, ledger.adjust(CARD, 0, 30_000, "campaign", NOW))
    refused("bad_quantity", ledger.redeem, CARD, "coffee", NOW, quantity=0, pin_verified=True)
    refused("bad_quantity", ledger.redeem, CARD, "coffee", NOW, quantity=101, pin_verified=True)
    assert ledger.redeem(CARD, "coffee", NOW, quantity=100, pin_verified=True).points_after == 0
    assert ledger.redeem(CARD, "coffee", NOW, quantity=1, pin_verified=True).points_after == 29_700


def test_points_exactly_the_cost_and_one_short():
    ledger = make()
    do(ledger, ledger.adjust(CARD, 0, 299, "campaign", NOW))
    refused("insufficient_points", ledger.redeem, CARD, "coffee", NOW, pin_verified=True)
    assert [r.id for r in ledger.affordable_rewards(CARD, NOW)] == ["voucher"]
    do(ledger, ledger.adjust(CARD, 0, 1, "campaign", NOW))
    assert [r.id for r in ledger.affordable_rewards(CARD, NOW)] == ["coffee", "voucher"]
    assert do(ledger, ledger.redeem(CARD, "coffee", NOW, pin_verified=True)).points_after == 0


def test_affordable_rewards_leave_out_sold_out_and_expired_ones():
    ledger = make()
    do(ledger, ledger.adjust(CARD, 0, 20_000, "campaign", NOW))
    assert "mask-set" in [r.id for r in ledger.affordable_rewards(CARD, NOW)]
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert "mask-set" not in [r.id for r in ledger.affordable_rewards(CARD, later)]
    ledger.state.stock["tote"] = 0
    assert "tote" not in [r.id for r in ledger.affordable_rewards(CARD, NOW)]


def test_flexible_reward_edges():
    ledger = make()
    do(ledger, ledger.adjust(CARD, 0, 6_000, "campaign", NOW))
    for points in (None, 0, 99, 150, 5_100):
        refused("bad_points_choice", ledger.redeem, CARD, "voucher", NOW, points=points, pin_verified=True)
    low = ledger.redeem(CARD, "voucher", NOW, quantity=4, points=100, pin_verified=True)
    high = ledger.redeem(CARD, "voucher", NOW, points=5_000, pin_verified=True)
    assert (low.quantity, low.amount_fen, high.amount_fen, high.points_after) == (1, 100, 5_000, 1_000)


def test_reward_valid_from_its_first_instant_until_before_its_end():
    ledger = make()
    do(ledger, ledger.adjust(CARD, 0, 20_000, "campaign", NOW))
    start = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 2026-01-01 00:00 Shanghai
    end = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert ledger.redeem(CARD, "mask-set", start, pin_verified=True).reward_id == "mask-set"
    assert ledger.redeem(CARD, "mask-set", end - SECOND, pin_verified=True).reward_id == "mask-set"
    refused("reward_not_available", ledger.redeem, CARD, "mask-set", start - SECOND, pin_verified=True)
    refused("reward_not_available", ledger.redeem, CARD, "mask-set", end, pin_verified=True)


def test_redemption_without_the_pin_rule():
    rules = default_rules()
    ledger = make(replace(rules, pin=replace(rules.pin, required_for_redemption=False)))
    do(ledger, ledger.adjust(CARD, 0, 300, "campaign", NOW))
    assert ledger.redeem(CARD, "coffee", NOW).points_after == 0


# -- points expiry ---------------------------------------------------------------------------


def test_points_expiring_today_stay_and_yesterdays_go():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))  # 100 points, expire 2027-10-31
    do(ledger, ledger.top_up(CARD, 20_000, "p2", datetime(2026, 12, 5, tzinfo=UTC)))  # 200, 2027-11-30
    assert account(ledger).expired_points(date(2027, 10, 31)) == 0
    assert account(ledger).expired_points(date(2027, 11, 1)) == 100
    assert ledger.expire_points(CARD, local_midnight(date(2027, 11, 1)) - SECOND) is None
    txn = do(ledger, ledger.expire_points(CARD, local_midnight(date(2027, 11, 30))))
    assert (txn.points_before, txn.points_after, txn.expire_before) == (300, 200, date(2027, 11, 30))
    assert account(ledger).points == 200  # the lot expiring on the day itself stays


def test_points_expiring_this_month_include_the_last_day():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))  # expire 2027-10-31
    assert ledger.view(CARD, local_midnight(date(2027, 10, 1))).points_expiring == 100
    assert ledger.view(CARD, local_midnight(date(2027, 10, 1)) - SECOND).points_expiring == 0


def test_expire_points_of_an_unknown_card_is_refused():
    refused("unknown_card", make().expire_points, OTHER, NOW)


# -- birthday and new-member gifts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "due"),
    [
        (local_midnight(date(2026, 11, 18)), True),  # first day of the window: 25th - 7
        (local_midnight(date(2026, 11, 18)) - SECOND, False),
        (local_midnight(date(2026, 12, 3)) - SECOND, True),  # last moment of 2 December: 25th + 7
        (local_midnight(date(2026, 12, 3)), False),
    ],
)
def test_birthday_window_first_and_last_day(at, due):
    ledger = make()
    assert ledger.view(CARD, at).birthday_gift_due is due
    if due:
        assert do(ledger, ledger.birthday_gift(CARD, at)).gift_year == 2026
        assert account(ledger).birthday_gift_years == (2026,)
    else:
        refused("no_birthday_gift_due", ledger.birthday_gift, CARD, at)


def test_birthday_window_across_new_year():
    ledger = make(birthday=date(1990, 1, 2))
    assert ledger.birthday_gift(CARD, local_midnight(date(2026, 12, 26))).gift_year == 2027
    ledger = make(birthday=date(1990, 12, 30))
    assert ledger.birthday_gift(CARD, local_midnight(date(2027, 1, 6))).gift_year == 2026
    refused("no_birthday_gift_due", ledger.birthday_gift, CARD, local_midnight(date(2027, 1, 7)))


def test_leap_day_birthday_is_kept_on_28_february():
    rules = default_rules()
    ledger = make(replace(rules, birthday=replace(rules.birthday, window_days=0)), birthday=date(2000, 2, 29))
    assert ledger.birthday_gift(CARD, local_midnight(date(2027, 2, 28))).gift_year == 2027
    refused("no_birthday_gift_due", ledger.birthday_gift, CARD, local_midnight(date(2027, 3, 1)))
    assert ledger.birthday_gift(CARD, local_midnight(date(2028, 2, 29))).gift_year == 2028


def test_no_birthday_no_gift():
    ledger = make(birthday=None)
    assert not ledger.view(CARD, NOW).birthday_gift_due
    refused("no_birthday_gift_due", ledger.birthday_gift, CARD, NOW)


def test_new_member_gift_once_and_only_when_there_is_one():
    ledger = make()
    assert ledger.view(CARD, NOW).new_member_gift_due
    txn = do(ledger, ledger.new_member_gift(CARD, NOW))
    assert (txn.points_delta, txn.balance_delta_fen, txn.bonus_fen) == (100, 0, 0)
    assert not ledger.view(CARD, NOW).new_member_gift_due
    refused("gift_already_given", ledger.new_member_gift, CARD, NOW)
    rules = default_rules()
    assert not make(replace(rules, new_member=GiftRule(0, 0))).view(CARD, NOW).new_member_gift_due
    assert make(replace(rules, new_member=GiftRule(0, 1))).view(CARD, NOW).new_member_gift_due


def test_a_money_gift_is_bonus_credit():
    rules = default_rules()
    ledger = make(replace(rules, new_member=GiftRule(0, 500)))
    txn = do(ledger, ledger.new_member_gift(CARD, NOW))
    assert (txn.balance_after_fen, txn.bonus_fen, txn.points_expire_on) == (500, 500, None)
    assert (account(ledger).balance_fen, account(ledger).bonus_fen) == (500, 500)


# -- check-in streak -------------------------------------------------------------------------


def test_streak_bonus_on_every_seventh_day_only():
    ledger = make()
    points = [do(ledger, ledger.check_in(CARD, NOW + timedelta(days=d))).points_delta for d in range(15)]
    assert points == [5] * 6 + [35] + [5] * 6 + [35, 5]
    assert account(ledger).checkin_streak == 15


def test_check_in_once_per_local_day():
    ledger = make()
    last_minute = local_midnight(date(2026, 11, 24)) - SECOND
    do(ledger, ledger.check_in(CARD, last_minute))
    refused("already_checked_in", ledger.check_in, CARD, local_midnight(date(2026, 11, 23)))
    txn = do(ledger, ledger.check_in(CARD, last_minute + SECOND))
    assert txn.local_day == date(2026, 11, 24) and account(ledger).checkin_streak == 2


def test_check_in_switched_off_with_zero_points():
    rules = default_rules()
    off = make(replace(rules, engagement=replace(rules.engagement, checkin_points=0)))
    refused("check_in_disabled", off.check_in, CARD, NOW)
    one = make(replace(rules, engagement=replace(rules.engagement, checkin_points=1)))
    assert one.check_in(CARD, NOW).points_delta == 1


# -- survey ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("rating", "ok"), [(0, False), (1, True), (5, True), (6, False)])
def test_star_rating_from_1_to_5(rating, ok):
    ledger = make()
    if ok:
        assert do(ledger, ledger.survey(CARD, rating, (), NOW)).rating == rating
    else:
        refused("bad_rating", ledger.survey, CARD, rating, (), NOW)


# -- PIN -------------------------------------------------------------------------------------


def test_pin_lockout_on_the_fifth_failure_not_the_fourth():
    ledger = make()
    for left in (4, 3, 2, 1):
        ok, txn = ledger.check_pin(CARD, "000001", NOW)
        do(ledger, txn)
        member = ledger.state.members[txn.member_id]
        assert (ok, member.pin_locked_until, ledger.pin_attempts_left(member)) == (False, None, left)
    _, txn = ledger.check_pin(CARD, "000001", NOW)
    do(ledger, txn)
    member = ledger.state.members[txn.member_id]
    assert (member.pin_failures, ledger.pin_attempts_left(member)) == (5, 0)
    until = NOW + timedelta(minutes=15)
    assert member.pin_locked_until == until
    assert is_locked(member, until - SECOND) and not is_locked(member, until)
    refused("pin_locked", ledger.check_pin, CARD, PIN, until - SECOND)
    _, again = ledger.check_pin(CARD, "000001", until)  # a wrong PIN after the lockout locks again
    assert again.pin_locked_until == until + timedelta(minutes=15)


def test_a_locked_member_cannot_use_a_verified_pin():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 100_000, "p1", NOW))
    for _ in range(5):
        do(ledger, ledger.check_pin(CARD, "000001", NOW)[1])
    refused("pin_locked", ledger.spend, CARD, 20_001, NOW, pin_verified=True)
    refused("pin_locked", ledger.redeem, CARD, "coffee", NOW, pin_verified=True)
    assert ledger.spend(CARD, 20_001, NOW + timedelta(minutes=15), pin_verified=True).amount_fen == 20_001


def test_right_pin_with_no_failures_records_nothing():
    assert make().check_pin(CARD, PIN, NOW) == (True, None)


# -- sign-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "pin", "name", "birthday", "code"),
    [
        ("12345", PIN, "", None, "bad_phone"),
        ("1234567890123456", PIN, "", None, "bad_phone"),
        ("138-0013-8000", PIN, "", None, "bad_phone"),
        ("13900000000", "48291", "", None, "bad_pin_format"),
        ("13900000000", "4829150", "", None, "bad_pin_format"),
        ("13900000000", "４８２９１５", "", None, "bad_pin_format"),
        ("13900000000", "123456", "", None, "pin_too_simple"),
        ("13900000000", "654321", "", None, "pin_too_simple"),
        ("13900000000", PIN, "名" * 41, None, "bad_name"),
        ("13900000000", PIN, "", date(1899, 12, 31), "bad_birthday"),
        ("13900000000", PIN, "", date(2026, 11, 24), "bad_birthday"),  # tomorrow in Shanghai
    ],
)
def test_sign_up_refusals_at_each_edge(phone, pin, name, birthday, code):
    refused(code, make().sign_up, OTHER, 1, phone, pin, NOW, name, birthday)


def test_sign_up_accepted_at_each_edge():
    ledger = make()
    for i, (phone, name, birthday) in enumerate(
        [
            ("123456", "名" * 40, date(1900, 1, 1)),
            ("123456789012345", "", date(2026, 11, 23)),
            ("+8613900000000", "  Li  ", None),
        ]
    ):
        uid = f"04{i:012X}"
        txn = do(ledger, ledger.sign_up(uid, 0, phone, PIN, NOW, name, birthday))
        assert (txn.member_id, txn.name) == (f"M-store1-k1-{txn.seq}", name.strip())
        assert ledger.state.cards[uid].card_seq == 1


def test_a_returned_members_phone_may_sign_up_again():
    ledger = make()
    do(ledger, ledger.return_card(CARD, NOW))
    assert do(ledger, ledger.sign_up(OTHER, 1, "13800138000", PIN, NOW)).phone == "13800138000"


# -- staff operations ------------------------------------------------------------------------


def test_adjustment_to_exactly_zero_or_max_and_one_past():
    ledger = make()
    do(ledger, ledger.adjust(CARD, 1_000, 10, "correction", NOW))
    refused("adjustment_out_of_range", ledger.adjust, CARD, -1_001, 0, "correction", NOW)
    refused("adjustment_out_of_range", ledger.adjust, CARD, 0, -11, "correction", NOW)
    refused("adjustment_out_of_range", ledger.adjust, CARD, MAX_FEN - 999, 0, "correction", NOW)
    refused("reason_required", ledger.adjust, CARD, 1, 0, "  ", NOW)
    assert ledger.adjust(CARD, MAX_FEN - 1_000, 0, "correction", NOW).balance_after_fen == MAX_FEN
    txn = do(ledger, ledger.adjust(CARD, -1_000, -10, "correction", NOW))
    assert (txn.balance_after_fen, txn.points_after, txn.points_expire_on) == (0, 0, None)


def test_return_refund_with_and_without_forfeiting_the_bonus():
    ledger = make()
    do(ledger, ledger.top_up(CARD, 50_000, "p1", NOW))  # 50_000 paid + 2_500 bonus
    assert ledger.return_card(CARD, NOW).amount_fen == 50_000
    rules = default_rules()
    ledger = make(replace(rules, card_return=replace(rules.card_return, forfeit_bonus=False)))
    do(ledger, ledger.top_up(CARD, 50_000, "p1", NOW))
    txn = do(ledger, ledger.return_card(CARD, NOW))
    assert (txn.amount_fen, txn.balance_after_fen, txn.points_after) == (52_500, 0, 0)
    assert (account(ledger).bonus_fen, account(ledger).lots) == (0, ())
    refused("card_returned", ledger.return_card, CARD, NOW)


def test_a_blocked_card_can_be_returned_and_its_only_card_closes_the_member():
    ledger = make()
    do(ledger, ledger.block_card(CARD, "lost", NOW))
    do(ledger, ledger.return_card(CARD, NOW))  # a blocked card can be returned
    member_id = ledger.state.cards[CARD].member_id
    assert ledger.state.members[member_id].status == "closed"


def test_block_unblock_and_replace_only_from_the_right_status():
    ledger = make()
    refused("card_not_blocked", ledger.unblock_card, CARD, "found", NOW)
    do(ledger, ledger.block_card(CARD, "lost", NOW))
    refused("card_blocked", ledger.block_card, CARD, "lost", NOW)
    do(ledger, ledger.unblock_card(CARD, "found", NOW))
    assert ledger.state.cards[CARD].status == "active"
    refused("card_in_use", ledger.replace_card, CARD, CARD, NOW)
    do(ledger, ledger.replace_card(CARD, OTHER, NOW))
    refused("card_replaced", ledger.replace_card, CARD, "04000000000001", NOW)
    third = do(ledger, ledger.replace_card(OTHER, "04000000000001", NOW))
    assert third.card_seq == 3 and ledger.state.cards["04000000000001"].card_seq == 3
    assert ledger.state.cards[CARD].status == "replaced"
