"""Building the SessionView the screens read from what the session knows: pure functions,
no state of their own, so a view is always a faithful picture of one moment."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from kiosk.ledger.operations import Ledger
from kiosk.ledger.rules import Reward
from kiosk.ledger.state import is_locked
from kiosk.payment.port import PaymentMethod, PaymentState, PaymentStatus
from kiosk.session.flow import Flow
from kiosk.session.view import (
    MemberSummary,
    PaymentMethodView,
    PaymentView,
    PinView,
    RedeemView,
    RewardOption,
    SessionView,
    SignupView,
    StaffView,
    SurveyView,
    TopUpView,
)


def build_view(
    state: str,
    seq: int,
    flow: Flow,
    ledger: Ledger,
    now: datetime,
    deadline: datetime | None,
    payments: Iterable[PaymentMethod],
    staff: Callable[[], StaffView],
) -> SessionView:
    """The view of `state` for `flow`; `staff` is only asked in the staff menu."""
    seconds_left = None
    if deadline is not None:
        seconds_left = max(0, -int((now - deadline).total_seconds() // 1))
    member = member_summary(flow, ledger, now) if flow.member_view is not None else None
    view = SessionView(
        state=state,
        seq=seq,
        seconds_left=seconds_left,
        card_uid=flow.uid,
        message=flow.message,
        member=member,
    )
    extra: dict[str, Any] = {}
    if state in ("topup_amount", "topup_confirm", "paying"):
        rules = ledger.rules.topup
        extra["topup"] = TopUpView(
            presets=flow.topup_options,
            min_fen=rules.min_fen,
            max_fen=rules.max_fen,
            chosen=flow.topup_chosen,
            methods=tuple(PaymentMethodView(p.name, p.unavailable_reason()) for p in payments),
        )
    if state == "paying" and flow.payment is not None and flow.request is not None:
        status = flow.payment_status or PaymentStatus(PaymentState.PENDING)
        extra["payment"] = PaymentView(
            method=flow.payment.name,
            requested_fen=flow.request.amount_fen,
            received_fen=status.received_fen,
            state=str(status.state),
            waiting_for_staff_card=flow.payment.wants_staff_card,
        )
    if state in ("redeem_choose", "redeem_confirm", "pin_entry", "pin_locked"):
        chosen = flow.reward
        cost = 0
        if chosen is not None:
            cost = flow.reward_points if flow.reward_points is not None else chosen.points_cost
        extra["redeem"] = RedeemView(
            rewards=flow.rewards,
            chosen=chosen,
            points_to_use=cost,
            pin_required=ledger.rules.pin.required_for_redemption,
        )
    if state in ("pin_entry", "pin_locked", "signup_pin"):
        extra["pin"] = pin_view(state, flow, ledger, now)
    if state.startswith("signup_") and state != "signup_offer":
        extra["signup"] = SignupView(flow.phone, flow.name, flow.birthday, flow.privacy_accepted, flow.referral_code)
    if state == "staff_menu":
        extra["staff"] = staff()
    if state == "done" and flow.survey_offered:
        extra["survey"] = SurveyView(ledger.rules.engagement.survey_reasons)
    if extra:
        view = replace(view, **extra)
    return view

def pin_view(state: str, flow: Flow, ledger: Ledger, now: datetime) -> PinView:
    attempts, until, left = 0, None, 0
    if state != "signup_pin":
        found = ledger.state.card_account(flow.uid)
        if found is not None:
            member = found[1]
            attempts = ledger.pin_attempts_left(member)
            if is_locked(member, now):
                until = member.pin_locked_until
                left = int((until - now).total_seconds() + 0.999)
    purpose = flow.pin_purpose if state == "signup_pin" else "redeem"
    return PinView(purpose, ledger.rules.pin.length, len(flow.pin_digits), attempts, until, left)


def reward_option(reward: Reward, stock: int) -> RewardOption:
    fx = reward.flexible
    if fx is None:
        return RewardOption(reward.id, reward.name, reward.points_cost, stock)
    return RewardOption(
        reward.id, reward.name, reward.points_cost, stock, fx.min_points, fx.max_points, fx.step_points, fx.fen_per_point
    )


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def member_summary(flow: Flow, ledger: Ledger, now: datetime) -> MemberSummary:
    view = flow.member_view
    assert view is not None
    tier, nxt = view.tier, view.next_tier
    if nxt is None:
        progress = 100
    else:
        span = max(1, nxt.min_topup_12m_fen - tier.min_topup_12m_fen)
        progress = max(0, min(100, (view.topup_12m_fen - tier.min_topup_12m_fen) * 100 // span))
    birthday = view.member.birthday
    today = ledger.rules.local_date(now)
    greeting = any(g.kind == "birthday_gift" for g in flow.gifts) or (
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
        gifts=tuple(flow.gifts),
        referral_code=ledger.referral_code(view.member.member_id),
        check_in_offered=engagement.checkin_points > 0 and account.last_checkin_on != today,
        checkin_streak=account.checkin_streak,
        next_reward_name=next_reward.name if next_reward else None,
        to_next_reward_points=next_reward.points_cost - account.points if next_reward else 0,
    )
