"""The session's states, named once: the machine (kiosk/session/machine.py), the flows
(kiosk/session/flows/) and the screens (kiosk/ui) all use these names, never the strings.

A StrEnum, so `session.state == "home"` and a state in a JSON log still read as plain text.
No third-party import here: the UI and the docs can name states without the machine library."""

from __future__ import annotations

from enum import StrEnum


class SessionState(StrEnum):
    idle = "idle"
    home = "home"
    blocked = "blocked"
    not_recognised = "not_recognised"
    checking_card = "checking_card"
    signup_offer = "signup_offer"
    signup_details = "signup_details"
    signup_privacy = "signup_privacy"
    signup_pin = "signup_pin"
    signup_writing = "signup_writing"
    topup_amount = "topup_amount"
    topup_confirm = "topup_confirm"
    paying = "paying"
    redeem_choose = "redeem_choose"
    redeem_confirm = "redeem_confirm"
    pin_entry = "pin_entry"
    pin_locked = "pin_locked"
    done = "done"
    notice = "notice"
    staff_menu = "staff_menu"
    charge_amount = "charge_amount"
    charge_tap = "charge_tap"
    charge_confirm = "charge_confirm"
    charge_pin = "charge_pin"
    profile_pin = "profile_pin"
    profile_edit = "profile_edit"
    staff_notes = "staff_notes"
    new_pin_tap = "new_pin_tap"
    new_pin_entry = "new_pin_entry"
    card_write_pin = "card_write_pin"
    card_writing = "card_writing"


S = SessionState

# the names the state diagram shows (docs/session-states.md)
TITLES: dict[SessionState, str] = {
    S.idle: "Idle / attract",
    S.home: "Member home",
    S.blocked: "Blocked card",
    S.not_recognised: "Card not recognised",
    S.checking_card: "Checking the card with HQ",
    S.signup_offer: "Offer sign-up",
    S.signup_details: "Sign-up: phone, name, birthday",
    S.signup_privacy: "Sign-up: privacy notice",
    S.signup_pin: "Sign-up: set PIN twice",
    S.signup_writing: "Sign-up: personalising the card",
    S.topup_amount: "Top-up: choose amount",
    S.topup_confirm: "Top-up: bonus and payment method",
    S.paying: "Top-up: waiting for payment",
    S.redeem_choose: "Redeem: catalogue",
    S.redeem_confirm: "Redeem: confirm",
    S.pin_entry: "PIN entry",
    S.pin_locked: "PIN locked",
    S.done: "Done",
    S.notice: "Notice (refused / failed)",
    S.staff_menu: "Staff / technician menu",
    S.charge_amount: "Charge: staff keys the amount",
    S.charge_tap: "Charge: pay - tap your card",
    S.charge_confirm: "Charge: amount, discount, balance after",
    S.charge_pin: "Charge: PIN",
    S.profile_pin: "My details: PIN",
    S.profile_edit: "My details: name, phone twice, birthday",
    S.staff_notes: "Staff: member notes (the member taps their card)",
    S.new_pin_tap: "New PIN: the member taps their card",
    S.new_pin_entry: "New PIN: the member types it twice",
    S.card_write_pin: "Card made at HQ: the member's PIN",
    S.card_writing: "Card made at HQ: personalising it",
}

# states that show a result and then go away on their own (settings.message_s)
MESSAGE_STATES = frozenset({S.done, S.notice, S.blocked, S.not_recognised})
