"""Which screen shows each session state: the one map from kiosk/session/states.py's
SessionState to the screen classes (kiosk/ui/screens/). Plain data, no Kivy import, so a test
can check that every state has a screen (tests/test_ui_screen_map.py) without a window."""

from __future__ import annotations

from kiosk.session.states import S, SessionState

SCREEN_FOR: dict[SessionState, str] = {
    S.idle: "AttractScreen",
    S.home: "MemberScreen",
    S.blocked: "ResultScreen",
    S.not_recognised: "ResultScreen",
    S.checking_card: "CheckingCardScreen",
    S.signup_offer: "SignupOfferScreen",
    S.signup_details: "SignupDetailsScreen",
    S.signup_privacy: "SignupPrivacyScreen",
    S.signup_pin: "PinScreen",
    S.signup_writing: "SignupWritingScreen",
    S.topup_amount: "TopUpAmountScreen",
    S.topup_confirm: "TopUpConfirmScreen",
    S.paying: "PayingScreen",
    S.redeem_choose: "RedeemChooseScreen",
    S.redeem_confirm: "RedeemConfirmScreen",
    S.pin_entry: "PinScreen",
    S.pin_locked: "PinLockedScreen",
    S.done: "ResultScreen",
    S.notice: "ResultScreen",
    S.staff_menu: "StaffScreen",
    S.charge_amount: "ChargeAmountScreen",
    S.charge_tap: "ChargeTapScreen",
    S.charge_confirm: "ChargeConfirmScreen",
    S.charge_pin: "PinScreen",
    S.profile_pin: "PinScreen",
    S.profile_edit: "ProfileScreen",
    S.staff_notes: "StaffNotesScreen",
    S.new_pin_tap: "NewPinTapScreen",
    S.new_pin_entry: "PinScreen",
    S.card_write_pin: "PinScreen",
    S.card_writing: "CardWritingScreen",
}


def missing_states() -> list[SessionState]:
    """The states no screen shows (none, or the kiosk would show a stale screen there)."""
    return [state for state in SessionState if state not in SCREEN_FOR]
