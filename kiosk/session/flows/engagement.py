"""Engagement on the member's visit: the daily check-in (home → done) and the optional 1-5 star
rating the done screen offers after a top-up or redemption. The ledger decides what counts
(a second check-in the same day, a rating out of range, a reason the rules do not list): its
Refused is shown as it is, and nothing is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.ledger.operations import Refused
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.gifts import Gifts
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message, SurveyView


@dataclass
class Survey:
    offered: bool = False  # the done screen offers a rating (after a top-up or redemption)


class Engagement(FlowPart):
    def reset(self) -> None:
        self.data = Survey()

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state is S.done and self.data.offered:
            return {"survey": SurveyView(self.host.ledger.rules.engagement.survey_reasons)}
        return {}

    def survey_offered(self) -> bool:
        """The machine's condition for `rated`."""
        return self.data.offered

    def offer_survey(self) -> None:
        self.data.offered = bool(self.host.ledger.rules.engagement.survey_reasons)

    def skip_survey(self) -> None:
        self.data.offered = False

    def check_in(self) -> bool:
        host = self.host
        if not host.can("checked_in"):
            return False
        if not host.clock_verdict().trusted:  # a day taken from a wrong clock would block real ones
            return host.refuse("clock_not_trusted")
        txn = host.ledger.check_in(host.visit.uid, host.now())  # a refusal becomes a notice
        if not host.commit(txn):
            return host.refuse("store_failed")
        host.flow(Gifts).refresh_member()
        member = host.visit.member_view
        streak = member.account.checkin_streak if member else 0
        bonus = txn.points_delta - host.ledger.rules.engagement.checkin_points
        host.visit.message = Message(
            "checked_in",
            {"points": txn.points_delta, "streak_bonus": max(0, bonus), "streak": streak, "total_points": txn.points_after},
        )
        self.data.offered = False
        host.feedback.ok()
        return host.move("checked_in")

    def rate(self, stars: int, reasons: Sequence[str]) -> bool:
        host = self.host
        if not host.can("rated"):
            return False
        # only the shape of the touch input is checked here; what a rating may be is the ledger's
        if isinstance(stars, bool) or not isinstance(stars, int):
            return False
        if isinstance(reasons, str) or not all(isinstance(r, str) for r in reasons):
            return False
        try:
            txn = host.ledger.survey(host.visit.uid, stars, tuple(reasons), host.now())
        except Refused as exc:
            host.hint(exc.code)  # e.g. a reason the rules no longer list: the offer stays
            return True
        if not host.commit(txn):
            host.hint("store_failed")
            return True
        host.move("rated")  # while its condition (the offer) still holds
        self.data.offered = False
        host.visit.message = Message("survey_thanks", {"stars": stars})
        host.feedback.ok()
        return True
