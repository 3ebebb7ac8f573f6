"""The kiosk session's states and the transitions between them, declared in one place.

The machine only knows which move is allowed from where; `Session` decides which move to make
and does the work (ledger, store, payment). A move not declared here raises
TransitionNotAllowed, which the session turns into "ignored" (a stale or double tap)."""

from __future__ import annotations

from statemachine import State, StateMachine


class SessionMachine(StateMachine):
    idle = State("Idle / attract", initial=True)
    home = State("Member home")
    blocked = State("Blocked card")
    not_recognised = State("Card not recognised")
    signup_offer = State("Offer sign-up")
    signup_details = State("Sign-up: phone, name, birthday")
    signup_privacy = State("Sign-up: privacy notice")
    signup_pin = State("Sign-up: set PIN twice")
    signup_writing = State("Sign-up: personalising the card")
    topup_amount = State("Top-up: choose amount")
    topup_confirm = State("Top-up: bonus and payment method")
    paying = State("Top-up: waiting for payment")
    redeem_choose = State("Redeem: catalogue")
    redeem_confirm = State("Redeem: confirm")
    pin_entry = State("PIN entry")
    pin_locked = State("PIN locked")
    done = State("Done")
    notice = State("Notice (refused / failed)")
    staff_menu = State("Staff / technician menu")

    # a card was read while idle
    member_card = idle.to(home)
    blocked_card = idle.to(blocked)
    foreign_card = idle.to(not_recognised)
    blank_card = idle.to(signup_offer)
    staff_card = idle.to(staff_menu)

    # sign-up
    start_signup = signup_offer.to(signup_details)
    details_ok = signup_details.to(signup_privacy)
    privacy_ok = signup_privacy.to(signup_pin)
    pin_set = signup_pin.to(signup_writing)
    fix_details = signup_pin.to(signup_details)
    card_issued = signup_writing.to(done)

    # top-up
    start_topup = home.to(topup_amount)
    amount_ok = topup_amount.to(topup_confirm)
    pay = topup_confirm.to(paying)
    paid = paying.to(done)
    back_from_payment = paying.to(topup_confirm)

    # redeem
    start_redeem = home.to(redeem_choose)
    reward_ok = redeem_choose.to(redeem_confirm)
    need_pin = redeem_confirm.to(pin_entry)
    redeemed = redeem_confirm.to(done) | pin_entry.to(done)
    locked = redeem_confirm.to(pin_locked) | pin_entry.to(pin_locked)

    # daily check-in
    checked_in = home.to(done)

    # going back one step
    back = (
        topup_amount.to(home)
        | topup_confirm.to(topup_amount)
        | redeem_choose.to(home)
        | redeem_confirm.to(redeem_choose)
        | pin_entry.to(redeem_confirm)
        | pin_locked.to(home)
        | signup_details.to(signup_offer)
        | signup_privacy.to(signup_details)
        | signup_pin.to(signup_privacy)
    )
    # a result was shown; continue with the member's home
    to_home = done.to(home) | notice.to(home)

    # something was refused or failed: show why
    refused = (
        home.to(notice)
        | topup_amount.to(notice)
        | topup_confirm.to(notice)
        | paying.to(notice)
        | redeem_choose.to(notice)
        | redeem_confirm.to(notice)
        | pin_entry.to(notice)
        | signup_details.to(notice)
        | signup_pin.to(notice)
        | signup_writing.to(notice)
    )

    # the session ends: finished, timed out, card removed, or another card tapped
    end = (
        home.to(idle)
        | blocked.to(idle)
        | not_recognised.to(idle)
        | signup_offer.to(idle)
        | signup_details.to(idle)
        | signup_privacy.to(idle)
        | signup_pin.to(idle)
        | signup_writing.to(idle)
        | topup_amount.to(idle)
        | topup_confirm.to(idle)
        | paying.to(idle)
        | redeem_choose.to(idle)
        | redeem_confirm.to(idle)
        | pin_entry.to(idle)
        | pin_locked.to(idle)
        | done.to(idle)
        | notice.to(idle)
        | staff_menu.to(idle)
    )

    @property
    def state_id(self) -> str:
        return next(iter(self.configuration)).id
