"""The programme's rules: tiers, points, top-up bonus, rewards, gifts, PIN and offline policy.

HQ owns them and replaces them as a whole versioned document (JSON). `parse_rules` is the one
checker: a wrong type, a negative amount, an unknown tier or a reward without a cost is refused
with the file and the field named, and nothing is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.ledger import strict_json
from kiosk.ledger.points_cash import PointsCashRule, parse_points_cash
from kiosk.ledger.rules_fields import (  # noqa: F401 - MAX_FEN, SAFE_ID..., RulesError are this module's API too
    _ZONE,
    MAX_FEN,
    SAFE_ID,
    SAFE_ID_HINT,
    LocalText,
    RulesError,
    _Fields,
    visible_text,
)
from kiosk.ledger.sales_rules import FeeRules, StaffRewardRules, parse_fees, parse_staff_rewards
from kiosk.ledger.voucher_rules import VoucherRules, parse_vouchers


@dataclass(frozen=True)
class Tier:
    id: str
    name: LocalText
    min_topup_12m_fen: int  # rolling 12-month top-ups needed to hold this tier
    points_multiplier_pct: int  # 100 = x1
    discount_pct: int  # price paid at the till, 100 = no discount, 95 = 5% off


@dataclass(frozen=True)
class PointsRule:
    fen_per_point: int
    earn_on_topup: bool
    earn_on_spend: bool
    expiry_months: int  # points earned in month M expire at the end of month M + expiry_months - 1


@dataclass(frozen=True)
class BonusStep:
    min_fen: int
    bonus_fen: int


@dataclass(frozen=True)
class TopUpRule:
    min_fen: int
    max_fen: int
    presets_fen: tuple[int, ...]
    bonus_steps: tuple[BonusStep, ...]  # sorted by min_fen; the highest step reached applies

    def bonus_for(self, amount_fen: int) -> int:
        bonus = 0
        for step in self.bonus_steps:
            if amount_fen >= step.min_fen:
                bonus = step.bonus_fen
        return bonus


@dataclass(frozen=True)
class FlexiblePoints:
    """A reward where the member chooses how many points to use (e.g. a cash voucher)."""

    min_points: int
    max_points: int
    step_points: int
    fen_per_point: int  # voucher value per point


@dataclass(frozen=True)
class Reward:
    id: str
    name: LocalText
    points_cost: int  # per unit; for flexible rewards the minimum
    stock: int
    valid_from: datetime | None
    valid_to: datetime | None
    flexible: FlexiblePoints | None = None
    image: str | None = None  # a file name in the kiosk's reward image folders; None: the default picture

    def is_valid_at(self, now: datetime) -> bool:
        return (self.valid_from is None or now >= self.valid_from) and (
            self.valid_to is None or now < self.valid_to
        )


@dataclass(frozen=True)
class GiftRule:
    points: int
    balance_fen: int


@dataclass(frozen=True)
class BirthdayRule:
    gift: GiftRule
    window_days: int  # the gift can be taken this many days before or after the birthday


@dataclass(frozen=True)
class PinPolicy:
    length: int
    required_for_redemption: bool
    spend_threshold_fen: int  # spends above this need the PIN
    max_attempts: int
    lockout_minutes: int


@dataclass(frozen=True)
class OfflinePolicy:
    after_hours: int  # HQ unreachable longer than this: the per-card limit applies
    max_spend_fen_per_card: int


@dataclass(frozen=True)
class ReturnPolicy:
    forfeit_bonus: bool  # bonus credit still on the card is not refunded (no bonus farming)


@dataclass(frozen=True)
class EngagementRules:
    """Daily check-in, referral and survey rewards; all zero means switched off."""

    checkin_points: int = 0
    streak_days: int = 7  # every streak_days-th consecutive day earns the streak bonus too
    streak_bonus_points: int = 0
    referrer_points: int = 0
    referee_points: int = 0
    survey_reasons: tuple[str, ...] = ()
    profile_points: int = 0  # once, when the member's own edit completes name, phone and birthday


@dataclass(frozen=True)
class SegmentRules:
    """Days since the last visit that separate active / at risk / dormant / lost members."""

    active_days: int = 30
    at_risk_days: int = 90
    dormant_days: int = 180


@dataclass(frozen=True)
class Rules:
    version: int
    timezone: str  # the store's zone: birthdays, month ends and "today" are local dates
    tiers: tuple[Tier, ...]  # sorted by min_topup_12m_fen, the first at 0
    points: PointsRule
    topup: TopUpRule
    rewards: tuple[Reward, ...]
    birthday: BirthdayRule
    new_member: GiftRule
    pin: PinPolicy
    offline: OfflinePolicy
    card_return: ReturnPolicy
    engagement: EngagementRules = EngagementRules()
    segments: SegmentRules = SegmentRules()
    vouchers: VoucherRules = VoucherRules()
    points_cash: PointsCashRule = PointsCashRule()
    fees: FeeRules = FeeRules()
    staff_rewards: StaffRewardRules = StaffRewardRules()

    def reward(self, reward_id: str) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)

    def tier_for_topups(self, topup_12m_fen: int) -> Tier:
        current = self.tiers[0]
        for tier in self.tiers:
            if topup_12m_fen >= tier.min_topup_12m_fen:
                current = tier
        return current

    def next_tier(self, tier: Tier) -> Tier | None:
        index = self.tiers.index(tier)
        return self.tiers[index + 1] if index + 1 < len(self.tiers) else None

    def local_date(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.timezone)).date()



_TIER_KEYS = frozenset({"id", "name", "min_topup_12m_fen", "points_multiplier_pct", "discount_pct"})
_POINTS_KEYS = frozenset({"fen_per_point", "earn_on_topup", "earn_on_spend", "expiry_months"})
_TOPUP_KEYS = frozenset({"min_fen", "max_fen", "presets_fen", "bonus_steps"})
_STEP_KEYS = frozenset({"min_fen", "bonus_fen"})
_REWARD_KEYS = frozenset({"id", "name", "points_cost", "stock", "valid_from", "valid_to", "flexible", "image"})
_FLEXIBLE_KEYS = frozenset({"min_points", "max_points", "step_points", "fen_per_point"})
_BIRTHDAY_KEYS = frozenset({"gift", "window_days"})
_GIFT_KEYS = frozenset({"points", "balance_fen"})
_PIN_KEYS = frozenset({"length", "required_for_redemption", "spend_threshold_fen", "max_attempts", "lockout_minutes"})
_OFFLINE_KEYS = frozenset({"after_hours", "max_spend_fen_per_card"})
_RETURN_KEYS = frozenset({"forfeit_bonus"})
_ENGAGEMENT_KEYS = frozenset(
    {
        "checkin_points", "streak_days", "streak_bonus_points", "referrer_points", "referee_points", "survey_reasons",
        "profile_points",
    }
)
_SEGMENT_KEYS = frozenset({"active_days", "at_risk_days", "dormant_days"})

_SECTIONS = frozenset(
    {
        "version",
        "timezone",
        "tiers",
        "points",
        "topup",
        "rewards",
        "birthday",
        "new_member",
        "pin",
        "offline",
        "card_return",
        "engagement",
        "segments",
        "vouchers",
        "points_cash",
        "fees",
        "staff_rewards",
        "comment",
    }
)


def parse_rules(data: object, source: str = "<rules>") -> Rules:
    """Check a decoded rules document and build Rules from it."""
    f = _Fields(source)
    if not isinstance(data, dict):
        raise f.fail("", "the document must be a JSON object")
    f.only(data, _SECTIONS, "")
    version = f.int(data, "version", "", lo=1, hi=2**31)
    timezone = f.str(data, "timezone", "", "Asia/Shanghai")
    try:
        if not _ZONE.match(timezone):
            raise ValueError(timezone)
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name the file system refuses
        raise f.fail("timezone", f"unknown time zone {timezone[:64]!r} (an IANA name like Asia/Shanghai)") from None

    tiers = []
    for i, raw in enumerate(f.items(data, "tiers", "")):
        p = f"tiers[{i}]."
        if not isinstance(raw, dict):
            raise f.fail(p[:-1], "must be an object")
        f.only(raw, _TIER_KEYS, p)
        tiers.append(
            Tier(
                id=f.ident(raw, "id", p),
                name=f.text(raw, "name", p),
                min_topup_12m_fen=f.int(raw, "min_topup_12m_fen", p),
                points_multiplier_pct=f.int(raw, "points_multiplier_pct", p, lo=0, hi=1000),
                discount_pct=f.int(raw, "discount_pct", p, lo=1, hi=100),
            )
        )
    if not tiers:
        raise f.fail("tiers", "needs at least one tier")
    tiers.sort(key=lambda t: t.min_topup_12m_fen)
    if tiers[0].min_topup_12m_fen != 0:
        raise f.fail("tiers", "the lowest tier must start at min_topup_12m_fen 0")
    if len({t.id for t in tiers}) != len(tiers):
        raise f.fail("tiers", "tier ids must be unique")
    if len({t.min_topup_12m_fen for t in tiers}) != len(tiers):
        raise f.fail("tiers", "two tiers have the same min_topup_12m_fen")

    pts = f.table(data, "points", "", _POINTS_KEYS)
    points = PointsRule(
        fen_per_point=f.int(pts, "fen_per_point", "points.", lo=1),
        earn_on_topup=f.bool(pts, "earn_on_topup", "points.", False),
        earn_on_spend=f.bool(pts, "earn_on_spend", "points.", True),
        expiry_months=f.int(pts, "expiry_months", "points.", lo=1, hi=120),
    )

    tu = f.table(data, "topup", "", _TOPUP_KEYS)
    steps = []
    for i, raw in enumerate(f.items(tu, "bonus_steps", "topup.")):
        p = f"topup.bonus_steps[{i}]."
        if not isinstance(raw, dict):
            raise f.fail(p[:-1], "must be an object")
        f.only(raw, _STEP_KEYS, p)
        steps.append(BonusStep(f.int(raw, "min_fen", p, lo=1), f.int(raw, "bonus_fen", p)))
    steps.sort(key=lambda s: s.min_fen)
    topup = TopUpRule(
        min_fen=f.int(tu, "min_fen", "topup.", lo=1),
        max_fen=f.int(tu, "max_fen", "topup.", lo=1),
        presets_fen=tuple(
            f.int({f"[{i}]": v}, f"[{i}]", "topup.presets_fen", lo=1)
            for i, v in enumerate(f.items(tu, "presets_fen", "topup."))
        ),
        bonus_steps=tuple(steps),
    )
    if topup.min_fen > topup.max_fen:
        raise f.fail("topup.min_fen", "is above topup.max_fen")
    for i, preset in enumerate(topup.presets_fen):
        if not topup.min_fen <= preset <= topup.max_fen:
            raise f.fail(f"topup.presets_fen[{i}]", "is outside topup.min_fen..max_fen")
    for i, step in enumerate(steps):
        if step.bonus_fen >= step.min_fen:
            raise f.fail(f"topup.bonus_steps[{i}].bonus_fen", "must be below the step's min_fen")

    rewards = []
    for i, raw in enumerate(f.items(data, "rewards", "")):
        p = f"rewards[{i}]."
        if not isinstance(raw, dict):
            raise f.fail(p[:-1], "must be an object")
        f.only(raw, _REWARD_KEYS, p)
        flexible = None
        if raw.get("flexible") is not None:
            fx = f.table(raw, "flexible", p, _FLEXIBLE_KEYS)
            fp = f"{p}flexible."
            flexible = FlexiblePoints(
                min_points=f.int(fx, "min_points", fp, lo=1),
                max_points=f.int(fx, "max_points", fp, lo=1),
                step_points=f.int(fx, "step_points", fp, lo=1),
                fen_per_point=f.int(fx, "fen_per_point", fp, lo=1),
            )
            if flexible.min_points > flexible.max_points:
                raise f.fail(f"{fp}min_points", "is above max_points")
        reward = Reward(
            id=f.ident(raw, "id", p),
            name=f.text(raw, "name", p),
            points_cost=f.int(raw, "points_cost", p, lo=1),
            stock=f.int(raw, "stock", p),
            valid_from=f.time(raw, "valid_from", p),
            valid_to=f.time(raw, "valid_to", p),
            flexible=flexible,
            image=f.image(raw, "image", p),
        )
        if reward.valid_from and reward.valid_to and reward.valid_from >= reward.valid_to:
            raise f.fail(f"{p}valid_to", "must be after valid_from")
        rewards.append(reward)
    if len({r.id for r in rewards}) != len(rewards):
        raise f.fail("rewards", "reward ids must be unique")

    bd = f.table(data, "birthday", "", _BIRTHDAY_KEYS)
    bgift = f.table(bd, "gift", "birthday.", _GIFT_KEYS)
    birthday = BirthdayRule(
        gift=GiftRule(
            f.int(bgift, "points", "birthday.gift."), f.int(bgift, "balance_fen", "birthday.gift.", default=0)
        ),
        window_days=f.int(bd, "window_days", "birthday.", lo=0, hi=31),
    )
    nm = f.table(data, "new_member", "", _GIFT_KEYS)
    new_member = GiftRule(
        f.int(nm, "points", "new_member."), f.int(nm, "balance_fen", "new_member.", default=0)
    )

    pn = f.table(data, "pin", "", _PIN_KEYS)
    pin = PinPolicy(
        length=f.int(pn, "length", "pin.", lo=4, hi=8, default=6),
        required_for_redemption=f.bool(pn, "required_for_redemption", "pin."),
        spend_threshold_fen=f.int(pn, "spend_threshold_fen", "pin."),
        max_attempts=f.int(pn, "max_attempts", "pin.", lo=1, hi=20),
        lockout_minutes=f.int(pn, "lockout_minutes", "pin.", lo=1, hi=7 * 24 * 60),
    )
    off = f.table(data, "offline", "", _OFFLINE_KEYS)
    offline = OfflinePolicy(
        after_hours=f.int(off, "after_hours", "offline.", lo=0, hi=24 * 365),
        max_spend_fen_per_card=f.int(off, "max_spend_fen_per_card", "offline."),
    )
    ret = data.get("card_return", {})
    if not isinstance(ret, dict):
        raise f.fail("card_return", "must be an object")
    f.only(ret, _RETURN_KEYS, "card_return.")
    card_return = ReturnPolicy(forfeit_bonus=f.bool(ret, "forfeit_bonus", "card_return.", True))
    engagement = _engagement(f, data.get("engagement", {}))
    segments = _segments(f, data.get("segments", {}))

    return Rules(
        version=version,
        timezone=timezone,
        tiers=tuple(tiers),
        points=points,
        topup=topup,
        rewards=tuple(rewards),
        birthday=birthday,
        new_member=new_member,
        pin=pin,
        offline=offline,
        card_return=card_return,
        engagement=engagement,
        segments=segments,
        vouchers=parse_vouchers(f, data.get("vouchers", {})),
        points_cash=parse_points_cash(f, data.get("points_cash", {})),
        fees=parse_fees(f, data.get("fees", {})),
        staff_rewards=parse_staff_rewards(f, data.get("staff_rewards", {})),
    )


def _engagement(f: _Fields, data: object) -> EngagementRules:
    if not isinstance(data, dict):
        raise f.fail("engagement", "must be an object")
    p = "engagement."
    f.only(data, _ENGAGEMENT_KEYS, p)
    reasons = f.items(data, "survey_reasons", p) if "survey_reasons" in data else []
    for i, reason in enumerate(reasons):
        if not isinstance(reason, str) or not reason.isidentifier():
            raise f.fail(f"{p}survey_reasons[{i}]", "must be a short identifier like 'fast_service'")
    return EngagementRules(
        checkin_points=f.int(data, "checkin_points", p, hi=10_000, default=0),
        streak_days=f.int(data, "streak_days", p, lo=2, hi=365, default=7),
        streak_bonus_points=f.int(data, "streak_bonus_points", p, hi=100_000, default=0),
        referrer_points=f.int(data, "referrer_points", p, hi=100_000, default=0),
        referee_points=f.int(data, "referee_points", p, hi=100_000, default=0),
        survey_reasons=tuple(reasons),
        profile_points=f.int(data, "profile_points", p, hi=100_000, default=0),
    )


def _segments(f: _Fields, data: object) -> SegmentRules:
    if not isinstance(data, dict):
        raise f.fail("segments", "must be an object")
    p = "segments."
    f.only(data, _SEGMENT_KEYS, p)
    rules = SegmentRules(
        active_days=f.int(data, "active_days", p, lo=1, hi=3650, default=30),
        at_risk_days=f.int(data, "at_risk_days", p, lo=1, hi=3650, default=90),
        dormant_days=f.int(data, "dormant_days", p, lo=1, hi=3650, default=180),
    )
    if not rules.active_days < rules.at_risk_days < rules.dormant_days:
        raise f.fail("segments", "needs active_days < at_risk_days < dormant_days")
    return rules


def load_rules_json(text: str | bytes, source: str = "<rules>") -> tuple[dict, Rules]:
    """Strict JSON (duplicate keys, NaN, lone surrogates refused; errors give the line) then
    parse_rules: the document and its Rules, or RulesError naming `source`."""
    try:
        data = strict_json.loads(text)
    except strict_json.JsonError as exc:
        raise RulesError(source, exc.where or "", f"not valid JSON: {exc.problem}") from None
    return data, parse_rules(data, source)


def parse_rules_json(text: str | bytes, source: str = "<rules>") -> Rules:
    return load_rules_json(text, source)[1]
