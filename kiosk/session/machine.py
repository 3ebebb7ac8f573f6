"""The kiosk session's states and the moves between them, declared in one place.

The machine knows which move is allowed from where (and, as a transition's condition, on what
the visit has gathered); the flows (kiosk/session/flows/) decide which move to make and do the
work (ledger, store, payment). A move not declared here, or whose condition does not hold,
raises TransitionNotAllowed, which the session turns into "ignored" (a stale or double tap).

The states are kiosk/session/states.py's SessionState; the conditions are methods of the flows,
which the session registers as the machine's listeners (python-statemachine looks a condition
up by name on them)."""

from __future__ import annotations

from statemachine import State, StateMachine
from statemachine.states import States

from kiosk.session.states import TITLES, SessionState


class SessionMachine(StateMachine):
    s = States({st.value: State(TITLES[st], value=st, initial=st is SessionState.idle) for st in SessionState})

    # a card was read while idle (or HQ has answered for a card the replica does not hold)
    member_card = s.idle.to(s.home) | s.checking_card.to(s.home)
    blocked_card = s.idle.to(s.blocked) | s.checking_card.to(s.blocked)
    foreign_card = s.idle.to(s.not_recognised) | s.checking_card.to(s.not_recognised)
    ask_hq = s.idle.to(s.checking_card)
    blank_card = s.idle.to(s.signup_offer) | s.checking_card.to(s.signup_offer)
    # a card made at HQ's counter, blank or pre-issued: the member's PIN, then it is written (flows/card_write.py)
    card_to_write = s.idle.to(s.card_write_pin) | s.checking_card.to(s.card_write_pin)
    card_write_pin_ok = s.card_write_pin.to(s.card_writing)
    card_write_done = s.card_writing.to(s.home)
    staff_card = s.idle.to(s.staff_menu)

    # sign-up
    start_signup = s.signup_offer.to(s.signup_details)
    details_ok = s.signup_details.to(s.signup_privacy)
    privacy_ok = s.signup_privacy.to(s.signup_pin)
    pin_set = s.signup_pin.to(s.signup_writing)
    fix_details = s.signup_pin.to(s.signup_details)
    card_issued = s.signup_writing.to(s.done)
    fee_due = s.signup_writing.to(s.topup_amount)  # the card fee: paid or waived with the first top-up

    # top-up
    start_topup = s.home.to(s.topup_amount)
    amount_ok = s.topup_amount.to(s.topup_confirm)
    pay = s.topup_confirm.to(s.paying)
    paid = s.paying.to(s.done)
    back_from_payment = s.paying.to(s.topup_confirm)

    # redeem
    start_redeem = s.home.to(s.redeem_choose)
    reward_ok = s.redeem_choose.to(s.redeem_confirm)
    need_pin = s.redeem_confirm.to(s.pin_entry)
    redeemed = s.redeem_confirm.to(s.done) | s.pin_entry.to(s.done)
    locked = s.redeem_confirm.to(s.pin_locked) | s.pin_entry.to(s.pin_locked) | s.profile_pin.to(s.pin_locked)

    # paying with the card: from the till (at idle) or the staff menu (amount keypad first)
    till_charge = s.idle.to(s.charge_tap)
    staff_charge = s.staff_menu.to(s.charge_amount)
    charge_amount_ok = s.charge_amount.to(s.charge_tap)
    charge_card = s.charge_tap.to(s.charge_confirm)
    charge_need_pin = s.charge_confirm.to(s.charge_pin)
    charged = s.charge_confirm.to(s.done) | s.charge_pin.to(s.done)

    # the member's own details (profile completion), behind the PIN
    start_profile = s.home.to(s.profile_pin)
    profile_pin_ok = s.profile_pin.to(s.profile_edit)
    profile_saved = s.profile_edit.to(s.done)

    # a new PIN the member chooses, opened by staff from the staff menu (kiosk/session/flows/new_pin.py)
    staff_new_pin = s.staff_menu.to(s.new_pin_tap)
    new_pin_card = s.new_pin_tap.to(s.new_pin_entry)
    new_pin_set = s.new_pin_entry.to(s.done)

    # the PIN pad (redeem, sign-up, charge, new PIN, profile): a key stays on the screen until the PIN is complete
    pin_key = (
        s.pin_entry.to.itself(internal=True)
        | s.signup_pin.to.itself(internal=True)
        | s.charge_pin.to.itself(internal=True)
        | s.profile_pin.to.itself(internal=True)
        | s.new_pin_entry.to.itself(internal=True)
        | s.card_write_pin.to.itself(internal=True)
    )
    pin_rubout = (
        s.pin_entry.to.itself(internal=True, cond="pin_digits_entered")
        | s.signup_pin.to.itself(internal=True, cond="pin_digits_entered")
        | s.charge_pin.to.itself(internal=True, cond="pin_digits_entered")
        | s.profile_pin.to.itself(internal=True, cond="pin_digits_entered")
        | s.new_pin_entry.to.itself(internal=True, cond="pin_digits_entered")
        | s.card_write_pin.to.itself(internal=True, cond="pin_digits_entered")
    )

    # daily check-in; the rating offered on the done screen after a top-up or redemption
    checked_in = s.home.to(s.done)
    rated = s.done.to.itself(internal=True, cond="survey_offered")

    # the staff menu's own actions
    reload_rules = s.staff_menu.to.itself(internal=True)
    open_notes = s.staff_menu.to(s.staff_notes)

    # going back one step
    back = (
        s.topup_amount.to(s.home)
        | s.topup_confirm.to(s.topup_amount)
        | s.redeem_choose.to(s.home)
        | s.redeem_confirm.to(s.redeem_choose)
        | s.pin_entry.to(s.redeem_confirm)
        | s.pin_locked.to(s.home)
        | s.signup_details.to(s.signup_offer)
        | s.signup_privacy.to(s.signup_details)
        | s.signup_pin.to(s.signup_privacy)
        | s.charge_amount.to(s.staff_menu)
        | s.charge_pin.to(s.charge_confirm)
        | s.profile_pin.to(s.home)
        | s.profile_edit.to(s.home)
        | s.new_pin_tap.to(s.staff_menu)
        | s.new_pin_entry.to(s.new_pin_tap)
    )
    # a result was shown; continue with the member's home while their card is still there
    to_home = s.done.to(s.home, cond="member_here") | s.notice.to(s.home, cond="member_here")

    # something was refused or failed: show why
    refused = (
        s.home.to(s.notice)
        | s.topup_amount.to(s.notice)
        | s.topup_confirm.to(s.notice)
        | s.paying.to(s.notice)
        | s.redeem_choose.to(s.notice)
        | s.redeem_confirm.to(s.notice)
        | s.pin_entry.to(s.notice)
        | s.signup_details.to(s.notice)
        | s.signup_pin.to(s.notice)
        | s.signup_writing.to(s.notice)
        | s.charge_amount.to(s.notice)
        | s.charge_tap.to(s.notice)
        | s.charge_confirm.to(s.notice)
        | s.charge_pin.to(s.notice)
        | s.profile_pin.to(s.notice)
        | s.profile_edit.to(s.notice)
        | s.new_pin_entry.to(s.notice)
        | s.card_write_pin.to(s.notice)
        | s.card_writing.to(s.notice)
    )

    # the session ends: finished, timed out, card removed, or another card tapped
    end = (
        s.home.to(s.idle)
        | s.blocked.to(s.idle)
        | s.not_recognised.to(s.idle)
        | s.checking_card.to(s.idle)
        | s.signup_offer.to(s.idle)
        | s.signup_details.to(s.idle)
        | s.signup_privacy.to(s.idle)
        | s.signup_pin.to(s.idle)
        | s.signup_writing.to(s.idle)
        | s.topup_amount.to(s.idle)
        | s.topup_confirm.to(s.idle)
        | s.paying.to(s.idle)
        | s.redeem_choose.to(s.idle)
        | s.redeem_confirm.to(s.idle)
        | s.pin_entry.to(s.idle)
        | s.pin_locked.to(s.idle)
        | s.done.to(s.idle)
        | s.notice.to(s.idle)
        | s.staff_menu.to(s.idle)
        | s.charge_amount.to(s.idle)
        | s.charge_tap.to(s.idle)
        | s.charge_confirm.to(s.idle)
        | s.charge_pin.to(s.idle)
        | s.profile_pin.to(s.idle)
        | s.profile_edit.to(s.idle)
        | s.staff_notes.to(s.idle)
        | s.new_pin_tap.to(s.idle)
        | s.new_pin_entry.to(s.idle)
        | s.card_write_pin.to(s.idle)
        | s.card_writing.to(s.idle)
    )

    @property
    def current(self) -> SessionState:
        return next(iter(self.configuration)).value

    def allows(self, event: str) -> bool:
        """Whether `event` may be sent now, its conditions included."""
        return any(e.id == event for e in self.enabled_events())
