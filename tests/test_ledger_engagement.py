"""Worked examples for check-in, referral rewards and the survey (kiosk/ledger/engagement.py) at
the edges mutation testing found: the streak's first day and its restart after a missed day,
rewards of exactly one point and of none, and what a refused survey says."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from kiosk.ledger.operations import Refused
from tests.test_ledger_boundaries import CARD, NOW, OTHER, PIN, do, make

DAY = timedelta(days=1)


def points_of_check_ins(ledger, days) -> list[int]:
    return [do(ledger, ledger.check_in(CARD, NOW + d * DAY)).points_delta for d in days]


def test_the_streak_bonus_comes_on_the_seventh_day_in_a_row_counted_again_after_a_missed_day():
    ledger = make()
    assert points_of_check_ins(ledger, range(6)) == [5] * 6
    assert points_of_check_ins(ledger, range(7, 14)) == [5] * 6 + [35]  # day 6 missed: day 7 is day one
    ledger = make()
    ledger.use_rules(replace(ledger.rules, engagement=replace(ledger.rules.engagement, streak_days=2)))
    assert points_of_check_ins(ledger, (0, 1, 2, 4, 5)) == [5, 35, 5, 5, 35]  # the shortest streak the rules allow


def referred(rules_change: dict):
    ledger = make()
    ledger.use_rules(replace(ledger.rules, engagement=replace(ledger.rules.engagement, **rules_change)))
    code = ledger.referral_code(ledger.state.cards[CARD].member_id)
    do(ledger, ledger.sign_up(OTHER, 1, "13900000000", PIN, NOW, referral_code=code))
    return ledger


def test_referral_rewards_of_one_point_are_given_and_of_none_are_not():
    ledger = referred({"referee_points": 1, "referrer_points": 1})
    assert [do(ledger, ledger.referral_reward(OTHER, NOW)).points_delta for _ in range(2)] == [1, 1]
    assert ledger.referral_reward(OTHER, NOW) is None
    assert referred({"referee_points": 0, "referrer_points": 0}).referral_reward(OTHER, NOW) is None


def test_a_referee_reward_taken_after_a_top_up_starts_from_that_balance():
    ledger = referred({})
    do(ledger, ledger.top_up(OTHER, 10_000, "p1", NOW))
    txn = ledger.referral_reward(OTHER, NOW)
    assert (txn.balance_before_fen, txn.points_before, txn.points_after) == (10_000, 100, 200)


def test_an_unknown_survey_reason_is_named_in_its_first_30_characters():
    ledger = make()
    reason = "a_reason_nobody_configured_here_at_all"
    with pytest.raises(Refused) as err:
        ledger.survey(CARD, 4, ("fast_service", reason), NOW)
    assert (err.value.code, err.value.detail) == ("bad_survey_reason", reason[:30])
