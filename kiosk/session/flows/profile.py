"""The member's own details (鼓励会员自助完善信息): from home, behind their PIN, the member adds or
corrects their name, phone (typed twice) and birthday (once). The ledger decides what may change
(kiosk/ledger/profile.py): its refusal is a hint on the same screen, nothing is written; the
rules' points for a completed profile come with the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kiosk.ledger.operations import Refused
from kiosk.ledger.profile import ProfileChange
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.pin import Pin
from kiosk.session.present import mask_phone
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message, ProfileView


@dataclass
class ProfileVisit:
    pin_verified: bool = False  # this visit's PIN was right: the edit screen may save


class Profile(FlowPart):
    states = frozenset({S.profile_pin, S.profile_edit})

    def reset(self) -> None:
        self.data = ProfileVisit()

    def start(self) -> bool:
        host = self.host
        if not host.can("start_profile"):
            return False
        host.flow(Pin).ask_member("profile", self._verified)
        return host.move("start_profile")

    def save(self, name: str, phone: str, phone_again: str, birthday: date | None) -> bool:
        """Save the member's details: "" (or None) leaves a field as it is."""
        host = self.host
        if not host.can("profile_saved") or not self.data.pin_verified:
            return False
        if not all(isinstance(v, str) for v in (name, phone, phone_again)):
            return False
        if birthday is not None and (isinstance(birthday, datetime) or not isinstance(birthday, date)):
            return False
        phone, phone_again = phone.strip(), phone_again.strip()
        if phone != phone_again:
            host.hint("phone_mismatch")
            host.feedback.error()
            return True
        try:
            txn = host.ledger.update_profile(
                host.visit.uid, ProfileChange(name, phone, birthday), host.now(), pin_verified=True
            )
        except Refused as exc:
            host.hint(exc.code)
            host.feedback.error()
            return True
        if not host.commit(txn):
            return host.refuse("store_failed")
        host.flow(Gifts).refresh_member()
        host.visit.message = Message("profile_saved", {"points": txn.points_delta, "total_points": txn.points_after})
        host.feedback.ok()
        return host.move("profile_saved")

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state is not S.profile_edit:
            return {}
        host = self.host
        found = host.ledger.state.card_account(host.visit.uid)
        if found is None:
            return {}
        _, member, _ = found
        return {
            "profile": ProfileView(
                name=member.name,
                phone_masked=mask_phone(member.phone),
                birthday=member.birthday,
                birthday_editable=not member.birthday_edited,
                points_offered=host.ledger.profile_points_offered(member),
            )
        }

    def going_back(self, state: SessionState) -> None:
        if state is S.profile_pin:
            self.host.flow(Pin).clear()
        self.data.pin_verified = False

    def _verified(self) -> None:
        self.data.pin_verified = True
        self.host.move("profile_pin_ok")
