"""The PIN pad and the member's PIN check. A flow asks for a PIN with `ask(purpose, then)`;
the pad collects digits (never shown, only counted) and hands the complete PIN on. For a
member's PIN (`ask_member`) the ledger checks it, counts failures and locks; a verified PIN
goes on to what the asking flow does next."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.ledger.operations import Refused
from kiosk.session.flows.base import FlowPart
from kiosk.session.states import S, SessionState
from kiosk.session.view import PinView

PIN_STATES = frozenset(
    {S.pin_entry, S.pin_locked, S.signup_pin, S.charge_pin, S.new_pin_entry, S.profile_pin, S.card_write_pin}
)


def _nothing(_pin: str) -> None:
    return None


@dataclass
class PinPad:
    digits: str = ""
    purpose: str = ""  # what the screen says the PIN is for: redeem, signup_first, signup_repeat
    then: Callable[[str], None] = _nothing  # gets the complete PIN


class Pin(FlowPart):
    states = frozenset({S.pin_entry, S.pin_locked})

    def reset(self) -> None:
        self.data = PinPad()

    def ask(self, purpose: str, then: Callable[[str], None]) -> None:
        """Start a fresh PIN for `purpose`; `then(pin)` is called once it is complete."""
        self.data = PinPad("", purpose, then)

    def ask_member(
        self, purpose: str, verified: Callable[[], None], locked: Callable[[], None] | None = None
    ) -> None:
        """The member's own PIN, checked by the ledger; `verified()` when it is right, `locked()`
        (if given, else the pin_locked screen) when the member is or becomes locked out."""
        self.ask(purpose, lambda pin: self._check_member_pin(pin, verified, locked))

    def ask_twice(self, first: str, repeat: str, then: Callable[[str], None]) -> None:
        """A new PIN, typed twice (sign-up, a new PIN): `then(pin)` once both agree; a mismatch is
        the hint pin_mismatch and the pad starts over at `first`."""
        held = [""]

        def entered(pin: str) -> None:
            if not held[0]:
                held[0] = pin
                self.relabel(repeat)
                return
            before, held[0] = held[0], ""
            self.relabel(first)
            if pin != before:
                self.host.hint("pin_mismatch")
                return
            then(pin)

        self.ask(first, entered)

    def relabel(self, purpose: str) -> None:
        self.data.purpose = purpose

    def member_locked(self) -> bool:
        host = self.host
        _, member, _ = host.ledger.lookup(host.visit.uid)
        return host.ledger.pin_locked(member, host.now())

    def clear(self) -> None:
        self.data.digits = ""

    # -- the pad ---------------------------------------------------------------------------

    def key(self, digit: str) -> bool:
        host, data = self.host, self.data
        if not host.can("pin_key"):
            return False
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789":
            return False
        length = host.ledger.rules.pin.length
        if len(data.digits) >= length:
            return False
        data.digits += digit
        host.visit.message = None
        if len(data.digits) == length:
            pin, data.digits = data.digits, ""
            data.then(pin)
        return True

    def rubout(self) -> bool:
        if not self.host.can("pin_rubout"):
            return False
        self.data.digits = self.data.digits[:-1]
        return True

    def pin_digits_entered(self) -> bool:
        """The machine's condition for `pin_rubout`."""
        return bool(self.data.digits)

    # -- hooks -----------------------------------------------------------------------------

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state not in PIN_STATES:
            return {}
        host = self.host
        attempts, until, left = 0, None, 0
        if state is not S.signup_pin:
            found = host.ledger.state.card_account(host.visit.uid)
            if found is not None:
                member = found[1]
                attempts = host.ledger.pin_attempts_left(member)
                if host.ledger.pin_locked(member, now):
                    until = member.pin_locked_until
                    left = int((until - now).total_seconds() + 0.999)
        purpose = self.data.purpose or "redeem"
        return {"pin": PinView(purpose, host.ledger.rules.pin.length, len(self.data.digits), attempts, until, left)}

    def going_back(self, state: SessionState) -> None:
        self.clear()

    # -- inside ----------------------------------------------------------------------------

    def _check_member_pin(
        self, pin: str, verified: Callable[[], None], locked: Callable[[], None] | None
    ) -> None:
        host = self.host
        lock = locked or (lambda: host.move("locked"))
        try:
            ok, txn = host.ledger.check_pin(host.visit.uid, pin, host.now())
        except Refused as exc:
            if exc.code == "pin_locked":
                lock()
            else:
                host.refuse(exc.code)
            return
        if txn is not None and not host.commit(txn):
            host.refuse("store_failed")  # a failure count we could not keep: do not go on
            return
        if ok:
            verified()
            return
        host.feedback.error()
        if self.member_locked():
            lock()
        else:
            _, member, _ = host.ledger.lookup(host.visit.uid)
            host.hint("pin_wrong", attempts_left=host.ledger.pin_attempts_left(member))
