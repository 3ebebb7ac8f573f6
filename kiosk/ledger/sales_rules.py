"""The rules' card fees (会员卡收费, 补卡费, 换卡费) and staff sales rewards (售卡奖励).

Two optional sections of the rules document, read here so kiosk/ledger/rules.py only names them:

    "fees": {"card_fee_fen": 3800, "waiver_topup_fen": 50000,
             "free_card_campaigns": [{"id": "soft-opening", "first_day": "2026-12-01", "last_day": "2026-12-31"}],
             "replacement_fee_fen": 1000, "exchange_fee_fen": 500},
    "staff_rewards": {"per_card_fen": 800, "topup_steps": [{"min_fen": 50000, "reward_fen": 800}]}

Absent sections mean no fee and no reward. A fee is revenue: the ledger records it beside the
balance and never adds it to stored value (kiosk/ledger/fees.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kiosk.ledger.rules_fields import _Fields

_FEE_KEYS = frozenset(
    {"card_fee_fen", "waiver_topup_fen", "free_card_campaigns", "replacement_fee_fen", "exchange_fee_fen"}
)
_CAMPAIGN_KEYS = frozenset({"id", "first_day", "last_day"})
_REWARD_KEYS = frozenset({"per_card_fen", "topup_steps"})
_STEP_KEYS = frozenset({"min_fen", "reward_fen"})
FEE_MAX_FEN = 100_000  # ¥1,000: far above any card fee, low enough that a typo in yuan is caught


@dataclass(frozen=True)
class FreeCardCampaign:
    """试营业 and the like: cards are free from first_day to last_day, both included (store's dates)."""

    id: str
    first_day: date
    last_day: date

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class FeeRules:
    card_fee_fen: int = 0  # charged once at sign-up; 0: cards are free
    waiver_topup_fen: int = 0  # a top-up of at least this, paid with the fee, waives it; 0: no waiver
    free_card_campaigns: tuple[FreeCardCampaign, ...] = ()
    replacement_fee_fen: int = 0  # 补卡 (lost card)
    exchange_fee_fen: int = 0  # 换卡 (damaged card)

    def campaign_on(self, day: date) -> FreeCardCampaign | None:
        return next((c for c in self.free_card_campaigns if c.covers(day)), None)


@dataclass(frozen=True)
class RewardStep:
    min_fen: int
    reward_fen: int


@dataclass(frozen=True)
class StaffRewardRules:
    per_card_fen: int = 0  # to the staff member credited with a sign-up
    topup_steps: tuple[RewardStep, ...] = ()  # sorted by min_fen; the highest step reached applies

    def for_topup(self, amount_fen: int) -> int:
        reward = 0
        for step in self.topup_steps:
            if amount_fen >= step.min_fen:
                reward = step.reward_fen
        return reward


def parse_fees(f: _Fields, data: object) -> FeeRules:
    p = _section(f, data, "fees", _FEE_KEYS)
    campaigns = []
    for cp, raw in _objects(f, data, "free_card_campaigns", p, _CAMPAIGN_KEYS):
        campaign = FreeCardCampaign(f.ident(raw, "id", cp), _day(f, raw, "first_day", cp), _day(f, raw, "last_day", cp))
        if campaign.last_day < campaign.first_day:
            raise f.fail(f"{cp}last_day", "must be on or after first_day")
        campaigns.append(campaign)
    if len({c.id for c in campaigns}) != len(campaigns):
        raise f.fail(f"{p}free_card_campaigns", "campaign ids must be unique")
    return FeeRules(
        card_fee_fen=f.int(data, "card_fee_fen", p, hi=FEE_MAX_FEN, default=0),
        waiver_topup_fen=f.int(data, "waiver_topup_fen", p, default=0),
        free_card_campaigns=tuple(campaigns),
        replacement_fee_fen=f.int(data, "replacement_fee_fen", p, hi=FEE_MAX_FEN, default=0),
        exchange_fee_fen=f.int(data, "exchange_fee_fen", p, hi=FEE_MAX_FEN, default=0),
    )


def parse_staff_rewards(f: _Fields, data: object) -> StaffRewardRules:
    p = _section(f, data, "staff_rewards", _REWARD_KEYS)
    steps = []
    for sp, raw in _objects(f, data, "topup_steps", p, _STEP_KEYS):
        steps.append(RewardStep(f.int(raw, "min_fen", sp, lo=1), f.int(raw, "reward_fen", sp, hi=FEE_MAX_FEN)))
    if len({s.min_fen for s in steps}) != len(steps):
        raise f.fail(f"{p}topup_steps", "two steps have the same min_fen")
    return StaffRewardRules(
        per_card_fen=f.int(data, "per_card_fen", p, hi=FEE_MAX_FEN, default=0),
        topup_steps=tuple(sorted(steps, key=lambda s: s.min_fen)),
    )


def _section(f: _Fields, data: object, name: str, known: frozenset[str]) -> str:
    """Check a section is an object of known keys; its path prefix."""
    if not isinstance(data, dict):
        raise f.fail(name, "must be an object")
    f.only(data, known, f"{name}.")
    return f"{name}."


def _objects(f: _Fields, data: dict, key: str, path: str, known: frozenset[str]) -> list[tuple[str, dict]]:
    """The objects of an optional list, each with its path ("fees.free_card_campaigns[0].")."""
    out = []
    for i, raw in enumerate(f.items(data, key, path) if key in data else []):
        where = f"{path}{key}[{i}]."
        if not isinstance(raw, dict):
            raise f.fail(where[:-1], "must be an object")
        f.only(raw, known, where)
        out.append((where, raw))
    return out


def _day(f: _Fields, data: dict, key: str, path: str) -> date:
    value = data.get(key)
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise f.fail(f"{path}{key}", f"must be a date YYYY-MM-DD, got {str(value)[:40]!r}")
