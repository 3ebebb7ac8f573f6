"""Building the SessionView the screens read from what the session knows: pure functions,
no state of their own, so a view is always a faithful picture of one moment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kiosk.ledger import vouchers
from kiosk.ledger.model import Voucher
from kiosk.ledger.operations import Ledger, MemberView
from kiosk.ledger.rules import Reward
from kiosk.session.flow import Visit
from kiosk.session.states import SessionState
from kiosk.session.view import GiftGiven, MemberSummary, RewardOption, SessionView, VoucherLine


def build_view(
    state: SessionState,
    seq: int,
    visit: Visit,
    now: float,
    deadline: float | None,
    parts: dict[str, Any],
) -> SessionView:
    """The view of `state` for this visit; `parts` are the fields the flows fill in. `now` and
    `deadline` are on the monotonic clock (seconds)."""
    seconds_left = None
    if deadline is not None:
        seconds_left = max(0, -int((now - deadline) // 1))
    return SessionView(
        state=state,
        seq=seq,
        seconds_left=seconds_left,
        card_uid=visit.uid,
        message=visit.message,
        **parts,
    )


def reward_option(reward: Reward, stock: int) -> RewardOption:
    fx = reward.flexible
    if fx is None:
        return RewardOption(reward.id, reward.name, reward.points_cost, stock, image=reward.image)
    return RewardOption(
        reward.id, reward.name, reward.points_cost, stock, fx.min_points, fx.max_points, fx.step_points, fx.fen_per_point,
        image=reward.image,
    )


def voucher_line(ledger: Ledger, voucher: Voucher) -> VoucherLine:
    """A voucher for the screen: its last valid day in the store's calendar, its type's name."""
    kind = ledger.rules.vouchers.type(voucher.type)
    last_day = ledger.rules.local_date(voucher.expires_at - timedelta(microseconds=1))
    return VoucherLine(voucher.id, voucher.type, voucher.value_fen, voucher.min_spend_fen, last_day,
                       kind.name if kind else None)


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def member_summary(view: MemberView, gifts: tuple[GiftGiven, ...], ledger: Ledger, now: datetime) -> MemberSummary:
    tier, nxt = view.tier, view.next_tier
    if nxt is None:
        progress = 100
    else:
        span = max(1, nxt.min_topup_12m_fen - tier.min_topup_12m_fen)
        progress = max(0, min(100, (view.topup_12m_fen - tier.min_topup_12m_fen) * 100 // span))
    birthday = view.member.birthday
    today = ledger.rules.local_date(now)
    greeting = any(g.kind == "birthday_gift" for g in gifts) or (
        birthday is not None and (birthday.month, birthday.day) == (today.month, today.day)
    )
    account = view.account
    engagement = ledger.rules.engagement
    stock = ledger.state.stock
    out_of_reach = [
        r
        for r in ledger.rules.rewards
        if r.points_cost > account.points and r.is_valid_at(now) and stock.get(r.id, 0) > 0
    ]
    next_reward = min(out_of_reach, key=lambda r: r.points_cost, default=None)
    return MemberSummary(
        member_id=view.member.member_id,
        name=view.member.name,
        phone_masked=mask_phone(view.member.phone),
        balance_fen=view.account.balance_fen,
        points=view.account.points,
        points_expiring=view.points_expiring,
        tier_id=tier.id,
        tier_name=tier.name,
        points_multiplier_pct=tier.points_multiplier_pct,
        discount_pct=tier.discount_pct,
        next_tier_name=nxt.name if nxt else None,
        to_next_tier_fen=view.to_next_tier_fen,
        tier_progress_pct=progress,
        recent=view.account.recent,
        birthday_greeting=greeting,
        gifts=gifts,
        referral_code=ledger.referral_code(view.member.member_id),
        check_in_offered=engagement.checkin_points > 0 and account.last_checkin_on != today,
        checkin_streak=account.checkin_streak,
        next_reward_name=next_reward.name if next_reward else None,
        to_next_reward_points=next_reward.points_cost - account.points if next_reward else 0,
        vouchers=tuple(voucher_line(ledger, v) for v in vouchers.valid(account, now)),
    )
