"""Which screen shows each session state: the one map from kiosk/session/states.py's
SessionState to the screen classes (kiosk/ui/screens/), and the module each class lives in.
Plain data, no Kivy import, so a test can check that every state has a screen
(tests/test_ui_screen_map.py) without a window, and the app imports a screen's module only when
it makes the screen (the idle screen's alone before the first frame)."""

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

_SCREENS = "kiosk.ui.screens."
SCREEN_MODULE: dict[str, str] = {
    "AttractScreen": _SCREENS + "attract",
    "MemberScreen": _SCREENS + "member",
    "TopUpAmountScreen": _SCREENS + "topup",
    "TopUpConfirmScreen": _SCREENS + "topup",
    "PayingScreen": _SCREENS + "topup",
    "RedeemChooseScreen": _SCREENS + "redeem",
    "RedeemConfirmScreen": _SCREENS + "redeem",
    "PinScreen": _SCREENS + "pin",
    "PinLockedScreen": _SCREENS + "pin",
    "SignupOfferScreen": _SCREENS + "signup",
    "SignupDetailsScreen": _SCREENS + "signup",
    "SignupPrivacyScreen": _SCREENS + "signup",
    "SignupWritingScreen": _SCREENS + "waiting",
    "CheckingCardScreen": _SCREENS + "waiting",
    "CardWritingScreen": _SCREENS + "waiting",
    "ResultScreen": _SCREENS + "result",
    "StaffScreen": _SCREENS + "staff",
    "NewPinTapScreen": _SCREENS + "staff",
    "StaffNotesScreen": _SCREENS + "staff",
    "ChargeAmountScreen": _SCREENS + "charge",
    "ChargeTapScreen": _SCREENS + "charge",
    "ChargeConfirmScreen": _SCREENS + "charge",
    "ProfileScreen": _SCREENS + "profile",
}


def missing_states() -> list[SessionState]:
    """The states no screen shows (none, or the kiosk would show a stale screen there)."""
    return [state for state in SessionState if state not in SCREEN_FOR]
