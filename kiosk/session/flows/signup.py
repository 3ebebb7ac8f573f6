"""Sign-up with a blank card: details (a friend's referral code optional), the privacy notice,
a PIN set twice, then the card personalised on the reader thread; only when the writer says it
is done is the SIGN_UP committed, then the new member's gifts and referral rewards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kiosk.ledger.operations import Refused
from kiosk.ledger.txn import Txn
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.pin import Pin
from kiosk.session.flows.sale import card_fee_view
from kiosk.session.flows.topup import TopUp
from kiosk.session.inputs import CardIssued, CardRead
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message, SignupView

# the ledger's refusals of sign_up that the details screen (or the PIN pad) can mend
_DETAIL_REFUSALS = frozenset({"bad_phone", "phone_in_use", "bad_name", "bad_birthday", "unknown_referral_code"})
_PIN_FORMAT_REFUSALS = frozenset({"bad_pin_format", "pin_too_simple"})


@dataclass
class Details:
    phone: str = ""
    name: str = ""
    birthday: date | None = None
    referral_code: str = ""  # as the ledger spells it
    privacy_accepted: bool = False
    notes_consent: bool = False  # the privacy notice's optional line: staff may keep notes on the member
    txn: Txn | None = None  # made by the ledger, committed once the card is written
    write_started: float | None = None  # on the monotonic clock


class SignUp(FlowPart):
    states = frozenset({S.signup_offer, S.signup_details, S.signup_privacy, S.signup_pin, S.signup_writing})

    def reset(self) -> None:
        self.data = Details()

    # -- the member's actions ------------------------------------------------------------

    def start(self) -> bool:
        return self.host.move("start_signup")

    def submit_details(self, phone: str, name: str, birthday: date | None, referral_code: str) -> bool:
        host, data = self.host, self.data
        if not host.can("details_ok"):
            return False
        if not isinstance(phone, str) or not isinstance(name, str) or not isinstance(referral_code, str):
            return False
        if birthday is not None and (isinstance(birthday, datetime) or not isinstance(birthday, date)):
            return False
        data.phone, data.name, data.birthday = phone.strip(), name.strip(), birthday
        data.referral_code = referral_code.strip()
        if data.referral_code:  # the ledger knows the codes (and how they are spelled): its answer stands
            try:
                data.referral_code = host.ledger.referral_code(host.ledger.referrer_of(data.referral_code))
            except Refused as exc:
                host.hint(exc.code)
                host.feedback.error()
                return True
        host.visit.message = None
        return host.move("details_ok")

    def accept_privacy(self, notes_consent: bool = False) -> bool:
        host = self.host
        if not host.can("privacy_ok"):
            return False
        self.data.privacy_accepted = True
        self.data.notes_consent = notes_consent is True
        host.flow(Pin).ask_twice("signup_first", "signup_repeat", self._pin_set)
        return host.move("privacy_ok")

    # -- the card writer's answer --------------------------------------------------------

    def card_issued(self, result: CardIssued) -> None:
        host, data = self.host, self.data
        if host.state is not S.signup_writing or result.uid != host.visit.uid or data.txn is None:
            if not result.problem:  # a card was written for a session that is gone
                host.note_error(f"card {result.uid} personalised after its session ended")
                host.record("card_issued_late", issued_uid=result.uid)
            return
        if result.problem:
            host.record("card_write_failed", problem=result.problem)
            host.refuse("card_write_failed", problem=result.problem)
            return
        txn, data.txn = data.txn, None
        if txn.seq != host.ledger.state.next_seq(host.ledger.device_id) or not host.commit(txn):
            host.record("card_issued_not_registered", member_id=txn.member_id)
            host.refuse("store_failed")
            return
        host.record(
            "privacy_accepted", member_id=txn.member_id, version=host.settings.privacy_notice_version,
            notes_consent=txn.notes_consent,
        )
        gifts = host.flow(Gifts)
        gifts.give_gifts()
        referral_points = gifts.give_referral_rewards(txn.member_id)
        gifts.refresh_member()
        if self._fee_due(txn) and host.flow(TopUp).start_fee():  # paid (or waived) with the first top-up
            host.feedback.ok()
            return
        view = host.visit.member_view
        host.visit.message = Message(
            "signup_done",
            {
                "points": view.account.points if view else 0,
                "gifts": [g.kind for g in gifts.data.given],
                "referral_points": referral_points,
            },
        )
        host.feedback.ok()
        host.move("card_issued")

    # -- hooks ---------------------------------------------------------------------------

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state not in self.states:
            return {}
        fee = {"card_fee": card_fee_view(self.host.ledger, now)}
        if state is S.signup_offer:
            return fee
        d = self.data
        return {"signup": SignupView(d.phone, d.name, d.birthday, d.privacy_accepted, d.referral_code), **fee}

    def deadline(self, state: SessionState) -> float | None:
        if state is S.signup_writing and self.data.write_started is not None:
            return self.data.write_started + self.host.settings.card_write_timeout_s
        return None

    def timed_out(self, state: SessionState) -> bool:
        if state is S.signup_writing:
            self.host.record("card_write_no_answer")
        return False  # the session ends

    def keeps_lifted_card(self, state: SessionState) -> bool:
        return state is S.signup_writing  # the writer answers either way; that answer decides

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        return state is S.signup_writing

    def going_back(self, state: SessionState) -> None:
        if state is S.signup_pin:
            self.host.flow(Pin).clear()

    # -- inside --------------------------------------------------------------------------

    def _fee_due(self, txn: Txn) -> bool:
        view = self.host.visit.member_view
        return bool(txn.amount_fen) and view is not None and view.account.card_fee_due_fen > 0

    def _pin_set(self, pin: str) -> None:
        """The PIN typed twice alike: the ledger decides the sign-up, then the card is written."""
        host, data = self.host, self.data
        if host.card_writer is None:
            host.refuse("card_writer_unavailable")
            return
        try:
            txn = host.ledger.sign_up(
                host.visit.uid,
                1,
                data.phone,
                pin,
                host.now(),
                name=data.name,
                birthday=data.birthday,
                referral_code=data.referral_code,
                notes_consent=data.notes_consent,
                staff_id=host.visit.staff_id,
            )
        except Refused as exc:
            if exc.code in _DETAIL_REFUSALS:
                host.hint(exc.code)
                host.move("fix_details")
            elif exc.code in _PIN_FORMAT_REFUSALS:
                host.hint(exc.code, length=host.ledger.rules.pin.length)
            else:
                host.refuse(exc.code)
            return
        data.txn, data.write_started = txn, host.clock.monotonic()
        host.move("pin_set")
        # a pre-issued card's reserved id (kiosk cards issue) is written over: the sale is this sign-up
        host.card_writer.request_issue(host.visit.uid, txn.member_id, txn.card_seq, replacing=host.visit.reserved_id)
