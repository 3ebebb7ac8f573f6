"""The member's arrival at home: expired points go, the gifts due (new member, birthday) and
a referral reward a power cut left undone are given, each committed; and the member's figures
the screens show are read again after every change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.ledger import vouchers
from kiosk.ledger.operations import Refused
from kiosk.session.flows.base import FlowPart
from kiosk.session.present import member_summary
from kiosk.session.states import S, SessionState
from kiosk.session.view import GiftGiven


@dataclass
class GiftsGiven:
    given: list[GiftGiven] = field(default_factory=list)  # on this visit, for the home screen


class Gifts(FlowPart):
    states = frozenset({S.home})

    def reset(self) -> None:
        self.data = GiftsGiven()

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        host = self.host
        if host.visit.member_view is None:
            return {}
        return {"member": member_summary(host.visit.member_view, tuple(self.data.given), host.ledger, now)}

    def member_here(self) -> bool:
        """The machine's condition for `to_home`: the member's card is still on the reader."""
        return self.host.visit.card_present and self.host.visit.member_view is not None

    def enter_home(self) -> None:
        self.give_gifts()
        card = self.host.ledger.state.cards.get(self.host.visit.uid)
        if card is not None:  # a referral reward a power cut left undone after the sign-up
            self.give_referral_rewards(card.member_id)
        self.refresh_member()

    def give_gifts(self) -> None:
        """Expired points go, then the birthday and new-member gifts due are given (committed)."""
        host = self.host
        uid, now, ledger = host.visit.uid, host.now(), host.ledger
        dated = host.clock_verdict().trusted  # expiry and birthday wait for a clock to believe
        try:
            expiry = ledger.expire_points(uid, now) if dated else None
            if expiry is not None:
                host.commit(expiry)
            view = ledger.view(uid, now)
        except Refused:
            return
        for due, op in (
            (view.new_member_gift_due, ledger.new_member_gift),
            (view.birthday_gift_due and dated, ledger.birthday_gift),
        ):
            if not due:
                continue
            try:
                txn = op(uid, now)
            except Refused:
                continue
            if host.commit(txn):
                self.data.given.append(GiftGiven(str(txn.kind), txn.points_delta, txn.bonus_fen))
        if dated:  # vouchers run out and vouchers given wait for a clock to believe, like points
            give_vouchers_due(host, uid)

    def give_referral_rewards(self, member_id: str) -> int:
        """After a sign-up with a referral code: the new member's reward, then the referrer's,
        each committed on its own (the ledger gives the one still due if power was cut between).
        Returns the points the new member got. The referrer's voucher (the rules' referral gift)
        follows, once the referrer's reward is given."""
        host = self.host
        mine = 0
        for _ in range(2):
            try:
                txn = host.ledger.referral_reward(host.visit.uid, host.now())
            except Refused:
                break
            if txn is None or not host.commit(txn):
                break
            if txn.member_id == member_id:
                mine += txn.points_delta
        if host.clock_verdict().trusted:
            give_vouchers_due(host, host.visit.uid)
        return mine

    def refresh_member(self) -> None:
        host = self.host
        try:
            host.visit.member_view = host.ledger.view(host.visit.uid, host.now())
        except Refused:
            host.visit.member_view = None


VOUCHER_STEPS_MAX = 10  # a visit's voucher steps (expiries and gifts), however many are due


def give_vouchers_due(host, uid: str) -> int:
    """The member's voucher steps due (kiosk/ledger/vouchers.next_due), each committed on its
    own so a power cut between them loses none; the number committed."""
    done = 0
    for _ in range(VOUCHER_STEPS_MAX):
        try:
            txn = vouchers.next_due(host.ledger, uid, host.now())
        except Refused:
            break
        if txn is None or not host.commit(txn):
            break
        done += 1
    return done
