"""Redeem: the catalogue the member can afford now, the choice (a flexible reward's points),
the member's PIN when the rules ask for it, and the redemption committed before "done"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.ledger.operations import Refused
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.engagement import Engagement
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.pin import Pin
from kiosk.session.present import reward_option
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message, RedeemView, RewardOption

_VIEW_STATES = frozenset({S.redeem_choose, S.redeem_confirm, S.pin_entry, S.pin_locked})


@dataclass
class Choice:
    rewards: tuple[RewardOption, ...] = ()
    reward: RewardOption | None = None
    points: int | None = None  # a flexible reward's points; None: its fixed cost


class Redeem(FlowPart):
    states = frozenset({S.redeem_choose, S.redeem_confirm})

    def reset(self) -> None:
        self.data = Choice()

    def start(self) -> bool:
        host = self.host
        if not host.can("start_redeem"):
            return False
        try:
            rewards = host.ledger.affordable_rewards(host.visit.uid, host.now())
        except Refused as exc:
            return host.refuse(exc.code)
        stock = host.ledger.state.stock
        self.data = Choice(tuple(reward_option(r, stock.get(r.id, 0)) for r in rewards))
        host.visit.message = None
        return host.move("start_redeem")

    def choose(self, reward_id: str, points: int | None) -> bool:
        host, data = self.host, self.data
        if not host.can("reward_ok") or not isinstance(reward_id, str):
            return False
        option = next((r for r in data.rewards if r.reward_id == reward_id), None)
        if option is None or (points is not None and (isinstance(points, bool) or not isinstance(points, int))):
            return False
        try:
            host.ledger.redeem(host.visit.uid, reward_id, host.now(), points=points, pin_verified=True)
        except Refused as exc:
            if exc.code != "pin_locked":  # the lock is dealt with when confirming
                host.hint(exc.code)
                return True
        data.reward, data.points, host.visit.message = option, points, None
        return host.move("reward_ok")

    def confirm(self) -> bool:
        host = self.host
        if not host.can("need_pin") or self.data.reward is None:
            return False
        if not host.ledger.rules.pin.required_for_redemption:
            return self._redeem(pin_verified=False)
        pin = host.flow(Pin)
        if pin.member_locked():
            return host.move("locked")
        pin.ask_member("redeem", lambda: self._redeem(pin_verified=True))
        host.visit.message = None
        return host.move("need_pin")

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state not in _VIEW_STATES:
            return {}
        data = self.data
        cost = 0
        if data.reward is not None:
            cost = data.points if data.points is not None else data.reward.points_cost
        return {
            "redeem": RedeemView(
                rewards=data.rewards,
                chosen=data.reward,
                points_to_use=cost,
                pin_required=self.host.ledger.rules.pin.required_for_redemption,
            )
        }

    def _redeem(self, pin_verified: bool) -> bool:
        host, data = self.host, self.data
        assert data.reward is not None
        try:
            txn = host.ledger.redeem(
                host.visit.uid, data.reward.reward_id, host.now(), points=data.points, pin_verified=pin_verified
            )
        except Refused as exc:
            return host.refuse(exc.code)
        if not host.commit(txn):
            return host.refuse("store_failed")
        host.flow(Gifts).refresh_member()
        host.visit.message = Message(
            "redeem_done",
            {"reward_id": txn.reward_id, "points_used": -txn.points_delta, "points": txn.points_after, "voucher_fen": txn.amount_fen},
        )
        host.flow(Engagement).offer_survey()
        host.feedback.ok()
        return host.move("redeemed")
