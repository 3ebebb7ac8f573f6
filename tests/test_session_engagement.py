"""Engagement at the kiosk: daily check-in, referral sign-up, the after-visit survey and the
home screen's "what next" — driven through the real session, store, reader and card format."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.ledger.sample import default_rules
from kiosk.ledger.txn import Kind
from kiosk.reader.card import issue_card
from tests.session_support import DEVICE, KEYS, PIN, make_kiosk, staff_card

DAY = 24 * 3600


@pytest.fixture
def kiosk(tmp_path):
    k = make_kiosk(tmp_path)
    yield k
    k.store.close()


def kinds(k) -> list[str]:
    return [str(t.kind) for t in k.store.outbox()]


def uid_of(chip) -> str:
    return chip.uid.hex().upper()


# -- daily check-in ------------------------------------------------------------------------


def test_check_in_once_a_day_with_the_streak_bonus(kiosk):
    rule = kiosk.ledger.rules.engagement
    chip = kiosk.member()
    points = kiosk.account(chip).points
    s = kiosk.session
    for day in range(1, rule.streak_days + 1):
        kiosk.tap(chip)
        assert s.view.member.check_in_offered
        assert s.check_in()
        assert kiosk.state == "done"
        bonus = rule.streak_bonus_points if day == rule.streak_days else 0
        points += rule.checkin_points + bonus
        msg = s.view.message
        assert msg.code == "checked_in"
        assert msg.params == {
            "points": rule.checkin_points + bonus,
            "streak_bonus": bonus,
            "streak": day,
            "total_points": points,
        }
        assert kiosk.account(chip).points == points
        assert not s.check_in()  # a double tap on the done screen does nothing
        assert s.dismiss() and kiosk.state == "home"
        assert not s.view.member.check_in_offered and s.view.member.checkin_streak == day
        before = kinds(kiosk)
        assert s.check_in()  # the same day again: refused, nothing written
        assert (kiosk.state, s.view.message.code) == ("notice", "already_checked_in")
        assert kinds(kiosk) == before
        kiosk.lift()
        kiosk.clock.advance(DAY)
    assert kinds(kiosk).count("check_in") == rule.streak_days
    kiosk.clock.advance(DAY)  # a day missed: the streak starts again
    kiosk.tap(chip)
    assert s.check_in() and s.view.message.params["streak"] == 1


def test_check_in_switched_off_is_not_offered(tmp_path):
    rules = default_rules()
    k = make_kiosk(tmp_path, rules=replace(rules, engagement=replace(rules.engagement, checkin_points=0)))
    try:
        k.tap(k.member())
        assert not k.session.view.member.check_in_offered
        before = kinds(k)
        assert k.session.check_in()
        assert (k.state, k.session.view.message.code) == ("notice", "check_in_disabled")
        assert kinds(k) == before
    finally:
        k.store.close()


# -- referral ------------------------------------------------------------------------------


def sign_up(k, chip, referral_code: str) -> None:
    k.tap(chip)
    s = k.session
    assert s.start_signup()
    assert s.submit_details("13912345678", "Li", referral_code=referral_code)


def test_home_shows_the_referral_code_and_a_sign_up_with_it_rewards_both(kiosk):
    rule = kiosk.ledger.rules.engagement
    friend = kiosk.member()
    kiosk.tap(friend)
    code = kiosk.session.view.member.referral_code
    member_id = kiosk.ledger.state.cards[uid_of(friend)].member_id
    assert code == kiosk.ledger.referral_code(member_id) and len(code) == 8
    kiosk.lift()
    friend_points = kiosk.account(friend).points
    before = len(kinds(kiosk))

    chip = kiosk.blank()
    sign_up(kiosk, chip, f"  {code.lower()} ")  # typed loosely: still the code
    s = kiosk.session
    assert kiosk.state == "signup_privacy" and s.view.signup.referral_code == code
    s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    kiosk.run()
    assert kiosk.state == "done"
    msg = s.view.message
    assert msg.code == "signup_done" and msg.params["referral_points"] == rule.referee_points
    assert kinds(kiosk)[before:] == [  # the vouchers: the new member's, then the referrer's (the sample rules' gifts)
        "sign_up", "new_member_gift", "voucher_issued", "referral_reward", "referral_reward", "voucher_issued",
        "purse_written",
    ]
    new_points = kiosk.ledger.rules.new_member.points + rule.referee_points
    assert kiosk.account(chip).points == new_points == msg.params["points"]
    assert kiosk.account(friend).points == friend_points + rule.referrer_points
    new_member = kiosk.ledger.state.members[kiosk.ledger.state.cards[uid_of(chip)].member_id]
    assert new_member.referred_by == member_id
    assert f"referral:{new_member.member_id}" in kiosk.account(friend).voucher_reasons  # the referrer's voucher


def test_unknown_referral_code_is_refused_on_the_details_screen(kiosk):
    chip = kiosk.blank()
    before = kinds(kiosk)
    sign_up(kiosk, chip, "AAAAAAAA")
    s = kiosk.session
    assert (kiosk.state, s.view.message.code) == ("signup_details", "unknown_referral_code")
    assert kinds(kiosk) == before and uid_of(chip) not in kiosk.ledger.state.cards
    assert s.submit_details("13912345678", "Li", referral_code="")  # without a code it goes on
    assert kiosk.state == "signup_privacy" and s.view.message is None
    s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    kiosk.run()
    assert s.view.message.params["referral_points"] == 0
    assert "referral_reward" not in kinds(kiosk)


def test_sign_up_without_a_referral_code_gives_no_referral_points(kiosk):
    sign_up(kiosk, kiosk.blank(), "")
    kiosk.session.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    kiosk.run()
    assert kiosk.state == "done" and kiosk.session.view.survey is None  # no survey after a sign-up
    assert kiosk.session.view.message.params["referral_points"] == 0


# -- survey --------------------------------------------------------------------------------


def top_up_done(k, chip) -> None:
    k.tap(chip)
    s = k.session
    assert s.start_topup() and s.choose_amount(10_000) and s.pay("staff_cash")
    k.lift()
    k.tap(staff_card())
    k.lift()
    k.tap(chip)
    assert k.state == "done"


def test_survey_after_a_top_up_is_committed(kiosk):
    chip = kiosk.member()
    top_up_done(kiosk, chip)
    s = kiosk.session
    reasons = kiosk.ledger.rules.engagement.survey_reasons
    assert s.view.survey is not None and s.view.survey.reasons == reasons
    assert s.view.message.code == "topup_done"
    before = kinds(kiosk)
    assert not s.rate(True) and not s.rate(3, "fast_service")  # not a rating at all: ignored
    for stars in (0, 6):  # out of range: the ledger's refusal is the one answer, the offer stays
        assert s.rate(stars)
        assert s.view.message.code == "bad_rating" and s.view.survey is not None
    assert s.rate(4, ["fast_service", "no_such_reason"])  # refused by the rules: the offer stays
    assert s.view.message.code == "bad_survey_reason" and s.view.survey is not None
    assert kinds(kiosk) == before
    assert s.rate(4, [reasons[0], reasons[1]])
    assert kinds(kiosk) == before + ["survey"]
    survey = kiosk.store.outbox()[-1]
    assert survey.kind is Kind.SURVEY and survey.rating == 4 and survey.reasons == f"{reasons[0]},{reasons[1]}"
    assert survey.balance_delta_fen == 0 and survey.points_delta == 0
    assert s.view.survey is None and s.view.message.code == "survey_thanks"
    assert not s.rate(5)  # once per visit's result
    assert s.dismiss() and kiosk.state == "home"


def test_survey_after_a_redemption_can_be_skipped(kiosk):
    chip = kiosk.member(balance_fen=50_000)
    kiosk.tap(chip)
    s = kiosk.session
    assert s.start_redeem() and s.choose_reward("coffee") and s.confirm()
    kiosk.enter_pin("246810")
    assert kiosk.state == "done" and s.view.survey is not None
    before = kinds(kiosk)
    assert s.dismiss() and kiosk.state == "home"
    assert not s.rate(5)
    assert kinds(kiosk) == before


def test_card_removed_mid_survey_leaves_nothing_half_done(kiosk):
    chip = kiosk.member()
    top_up_done(kiosk, chip)
    before = kinds(kiosk)
    kiosk.lift()
    assert kiosk.state == "idle" and kiosk.session.view.survey is None
    assert not kiosk.session.rate(5)
    assert kinds(kiosk) == before
    kiosk.tap(chip)  # the next visit starts clean
    assert kiosk.state == "home" and kiosk.session.view.survey is None


def test_no_survey_after_a_check_in(kiosk):
    kiosk.tap(kiosk.member())
    assert kiosk.session.check_in()
    assert kiosk.session.view.survey is None and not kiosk.session.rate(5)


# -- what next -----------------------------------------------------------------------------


def test_home_says_how_far_the_next_reward_and_tier_are(kiosk):
    chip = kiosk.member(balance_fen=10_000)  # 100 gift + 100 points
    kiosk.tap(chip)
    m = kiosk.session.view.member
    rules, now = kiosk.ledger.rules, kiosk.clock.now()
    out_of_reach = sorted(
        (r.points_cost, r.id) for r in rules.rewards if r.points_cost > m.points and r.is_valid_at(now)
    )
    cost, reward_id = out_of_reach[0]
    assert reward_id == "coffee" and m.points == 200
    assert m.to_next_reward_points == cost - 200
    assert m.next_reward_name.get("en") == "Americano"
    assert m.to_next_tier_fen == 100_000 - 10_000
    kiosk.store.commit(kiosk.ledger.adjust(uid_of(chip), 0, 10_000, "rich", now))
    kiosk.lift()
    kiosk.tap(chip)
    assert kiosk.session.view.member.next_reward_name is None
    assert kiosk.session.view.member.to_next_reward_points == 0


def test_referral_reward_cut_off_by_a_power_cut_is_given_at_the_next_tap(kiosk):
    """Sign-up and the new member's reward were committed, then the power went: the referrer's
    reward is still due and the next tap of the new card gives it (once)."""
    rule = kiosk.ledger.rules.engagement
    friend = kiosk.member()
    friend_id = kiosk.ledger.state.cards[uid_of(friend)].member_id
    chip = kiosk.blank()
    uid, now = uid_of(chip), kiosk.clock.now()
    code = kiosk.ledger.referral_code(friend_id)
    sign_up_txn = kiosk.ledger.sign_up(uid, 1, "13800009999", PIN, now, referral_code=code)
    kiosk.store.commit(sign_up_txn)
    kiosk.reader.place(chip)
    issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, sign_up_txn.member_id, 1, now.date(), DEVICE)
    kiosk.reader.remove()
    kiosk.store.commit(kiosk.ledger.referral_reward(uid, now))  # the new member's: committed before the cut
    friend_points = kiosk.account(friend).points
    kiosk.tap(chip)
    assert kiosk.state == "home"
    assert kiosk.account(friend).points == friend_points + rule.referrer_points
    kiosk.lift()
    kiosk.tap(chip)
    assert kiosk.account(friend).points == friend_points + rule.referrer_points
    assert kinds(kiosk).count("referral_reward") == 2
