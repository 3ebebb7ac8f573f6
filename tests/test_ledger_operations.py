"""Worked examples of the rules, with numbers a store manager would check by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from kiosk.ledger.model import CardStatus, MemberStatus
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS, hash_pin, verify_pin
from kiosk.ledger.rules import GiftRule
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState, SequenceGap
from kiosk.ledger.txn import Kind

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CARD, NEW_CARD = "04A1B2C3D4E5F6", "04FFEEDDCCBBAA"
PIN = "482915"


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger(LedgerState(), default_rules(), "store1-k1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(CARD, 1, "13800138000", PIN, NOW, "王芳", date(1990, 11, 25)))
    return ledger


def do(ledger: Ledger, txn):
    result = ledger.apply(txn)
    assert result.applied and not result.conflict
    return txn


def test_top_up_with_bonus_and_points(ledger):
    txn = do(ledger, ledger.top_up(CARD, 100_000, "cash-001", NOW))
    assert (txn.amount_fen, txn.bonus_fen, txn.balance_after_fen) == (100_000, 8_000, 108_000)
    assert txn.points_after == 1_000  # 1 point per yuan paid, regular tier x1
    assert txn.points_expire_on == date(2027, 10, 31)  # end of the 12th month, November counted
    view = ledger.view(CARD, NOW)
    assert view.tier.id == "silver" and view.next_tier.id == "gold"
    assert view.to_next_tier_fen == 400_000
    # Silver earns x1.2 on the next top-up.
    assert do(ledger, ledger.top_up(CARD, 10_000, "cash-002", NOW)).points_delta == 120


def test_tier_falls_back_after_twelve_months(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash-001", NOW))
    assert ledger.view(CARD, NOW + timedelta(days=360)).tier.id == "silver"
    assert ledger.view(CARD, NOW + timedelta(days=370)).tier.id == "regular"


def test_points_expire_at_end_of_twelfth_month(ledger):
    do(ledger, ledger.top_up(CARD, 10_000, "cash-001", NOW))
    assert ledger.expire_points(CARD, datetime(2027, 10, 31, 15, 59, tzinfo=UTC)) is None  # 23:59 Shanghai
    txn = do(ledger, ledger.expire_points(CARD, datetime(2027, 10, 31, 16, 0, tzinfo=UTC)))
    assert txn.kind is Kind.POINTS_EXPIRY and txn.points_after == 0
    assert ledger.state.accounts[txn.member_id].points == 0


def test_refusals_name_the_reason_and_change_nothing(ledger):
    before = ledger.state.copy()
    cases = [
        (lambda: ledger.top_up(CARD, 999, "p", NOW), "amount_out_of_range"),
        (lambda: ledger.top_up(CARD, 500_001, "p", NOW), "amount_out_of_range"),
        (lambda: ledger.top_up(CARD, 10_000, "", NOW), "payment_ref_missing"),
        (lambda: ledger.top_up("04000000000000", 10_000, "p", NOW), "unknown_card"),
        (lambda: ledger.spend(CARD, 100, NOW), "insufficient_balance"),
        (lambda: ledger.redeem(CARD, "coffee", NOW, pin_verified=True), "insufficient_points"),
        (lambda: ledger.redeem(CARD, "nope", NOW), "reward_not_available"),
        (lambda: ledger.sign_up(CARD, 1, "13900000000", PIN, NOW), "card_in_use"),
        (lambda: ledger.sign_up(NEW_CARD, 1, "13800138000", PIN, NOW), "phone_in_use"),
        (lambda: ledger.sign_up(NEW_CARD, 1, "139", PIN, NOW), "bad_phone"),
        (lambda: ledger.sign_up(NEW_CARD, 1, "13900000000", "111111", NOW), "pin_too_simple"),
        (lambda: ledger.sign_up(NEW_CARD, 1, "13900000000", "12a456", NOW), "bad_pin_format"),
    ]
    for call, code in cases:
        with pytest.raises(Refused) as err:
            call()
        assert err.value.code == code
    assert ledger.state == before


def test_pin_lockout_after_five_failures_for_fifteen_minutes(ledger):
    for _ in range(5):
        ok, txn = ledger.check_pin(CARD, "000001", NOW)
        assert not ok
        do(ledger, txn)
    member = ledger.state.members[txn.member_id]
    assert member.pin_locked_until == NOW + timedelta(minutes=15)
    with pytest.raises(Refused, match="pin_locked"):
        ledger.check_pin(CARD, PIN, NOW + timedelta(minutes=14))
    ok, txn = ledger.check_pin(CARD, PIN, NOW + timedelta(minutes=15))
    assert ok and txn.kind is Kind.PIN_RESET
    do(ledger, txn)
    assert ledger.state.members[txn.member_id].pin_failures == 0


def test_pin_needed_for_big_spends_and_redemptions(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))
    do(ledger, ledger.spend(CARD, 20_000, NOW))  # at the threshold: no PIN
    with pytest.raises(Refused, match="pin_required"):
        ledger.spend(CARD, 20_001, NOW)
    with pytest.raises(Refused, match="pin_required"):
        ledger.redeem(CARD, "coffee", NOW)
    assert do(ledger, ledger.redeem(CARD, "coffee", NOW, pin_verified=True)).points_delta == -300


def test_flexible_reward_lets_the_member_choose_points(ledger):
    do(ledger, ledger.top_up(CARD, 10_000, "cash", NOW))
    with pytest.raises(Refused, match="bad_points_choice"):
        ledger.redeem(CARD, "voucher", NOW, points=150, pin_verified=True)
    txn = do(ledger, ledger.redeem(CARD, "voucher", NOW, points=100, pin_verified=True))
    assert (txn.points_delta, txn.amount_fen, txn.quantity) == (-100, 100, 1)


def test_stock_runs_out(ledger):
    do(ledger, ledger.adjust(CARD, 0, 20_000, "campaign", NOW))
    for _ in range(5):
        do(ledger, ledger.redeem(CARD, "mask-set", NOW, pin_verified=True))
    with pytest.raises(Refused, match="out_of_stock"):
        ledger.redeem(CARD, "mask-set", NOW, pin_verified=True)


def test_birthday_gift_once_a_year_within_the_window(ledger):
    with pytest.raises(Refused, match="no_birthday_gift_due"):
        ledger.birthday_gift(CARD, NOW - timedelta(days=10))
    do(ledger, ledger.birthday_gift(CARD, NOW))
    with pytest.raises(Refused, match="no_birthday_gift_due"):
        ledger.birthday_gift(CARD, NOW + timedelta(days=2))
    assert ledger.birthday_gift(CARD, NOW + timedelta(days=365)).gift_year == 2027


def test_offline_limit_applies_only_after_the_grace_period(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))
    ledger.spend(CARD, 15_000, NOW, offline_for=timedelta(hours=23), offline_spent_fen=10_000)
    with pytest.raises(Refused, match="offline_limit"):
        ledger.spend(CARD, 15_000, NOW, offline_for=timedelta(hours=25), offline_spent_fen=10_000)


def test_lost_card_then_replacement_moves_balance_and_points(ledger):
    do(ledger, ledger.top_up(CARD, 50_000, "cash", NOW))
    do(ledger, ledger.block_card(CARD, "lost on the bus", NOW))
    with pytest.raises(Refused, match="card_blocked"):
        ledger.top_up(CARD, 10_000, "cash", NOW)
    txn = do(ledger, ledger.replace_card(CARD, NEW_CARD, NOW))
    assert txn.card_seq == 2
    assert ledger.state.cards[CARD].status is CardStatus.REPLACED
    view = ledger.view(NEW_CARD, NOW)
    assert (view.account.balance_fen, view.account.points) == (52_500, 500)
    with pytest.raises(Refused, match="card_replaced"):
        ledger.lookup(CARD)


def test_return_refunds_paid_money_only(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))  # 1000 paid + 80 bonus
    do(ledger, ledger.spend(CARD, 30_000, NOW, pin_verified=True))
    txn = do(ledger, ledger.return_card(CARD, NOW))
    assert txn.amount_fen == 70_000  # the bonus is forfeited: top up, return, no profit
    assert ledger.state.members[txn.member_id].status is MemberStatus.CLOSED
    assert ledger.state.accounts[txn.member_id].balance_fen == 0


def test_apply_detects_conflicts_and_gaps():
    rules = default_rules()
    hq = LedgerState()
    kiosk_a = Ledger(LedgerState(), rules, "a", b"p", FAST_FOR_TESTS)
    signup = kiosk_a.sign_up(CARD, 1, "13800138000", PIN, NOW)
    kiosk_a.apply(signup)
    topup = kiosk_a.top_up(CARD, 20_000, "c", NOW)
    kiosk_a.apply(topup)
    kiosk_b = Ledger(kiosk_a.state.copy(), rules, "b", b"p", FAST_FOR_TESTS)
    spend_a, spend_b = kiosk_a.spend(CARD, 15_000, NOW), kiosk_b.spend(CARD, 15_000, NOW)
    kiosk_a.apply(spend_a)
    for txn in (signup, topup, spend_a):
        assert hq.apply(txn).applied
    result = hq.apply(spend_b)
    assert result.applied and "expected balance 20000" in result.conflict
    with pytest.raises(SequenceGap):
        hq.apply(replace(spend_a, seq=9, txn_id="a:9"))


def test_pin_hash_is_salted_peppered_and_never_clear():
    first, second = hash_pin("482915", b"pepper"), hash_pin("482915", b"pepper")
    assert first != second and "482915" not in first
    assert verify_pin("482915", b"pepper", first)
    assert not verify_pin("482915", b"other-pepper", first)
    assert not verify_pin("482916", b"pepper", first)
    assert not verify_pin("482915", b"pepper", "garbage")


def test_daily_check_in_with_streak_bonus(ledger):
    points = []
    for day in range(7):
        txn = do(ledger, ledger.check_in(CARD, NOW + timedelta(days=day)))
        points.append(txn.points_delta)
        with pytest.raises(Refused, match="already_checked_in"):
            ledger.check_in(CARD, NOW + timedelta(days=day, hours=3))
    assert points == [5, 5, 5, 5, 5, 5, 35]  # the 7th day in a row adds the 30-point streak bonus
    txn = do(ledger, ledger.check_in(CARD, NOW + timedelta(days=9)))  # a day missed: streak restarts
    assert txn.points_delta == 5 and ledger.state.accounts[txn.member_id].checkin_streak == 1


def test_referral_rewards_both_members_once(ledger):
    referrer_id = ledger.state.cards[CARD].member_id
    code = ledger.referral_code(referrer_id)
    assert len(code) == 8 and code.isalnum()
    with pytest.raises(Refused, match="unknown_referral_code"):
        ledger.sign_up(NEW_CARD, 1, "13900000000", PIN, NOW, referral_code="AAAAAAAA")
    do(ledger, ledger.sign_up(NEW_CARD, 1, "13900000000", PIN, NOW, referral_code=code.lower()))
    first = do(ledger, ledger.referral_reward(NEW_CARD, NOW))
    second = do(ledger, ledger.referral_reward(NEW_CARD, NOW))
    assert (first.member_id, first.points_delta) == (ledger.state.cards[NEW_CARD].member_id, 100)
    assert (second.member_id, second.points_delta) == (referrer_id, 200)
    assert ledger.referral_reward(NEW_CARD, NOW) is None


def test_survey_records_rating_and_known_reasons(ledger):
    txn = do(ledger, ledger.survey(CARD, 5, ("fast_service", "fast_service", "friendly_staff"), NOW))
    assert (txn.rating, txn.reasons) == (5, "fast_service,friendly_staff")
    with pytest.raises(Refused, match="bad_rating"):
        ledger.survey(CARD, 6, (), NOW)
    with pytest.raises(Refused, match="bad_survey_reason"):
        ledger.survey(CARD, 3, ("rude",), NOW)


def test_card_counter_is_recorded_once_and_only_upwards(ledger):
    written = do(ledger, ledger.purse_written(CARD, 4, NOW))
    assert (written.kind, written.card_counter, written.balance_delta_fen, written.points_delta) == (
        Kind.PURSE_WRITTEN, 4, 0, 0
    )
    assert ledger.state.cards[CARD].card_counter == 4
    assert ledger.purse_written(CARD, 4, NOW) is None  # nothing new
    assert ledger.purse_written(CARD, 2, NOW) is None
    assert ledger.state.accounts[written.member_id].recent == ()  # not an activity the member sees
    with pytest.raises(Refused, match="unknown_card"):
        ledger.purse_written(NEW_CARD, 1, NOW)


def test_a_record_that_moves_nothing_raises_no_balance_conflict():
    """A PIN failure made against a stale balance at an offline kiosk is not a money conflict."""
    rules = default_rules()
    kiosk_a = Ledger(LedgerState(), rules, "a", b"p", FAST_FOR_TESTS)
    signup = kiosk_a.sign_up(CARD, 1, "13800138000", PIN, NOW)
    kiosk_a.apply(signup)
    kiosk_b = Ledger(kiosk_a.state.copy(), rules, "b", b"p", FAST_FOR_TESTS)
    kiosk_a.apply(kiosk_a.top_up(CARD, 20_000, "c", NOW))
    _, failed = kiosk_b.check_pin(CARD, "000000", NOW)
    assert kiosk_a.apply(failed).conflict == ""


# -- edges found by mutation testing ---------------------------------------------------------

def refusal(call, *args, **kwargs) -> Refused:
    with pytest.raises(Refused) as err:
        call(*args, **kwargs)
    return err.value


def with_rules(ledger: Ledger, **changes) -> Ledger:
    ledger.use_rules(replace(ledger.rules, **changes))
    return ledger


def test_the_view_is_of_the_card_tapped(ledger):
    assert ledger.view(CARD, NOW).card == ledger.state.cards[CARD]


def test_a_reward_with_one_unit_left_is_affordable_none_left_is_not(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))  # 1,000 points
    ledger.state.stock["tote"] = 1
    assert "tote" in [r.id for r in ledger.affordable_rewards(CARD, NOW)]
    do(ledger, ledger.redeem(CARD, "tote", NOW, pin_verified=True))
    assert "tote" not in [r.id for r in ledger.affordable_rewards(CARD, NOW)]


def test_offline_a_card_may_spend_exactly_the_limit_when_nothing_was_spent_before(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))
    offline = timedelta(hours=25)
    assert ledger.spend(CARD, 20_000, NOW, offline_for=offline).amount_fen == 20_000
    err = refusal(ledger.spend, CARD, 20_001, NOW, pin_verified=True, offline_for=offline)
    assert (err.code, err.detail) == ("offline_limit", "20000 fen per card offline")


def test_a_flexible_reward_counts_steps_from_its_minimum_and_pays_fen_per_point(ledger):
    rules = ledger.rules
    fx = replace(rules.rewards[-1].flexible, min_points=100, max_points=1_000, step_points=300, fen_per_point=5)
    with_rules(ledger, rewards=rules.rewards + (replace(rules.rewards[-1], id="pot", flexible=fx),))
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))
    txn = ledger.redeem(CARD, "pot", NOW, points=400, pin_verified=True)  # 100 + one step of 300
    assert (txn.points_delta, txn.amount_fen) == (-400, 2_000) and type(txn.amount_fen) is int
    err = refusal(ledger.redeem, CARD, "pot", NOW, points=500, pin_verified=True)
    assert (err.code, err.detail) == ("bad_points_choice", "100..1000 step 300")


def test_a_reward_redeemed_for_points_is_worth_no_money(ledger):
    do(ledger, ledger.top_up(CARD, 100_000, "cash", NOW))
    assert ledger.redeem(CARD, "coffee", NOW, pin_verified=True).amount_fen == 0


def test_a_locked_pin_says_until_when(ledger):
    for _ in range(5):
        do(ledger, ledger.check_pin(CARD, "000001", NOW)[1])
    err = refusal(ledger.check_pin, CARD, PIN, NOW)
    assert (err.code, err.detail) == ("pin_locked", (NOW + timedelta(minutes=15)).isoformat())


def test_staff_operations_on_an_unknown_card_are_refused_by_name(ledger):
    assert refusal(ledger.block_card, "04000000000099", "lost", NOW).code == "unknown_card"


def test_the_referral_code_of_a_closed_member_is_unknown(ledger):
    code = ledger.referral_code(ledger.state.cards[CARD].member_id)
    do(ledger, ledger.return_card(CARD, NOW))
    assert refusal(ledger.sign_up, NEW_CARD, 1, "13900000000", PIN, NOW, referral_code=code).code == (
        "unknown_referral_code"
    )


def test_no_referrer_reward_once_the_referrer_has_no_active_card(ledger):
    code = ledger.referral_code(ledger.state.cards[CARD].member_id)
    do(ledger, ledger.sign_up(NEW_CARD, 1, "13900000000", PIN, NOW, referral_code=code))
    do(ledger, ledger.referral_reward(NEW_CARD, NOW))  # the new member's own
    do(ledger, ledger.block_card(CARD, "lost", NOW))
    assert ledger.referral_reward(NEW_CARD, NOW) is None


def test_a_welcome_gift_of_one_point_is_due(ledger):
    with_rules(ledger, new_member=GiftRule(points=1, balance_fen=0))
    assert ledger.view(CARD, NOW).new_member_gift_due
    with_rules(ledger, new_member=GiftRule(points=0, balance_fen=0))
    assert not ledger.view(CARD, NOW).new_member_gift_due


def test_pin_format_and_top_up_range_refusals_say_what_is_allowed(ledger):
    err = refusal(ledger.sign_up, NEW_CARD, 1, "13900000000", "48291", NOW)
    assert (err.code, err.detail) == ("bad_pin_format", "6 digits")
    err = refusal(ledger.top_up, CARD, 999, "cash", NOW)
    assert (err.code, err.detail) == ("amount_out_of_range", "1000..500000 fen")


def test_a_naive_time_is_refused_and_a_local_one_is_kept_in_utc(ledger):
    with pytest.raises(ValueError, match=r"^times are UTC and timezone-aware$"):
        ledger.top_up(CARD, 10_000, "cash", NOW.replace(tzinfo=None))
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    txn = ledger.top_up(CARD, 10_000, "cash", shanghai)
    assert txn.at == NOW and txn.at.tzinfo is UTC


def test_a_txn_names_the_rules_version_it_was_decided_under(ledger):
    with_rules(ledger, version=7)
    assert ledger.top_up(CARD, 10_000, "cash", NOW).rules_version == 7


def test_a_sign_up_keeps_the_card_seq_the_salt_and_no_name_when_none_is_given(ledger):
    salt = bytes(range(16))
    txn = ledger.sign_up(NEW_CARD, 2, "13900000000", PIN, NOW, salt=salt)
    assert (txn.name, txn.card_seq) == ("", 2)
    assert txn.pin_hash == hash_pin(PIN, b"pepper", FAST_FOR_TESTS, salt)
    do(ledger, txn)
    assert ledger.state.cards[NEW_CARD].card_seq == 2


def test_a_ledger_given_no_pepper_hashes_pins_with_none():
    plain = Ledger(LedgerState(), default_rules(), "store1-k1", pin_params=FAST_FOR_TESTS)
    assert verify_pin(PIN, b"", plain.sign_up(CARD, 1, "13800138000", PIN, NOW).pin_hash)


def test_a_sign_up_that_does_not_ask_about_notes_records_no_consent():
    ledger = Ledger(LedgerState(), default_rules(), "store1-k1", b"pepper", FAST_FOR_TESTS)
    txn = ledger.sign_up(CARD, 1, "13800138000", PIN, NOW)
    assert txn.notes_consent is False
    assert ledger.apply(txn).conflict == "" and ledger.state.members[txn.member_id].notes_consent is False
