"""The member's actions on the screens (top-up, redeem, PIN keys, sign-up, check-in and rating,
the staff menu's new PIN): one-line public methods of `Session`, kept here so session.py stays
the plumbing. Each goes through the session's `_act`, which publishes the view and refuses an
action that does not fit the state (docs/session-api.md); each flow decides in its own module."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from kiosk.session.flows.engagement import Engagement
from kiosk.session.flows.new_pin import NewPin
from kiosk.session.flows.pin import Pin
from kiosk.session.flows.redeem import Redeem
from kiosk.session.flows.signup import SignUp
from kiosk.session.flows.staff import Staff
from kiosk.session.flows.topup import TopUp


class MemberActions:
    """Mixed into Session (which provides `_act` and `flow`)."""

    def start_topup(self) -> bool:
        return self._act(self.flow(TopUp).start)

    def choose_amount(self, amount_fen: int) -> bool:
        return self._act(lambda: self.flow(TopUp).choose_amount(amount_fen))

    def pay(self, method: str) -> bool:
        return self._act(lambda: self.flow(TopUp).pay(method))

    def cancel_payment(self) -> bool:
        return self._act(self.flow(TopUp).cancel_payment)

    def start_redeem(self) -> bool:
        return self._act(self.flow(Redeem).start)

    def choose_reward(self, reward_id: str, points: int | None = None) -> bool:
        return self._act(lambda: self.flow(Redeem).choose(reward_id, points))

    def confirm(self) -> bool:
        """Confirm the chosen reward (asks for the PIN when the rules say so)."""
        return self._act(self.flow(Redeem).confirm)

    def pin_digit(self, digit: str) -> bool:
        return self._act(lambda: self.flow(Pin).key(digit))

    def pin_delete(self) -> bool:
        return self._act(self.flow(Pin).rubout)

    def start_signup(self) -> bool:
        return self._act(self.flow(SignUp).start)

    def submit_details(
        self, phone: str, name: str = "", birthday: date | None = None, referral_code: str = ""
    ) -> bool:
        """A referral code (optional) must belong to an active member, or the details screen says so."""
        return self._act(lambda: self.flow(SignUp).submit_details(phone, name, birthday, referral_code))

    def accept_privacy(self, notes_consent: bool = False) -> bool:
        return self._act(lambda: self.flow(SignUp).accept_privacy(notes_consent))

    def check_in(self) -> bool:
        """Home: today's check-in points (and the streak bonus on the streak's day)."""
        return self._act(self.flow(Engagement).check_in)

    def rate(self, stars: int, reasons: Sequence[str] = ()) -> bool:
        """Done after a top-up or redemption: the optional 1-5 star rating; dismiss() skips it."""
        return self._act(lambda: self.flow(Engagement).rate(stars, reasons))

    def staff_reload_rules(self) -> bool:
        return self._act(self.flow(Staff).reload_rules)

    def start_new_pin(self) -> bool:  # staff menu: "New PIN for a member" (the member taps, types it twice)
        return self._act(self.flow(NewPin).start)
