"""`parse_rules` (kiosk/ledger/rules.py) read field by field: a document whose every value differs
from its default comes back as exactly the Rules it says; each limit is accepted at its edge and
refused one past it; and each refusal has its exact text, since the technician editing rules.json
reads the field's path and the problem (mutation testing left these open)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from kiosk.ledger.rules import (
    BirthdayRule,
    BonusStep,
    EngagementRules,
    FlexiblePoints,
    GiftRule,
    OfflinePolicy,
    PinPolicy,
    PointsRule,
    ReturnPolicy,
    Reward,
    RulesError,
    SegmentRules,
    Tier,
    TopUpRule,
    parse_rules,
)
from kiosk.ledger.rules_fields import LocalText
from tests.test_ledger_rules import GOOD, broken


def _doc(**sections) -> dict:
    doc = copy.deepcopy(GOOD)
    doc.update(sections)
    return doc


def _refused(doc: object) -> str:
    with pytest.raises(RulesError) as bad:
        parse_rules(doc, "rules.json")
    return str(bad.value)


def test_every_field_is_read_from_its_own_key():
    doc = _doc(
        version=7,
        timezone="Europe/Paris",
        tiers=[
            {"id": "top", "name": "Top", "min_topup_12m_fen": 900, "points_multiplier_pct": 1000, "discount_pct": 1},
            {"id": "base", "name": {"zh_CN": "基本", "en": "Base"}, "min_topup_12m_fen": 0, "points_multiplier_pct": 0,
             "discount_pct": 100},
        ],
        points={"fen_per_point": 1, "earn_on_topup": True, "earn_on_spend": False, "expiry_months": 120},
        topup={"min_fen": 10, "max_fen": 10, "presets_fen": [10],
               "bonus_steps": [{"min_fen": 9, "bonus_fen": 8}, {"min_fen": 2, "bonus_fen": 1}]},
        rewards=[
            {"id": "cup", "name": "Cup", "points_cost": 1, "stock": 0, "image": "cup.png",
             "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": "2026-01-01T00:00:01+08:00"},
            {"id": "cash", "name": "Cash", "points_cost": 2, "stock": 3,
             "flexible": {"min_points": 4, "max_points": 4, "step_points": 5, "fen_per_point": 6}},
        ],
        birthday={"gift": {"points": 11, "balance_fen": 12}, "window_days": 31},
        new_member={"points": 13, "balance_fen": 14},
        pin={"length": 8, "required_for_redemption": False, "spend_threshold_fen": 15, "max_attempts": 20,
             "lockout_minutes": 7 * 24 * 60},
        offline={"after_hours": 24 * 365, "max_spend_fen_per_card": 16},
        card_return={"forfeit_bonus": False},
        engagement={"checkin_points": 10_000, "streak_days": 365, "streak_bonus_points": 100_000, "referrer_points": 17,
                    "referee_points": 18, "survey_reasons": ["fast", "kind"], "profile_points": 19},
        segments={"active_days": 1, "at_risk_days": 2, "dormant_days": 3650},
        points_cash={"points_per_yuan": 50, "max_share_pct": 30},
        fees={"card_fee_fen": 500},
        staff_rewards={"per_card_fen": 200},
    )
    rules = parse_rules(doc, "rules.json")
    assert (rules.version, rules.timezone) == (7, "Europe/Paris")
    assert rules.tiers == (
        Tier("base", LocalText("基本", "Base"), 0, 0, 100),
        Tier("top", LocalText("Top", "Top"), 900, 1000, 1),
    )
    assert rules.points == PointsRule(1, True, False, 120)
    assert rules.topup == TopUpRule(10, 10, (10,), (BonusStep(2, 1), BonusStep(9, 8)))
    assert rules.rewards == (
        Reward("cup", LocalText("Cup", "Cup"), 1, 0, datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
               datetime(2025, 12, 31, 16, 0, 1, tzinfo=UTC), None, "cup.png"),
        Reward("cash", LocalText("Cash", "Cash"), 2, 3, None, None, FlexiblePoints(4, 4, 5, 6), None),
    )
    assert rules.birthday == BirthdayRule(GiftRule(11, 12), 31)
    assert rules.new_member == GiftRule(13, 14)
    assert rules.pin == PinPolicy(8, False, 15, 20, 7 * 24 * 60)
    assert rules.offline == OfflinePolicy(24 * 365, 16)
    assert rules.card_return == ReturnPolicy(False)
    assert rules.engagement == EngagementRules(10_000, 365, 100_000, 17, 18, ("fast", "kind"), 19)
    assert rules.segments == SegmentRules(1, 2, 3650)
    assert (rules.points_cash.points_per_yuan, rules.points_cash.max_share_pct) == (50, 30)
    assert (rules.fees.card_fee_fen, rules.staff_rewards.per_card_fen) == (500, 200)
    assert rules.vouchers.types[0].id == "welcome10"


def test_absent_optional_fields_take_their_defaults():
    doc = _doc(
        points={"fen_per_point": 100, "expiry_months": 12},
        birthday={"gift": {"points": 1}, "window_days": 0},
        new_member={"points": 0},
        pin={"required_for_redemption": True, "spend_threshold_fen": 0, "max_attempts": 1, "lockout_minutes": 1},
        offline={"after_hours": 0, "max_spend_fen_per_card": 0},
    )
    for section in ("timezone", "card_return", "engagement", "segments", "vouchers", "points_cash", "fees", "staff_rewards"):
        doc.pop(section, None)
    rules = parse_rules(doc)
    assert rules.timezone == "Asia/Shanghai"
    assert (rules.points.earn_on_topup, rules.points.earn_on_spend) == (False, True)
    assert (rules.birthday, rules.new_member) == (BirthdayRule(GiftRule(1, 0), 0), GiftRule(0, 0))
    assert rules.pin == PinPolicy(6, True, 0, 1, 1)
    assert rules.offline == OfflinePolicy(0, 0)
    assert rules.card_return == ReturnPolicy(True)
    assert rules.engagement == EngagementRules() == EngagementRules(0, 7, 0, 0, 0, (), 0)
    assert rules.segments == SegmentRules(30, 90, 180)
    assert (rules.vouchers.types, rules.points_cash.enabled, rules.fees.card_fee_fen, rules.staff_rewards.per_card_fen) == (
        (), False, 0, 0)


def test_the_lowest_limits_are_accepted():
    doc = _doc(
        version=1,
        tiers=[{"id": "t", "name": "T", "min_topup_12m_fen": 0, "points_multiplier_pct": 0, "discount_pct": 1}],
        points={"fen_per_point": 1, "expiry_months": 1},
        topup={"min_fen": 1, "max_fen": 1, "presets_fen": [1], "bonus_steps": [{"min_fen": 1, "bonus_fen": 0}]},
        rewards=[{"id": "r", "name": "R", "points_cost": 1, "stock": 0,
                  "flexible": {"min_points": 1, "max_points": 1, "step_points": 1, "fen_per_point": 1}}],
        pin={"length": 4, "required_for_redemption": True, "spend_threshold_fen": 0, "max_attempts": 1, "lockout_minutes": 1},
        engagement={"streak_days": 2, "survey_reasons": []},
    )
    rules = parse_rules(doc)
    assert (rules.version, rules.points.expiry_months, rules.pin.length, rules.engagement.streak_days) == (1, 1, 4, 2)
    assert rules.topup == TopUpRule(1, 1, (1,), (BonusStep(1, 0),))
    assert rules.rewards[0].flexible == FlexiblePoints(1, 1, 1, 1)
    assert parse_rules(_doc(version=2**31)).version == 2**31


_TIER = {"id": "x", "name": "X", "min_topup_12m_fen": 0, "points_multiplier_pct": 100, "discount_pct": 100}


@pytest.mark.parametrize(("doc", "message"), [
    ([], "the document must be a JSON object"),
    (_doc(version=0), "version: must be between 1 and 2147483648, got 0"),
    (_doc(version=2**31 + 1), "version: must be between 1 and 2147483648, got 2147483649"),
    (_doc(timezone="Mars/Olympus"), "timezone: unknown time zone 'Mars/Olympus' (an IANA name like Asia/Shanghai)"),
    (_doc(timezone="Asia/" + "x" * 70), f"timezone: unknown time zone {('Asia/' + 'x' * 70)[:64]!r} (an IANA name like Asia/Shanghai)"),
    (_doc(timezone="../etc"), "timezone: unknown time zone '../etc' (an IANA name like Asia/Shanghai)"),
    (_doc(tiers={}), "tiers: must be a list"),
    (_doc(tiers=[_TIER, 5]), "tiers[1]: must be an object"),
    (_doc(tiers=[_TIER, dict(_TIER, id="y", min_topup_12m_fen=5, colour=1)]), "tiers[1].colour: unknown field (known: "
     "discount_pct, id, min_topup_12m_fen, name, points_multiplier_pct)"),
    (_doc(tiers=[]), "tiers: needs at least one tier"),
    (_doc(tiers=[dict(_TIER, min_topup_12m_fen=1)]), "tiers: the lowest tier must start at min_topup_12m_fen 0"),
    (_doc(tiers=[_TIER, dict(_TIER, min_topup_12m_fen=5)]), "tiers: tier ids must be unique"),
    (_doc(tiers=[_TIER, dict(_TIER, id="y")]), "tiers: two tiers have the same min_topup_12m_fen"),
    (_doc(tiers=[dict(_TIER, points_multiplier_pct=1001)]), "tiers[0].points_multiplier_pct: must be between 0 and 1000, got 1001"),
    (_doc(tiers=[dict(_TIER, discount_pct=101)]), "tiers[0].discount_pct: must be between 1 and 100, got 101"),
    (_doc(tiers=[dict(_TIER, min_topup_12m_fen=-1)]), "tiers[0].min_topup_12m_fen: must be between 0 and 100000000, got -1"),
    (_doc(tiers=[dict(_TIER, id="a b")]), "tiers[0].id: must be 1-64 of A-Z a-z 0-9 _ . : - (starting with a letter or digit), got 'a b'"),
    (_doc(tiers=[dict(_TIER, name=1)]), "tiers[0].name: must be a string or {zh_CN, en}"),
    (_doc(points=[]), "points: must be an object"),
    (broken("points.fen_per_point", 0), "points.fen_per_point: must be between 1 and 100000000, got 0"),
    (broken("points.earn_on_topup", 1), "points.earn_on_topup: must be true or false, got 1"),
    (broken("points.earn_on_spend", 0), "points.earn_on_spend: must be true or false, got 0"),
    (broken("points.expiry_months", 0), "points.expiry_months: must be between 1 and 120, got 0"),
    (broken("points.expiry_months", 121), "points.expiry_months: must be between 1 and 120, got 121"),
    (broken("points.typo", 1), "points.typo: unknown field (known: earn_on_spend, earn_on_topup, expiry_months, fen_per_point)"),
    (_doc(topup=5), "topup: must be an object"),
    (broken("topup.bonus_steps", {}), "topup.bonus_steps: must be a list"),
    (broken("topup.bonus_steps", [5]), "topup.bonus_steps[0]: must be an object"),
    (broken("topup.bonus_steps", [{"min_fen": 0, "bonus_fen": 0}]), "topup.bonus_steps[0].min_fen: must be between 1 and 100000000, got 0"),
    (broken("topup.bonus_steps", [{"min_fen": 5, "bonus_fen": -1}]), "topup.bonus_steps[0].bonus_fen: must be between 0 and 100000000, got -1"),
    (broken("topup.bonus_steps", [{"min_fen": 5, "bonus_fen": 0, "x": 1}]), "topup.bonus_steps[0].x: unknown field (known: bonus_fen, min_fen)"),
    (broken("topup.bonus_steps", [{"min_fen": 900, "bonus_fen": 1}, {"min_fen": 5, "bonus_fen": 5}]),
     "topup.bonus_steps[0].bonus_fen: must be below the step's min_fen"),  # counted after sorting by min_fen
    (broken("topup.min_fen", 0), "topup.min_fen: must be between 1 and 100000000, got 0"),
    (broken("topup.max_fen", 0), "topup.max_fen: must be between 1 and 100000000, got 0"),
    (broken("topup.min_fen", 500_001), "topup.min_fen: is above topup.max_fen"),
    (broken("topup.presets_fen", 5), "topup.presets_fen: must be a list"),
    (broken("topup.presets_fen", [5000, 0]), "topup.presets_fen[1]: must be between 1 and 100000000, got 0"),
    (broken("topup.presets_fen", [1000, 999]), "topup.presets_fen[1]: is outside topup.min_fen..max_fen"),
    (broken("topup.presets_fen", [500_000, 500_001]), "topup.presets_fen[1]: is outside topup.min_fen..max_fen"),
    (_doc(rewards={}), "rewards: must be a list"),
    (_doc(rewards=[5]), "rewards[0]: must be an object"),
    (broken("rewards.3.flexible", 5), "rewards[3].flexible: must be an object"),
    (broken("rewards.3.flexible.min_points", 0), "rewards[3].flexible.min_points: must be between 1 and 100000000, got 0"),
    (broken("rewards.3.flexible.max_points", 0), "rewards[3].flexible.max_points: must be between 1 and 100000000, got 0"),
    (broken("rewards.3.flexible.step_points", 0), "rewards[3].flexible.step_points: must be between 1 and 100000000, got 0"),
    (broken("rewards.3.flexible.fen_per_point", 0), "rewards[3].flexible.fen_per_point: must be between 1 and 100000000, got 0"),
    (broken("rewards.3.flexible.min_points", 5001), "rewards[3].flexible.min_points: is above max_points"),
    (broken("rewards.1.id", "a b"), "rewards[1].id: must be 1-64 of A-Z a-z 0-9 _ . : - (starting with a letter or digit), got 'a b'"),
    (broken("rewards.1.name", 1), "rewards[1].name: must be a string or {zh_CN, en}"),
    (broken("rewards.1.points_cost", 0), "rewards[1].points_cost: must be between 1 and 100000000, got 0"),
    (broken("rewards.1.stock", -1), "rewards[1].stock: must be between 0 and 100000000, got -1"),
    (broken("rewards.2.valid_from", "soon"), "rewards[2].valid_from: must be an ISO 8601 time with a zone, got 'soon'"),
    (broken("rewards.2.valid_to", "2026-01-01T00:00:00+08:00"), "rewards[2].valid_to: must be after valid_from"),
    (broken("rewards.1.image", "../x.png"), None),  # the image hint: tests/test_rules_fields.py
    (broken("rewards.1.id", "coffee"), "rewards: reward ids must be unique"),
    (_doc(birthday=5), "birthday: must be an object"),
    (broken("birthday.gift", 5), "birthday.gift: must be an object"),
    (broken("birthday.gift.points", -1), "birthday.gift.points: must be between 0 and 100000000, got -1"),
    (broken("birthday.gift.balance_fen", -1), "birthday.gift.balance_fen: must be between 0 and 100000000, got -1"),
    (broken("birthday.window_days", 32), "birthday.window_days: must be between 0 and 31, got 32"),
    (broken("birthday.window_days", -1), "birthday.window_days: must be between 0 and 31, got -1"),
    (_doc(new_member=5), "new_member: must be an object"),
    (broken("new_member.points", KeyError), "new_member.points: is missing"),
    (broken("new_member.balance_fen", -1), "new_member.balance_fen: must be between 0 and 100000000, got -1"),
    (broken("new_member.gift", 1), "new_member.gift: unknown field (known: balance_fen, points)"),
    (_doc(pin=5), "pin: must be an object"),
    (broken("pin.length", 3), "pin.length: must be between 4 and 8, got 3"),
    (broken("pin.length", 9), "pin.length: must be between 4 and 8, got 9"),
    (broken("pin.required_for_redemption", KeyError), "pin.required_for_redemption: is missing"),
    (broken("pin.spend_threshold_fen", -1), "pin.spend_threshold_fen: must be between 0 and 100000000, got -1"),
    (broken("pin.max_attempts", 21), "pin.max_attempts: must be between 1 and 20, got 21"),
    (broken("pin.lockout_minutes", 0), "pin.lockout_minutes: must be between 1 and 10080, got 0"),
    (broken("pin.lockout_minutes", 10081), "pin.lockout_minutes: must be between 1 and 10080, got 10081"),
    (_doc(offline=5), "offline: must be an object"),
    (broken("offline.after_hours", -1), "offline.after_hours: must be between 0 and 8760, got -1"),
    (broken("offline.after_hours", 8761), "offline.after_hours: must be between 0 and 8760, got 8761"),
    (broken("offline.max_spend_fen_per_card", -1), "offline.max_spend_fen_per_card: must be between 0 and 100000000, got -1"),
    (broken("offline.x", 1), "offline.x: unknown field (known: after_hours, max_spend_fen_per_card)"),
    (_doc(card_return=[]), "card_return: must be an object"),
    (broken("card_return.forfeit_bonus", 1), "card_return.forfeit_bonus: must be true or false, got 1"),
    (broken("card_return.x", 1), "card_return.x: unknown field (known: forfeit_bonus)"),
    (_doc(engagement=[]), "engagement: must be an object"),
    (broken("engagement.x", 1), "engagement.x: unknown field (known: checkin_points, profile_points, referee_points, "
     "referrer_points, streak_bonus_points, streak_days, survey_reasons)"),
    (broken("engagement.survey_reasons", "fast"), "engagement.survey_reasons: must be a list"),
    (broken("engagement.survey_reasons", ["fast", "too slow"]),
     "engagement.survey_reasons[1]: must be a short identifier like 'fast_service'"),
    (broken("engagement.survey_reasons", [5]), "engagement.survey_reasons[0]: must be a short identifier like 'fast_service'"),
    (broken("engagement.checkin_points", 10_001), "engagement.checkin_points: must be between 0 and 10000, got 10001"),
    (broken("engagement.checkin_points", -1), "engagement.checkin_points: must be between 0 and 10000, got -1"),
    (broken("engagement.streak_days", 1), "engagement.streak_days: must be between 2 and 365, got 1"),
    (broken("engagement.streak_days", 366), "engagement.streak_days: must be between 2 and 365, got 366"),
    (broken("engagement.streak_bonus_points", 100_001), "engagement.streak_bonus_points: must be between 0 and 100000, got 100001"),
    (broken("engagement.referrer_points", 100_001), "engagement.referrer_points: must be between 0 and 100000, got 100001"),
    (broken("engagement.referee_points", 100_001), "engagement.referee_points: must be between 0 and 100000, got 100001"),
    (broken("engagement.profile_points", 100_001), "engagement.profile_points: must be between 0 and 100000, got 100001"),
    (broken("engagement.referee_points", -1), "engagement.referee_points: must be between 0 and 100000, got -1"),
    (_doc(segments={"active_days": 90, "at_risk_days": 90}), "segments: needs active_days < at_risk_days < dormant_days"),
    (_doc(segments={"at_risk_days": 180}), "segments: needs active_days < at_risk_days < dormant_days"),
    (_doc(segments={"x": 1}), "segments.x: unknown field (known: active_days, at_risk_days, dormant_days)"),
    (_doc(vouchers2={}), "vouchers2: unknown field (did you mean 'vouchers'?)"),
    (_doc(timezone=5), "timezone: must be a non-empty string, got 5"),
    (broken("topup.x", 1), "topup.x: unknown field (known: bonus_steps, max_fen, min_fen, presets_fen)"),
    (broken("rewards.0.x", 1), "rewards[0].x: unknown field (known: flexible, id, image, name, points_cost, stock, valid_from, "
     "valid_to)"),
    (broken("rewards.3.flexible.x", 1), "rewards[3].flexible.x: unknown field (known: fen_per_point, max_points, min_points, "
     "step_points)"),
    (broken("rewards.2.valid_to", "soon"), "rewards[2].valid_to: must be an ISO 8601 time with a zone, got 'soon'"),
    (broken("birthday.x", 1), "birthday.x: unknown field (known: gift, window_days)"),
    (broken("birthday.gift.x", 1), "birthday.gift.x: unknown field (known: balance_fen, points)"),
    (broken("pin.x", 1), "pin.x: unknown field (known: length, lockout_minutes, max_attempts, required_for_redemption, "
     "spend_threshold_fen)"),
    (_doc(vouchers=[]), "vouchers: must be an object"),
    (_doc(points_cash=[]), "points_cash: must be an object"),
    (_doc(fees=[]), "fees: must be an object"),
    (_doc(staff_rewards=[]), "staff_rewards: must be an object"),
])
def test_each_wrong_value_is_refused_with_its_exact_text(doc, message):
    text = _refused(doc)
    if message is None:
        assert text.startswith("rules.json: rewards[1].image: ")
    else:
        assert text == f"rules.json: {message}"


def test_a_document_that_is_not_an_object_is_named_as_a_whole_from_the_default_source():
    with pytest.raises(RulesError) as bad:
        parse_rules([])
    assert (bad.value.field, str(bad.value)) == ("", "<rules>: the document must be a JSON object")
