"""A new PIN for a member who forgot theirs, chosen by the member: staff open it from the staff
menu (their staff card is the authority, and they check who the member is), the member taps their
card and types a new PIN twice on the pad. Staff never choose, type or see it; the ledger keeps
only its hash (`pin_changed`), and any lockout ends. The HQ console cannot set a PIN: it would
have to be typed by staff and handed over, which is the secret being known to two people."""

from __future__ import annotations

from kiosk.ledger.operations import Refused
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.pin import Pin
from kiosk.session.inputs import CardKind, CardRead
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message

_PIN_FORMAT_REFUSALS = frozenset({"bad_pin_format", "pin_too_simple"})


class NewPin(FlowPart):
    states = frozenset({S.new_pin_tap, S.new_pin_entry})

    def start(self) -> bool:
        """Staff menu: "New PIN for a member"."""
        host = self.host
        if not host.can("staff_new_pin"):
            return False
        host.visit.message = None
        return host.move("staff_new_pin")

    def keeps_lifted_card(self, state: SessionState) -> bool:
        return True  # the staff card lifted before the member's tap; the member's once the pad is up

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        if state is S.new_pin_tap:
            self._card(card)
        return True  # a card tapped while the member types is ignored

    def going_back(self, state: SessionState) -> None:
        self.host.flow(Pin).clear()

    def _card(self, card: CardRead) -> None:
        host = self.host
        if host.staff_card(card):
            return
        host.feedback.tap()
        known = host.ledger.state.cards.get(card.uid)
        if card.kind is not CardKind.MEMBER or known is None or (host.sync is not None and host.sync.is_blocked(card.uid)):
            host.hint("new_pin_card_not_member")
            host.feedback.error()
            return
        visit = host.visit
        visit.uid, visit.card_present, visit.card_counter, visit.message = card.uid, True, card.card_counter, None
        host.flow(Pin).ask_twice("new_pin_first", "new_pin_repeat", self._set)
        host.touched()
        host.move("new_pin_card")

    def _set(self, pin: str) -> None:
        host = self.host
        try:
            txn = host.ledger.change_pin(host.visit.uid, pin, host.now())
        except Refused as exc:
            if exc.code in _PIN_FORMAT_REFUSALS:
                host.hint(exc.code, length=host.ledger.rules.pin.length)
            else:
                host.refuse(exc.code)
            return
        if not host.commit(txn):
            host.refuse("store_failed")
            return
        host.visit.message = Message("new_pin_set", {})
        host.feedback.ok()
        host.move("new_pin_set")
