"""The actions of paying with the card (the till's charge on screen and the staff menu's
"Charge a member"): one-line public methods of `Session`, kept here so session.py stays the
plumbing. Each goes through the session's `_act` like every other action (docs/session-api.md)."""

from __future__ import annotations

from kiosk.session.flows.charge import Charge


class ChargeActions:
    """Mixed into Session (which provides `_act` and `flow`)."""

    def start_staff_charge(self) -> bool:
        """Staff menu: "Charge a member" (amount keypad, then the member taps)."""
        return self._act(self.flow(Charge).start_staff)

    def charge_amount(self, amount_fen: int) -> bool:
        return self._act(lambda: self.flow(Charge).choose_amount(amount_fen))

    def confirm_charge(self) -> bool:
        """The member agrees to pay the amount shown (asks for the PIN when the rules say so)."""
        return self._act(self.flow(Charge).confirm)

    def cancel_charge(self) -> bool:
        return self._act(self.flow(Charge).cancel)

    def choose_charge(self, voucher_id: str | None = None, points: int | None = None) -> bool:
        return self._act(lambda: self.flow(Charge).choose(voucher_id, points))
