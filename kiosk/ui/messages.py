"""The session speaks in stable codes with named values (Message); this turns them into a
sentence in the current language. Values named *_fen are money and shown with format_fen, values
named *_seconds are waits and shown with wait_phrase ("15 minutes", not "15 min 0 s")."""

from __future__ import annotations

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import N_, _, ngettext

TEMPLATES: dict[str, str] = {
    # results
    "topup_done": N_("Topped up {amount_fen} with {bonus_fen} bonus. Balance now {balance_fen}."),
    "topup_done_no_bonus": N_("Topped up {amount_fen}. Balance now {balance_fen}."),
    "topup_done_fee_waived": N_("Topped up {amount_fen} (bonus {bonus_fen}); your card fee is waived. Balance now {balance_fen}."),
    "topup_done_fee_paid": N_("Card fee {fee_fen} paid and {amount_fen} topped up (bonus {bonus_fen}). Balance now {balance_fen}."),
    "card_fee_paid": N_("Card fee {fee_fen} paid. Your card is ready."),
    "staff_credit_armed": N_("The next member who taps in the next {minutes} minutes is credited to staff {staff_id}."),
    "redeem_done": N_("Enjoy your reward! {points_used} points used, {points} left."),
    "signup_done": N_("Welcome! Your card is ready. You have {points} points."),
    "card_written": N_("Your new card is ready to use."),
    "checked_in": N_("Checked in: +{points} points (day {streak} in a row). You have {total_points} points."),
    "survey_thanks": N_("Thank you for your rating!"),
    "paid_not_credited": N_("Your payment of {paid_fen} was taken but could not be credited. Staff will help you."),
    "charge_done": N_("Paid {amount_fen} from your card. Balance now {balance_fen}."),
    "charge_insufficient_balance": N_("Your balance of {balance_fen} is not enough for this payment."),
    "charge_cancelled": N_("The payment was cancelled. Nothing was taken from your card."),
    "charge_timed_out": N_("No card was tapped in time. Nothing was taken."),
    "charge_card_not_member": N_("This is not a member card of this store. Please tap your member card."),
    "new_pin_set": N_("Your new PIN is set. Your old PIN no longer works."),
    "new_pin_card_not_member": N_("This is not an active member card of this store."),
    "order_already_charged": N_("This order has already been paid."),
    "bad_order_id": N_("The till sent an order number that cannot be used. Please ask at the counter."),
    "kiosk_busy": N_("The kiosk is busy. Please try again."),
    "store_failed": N_("The kiosk could not save this. Nothing was changed; please ask at the counter."),
    # cards
    "card_blocked": N_("This card has been reported lost. Please ask at the counter."),
    "card_replaced": N_("This card has been replaced by a newer one. Please use your new card."),
    "card_returned": N_("This card has been returned and can no longer be used."),
    "card_not_recognised": N_("Sorry, this card is not recognised."),
    "card_refused": N_("This card cannot be used. Please ask at the counter."),
    "unknown_card": N_("Sorry, this card is not recognised."),
    "card_unknown_here": N_("This card is not known at this kiosk yet. Please ask at the counter."),
    "card_unknown_offline": N_("This card cannot be checked offline. Please ask at the counter."),
    "card_data_missing": N_("This card's data could not be read. Please ask at the counter."),
    "card_writer_unavailable": N_("Cards cannot be issued here right now. Please ask at the counter."),
    "card_removed": N_("The card was removed. Nothing was changed."),
    "card_read_failed": N_("The card could not be read. Please hold it still on the reader and try again."),
    "money_paused": N_("Top-ups are paused at the moment: {reason}. Please ask at the counter."),
    "error": N_("Something went wrong. Nothing was changed; please try again."),
    "card_write_failed": N_("The card could not be written. Nothing was changed; please try again."),
    # money and points
    "amount_out_of_range": N_("Please choose an amount between {min_fen} and {max_fen}."),
    "insufficient_balance": N_("Your balance is not enough."),
    "balance_limit": N_("This top-up would take the balance over the card's limit."),
    "insufficient_points": N_("You do not have enough points for this reward."),
    "out_of_stock": N_("Sorry, this reward is out of stock."),
    "reward_not_available": N_("Sorry, this reward is not available now."),
    "bad_points_choice": N_("Please choose a valid number of points."),
    "voucher_not_found": N_("This voucher is not on your card."),
    "voucher_used": N_("This voucher has already been used."),
    "voucher_expired": N_("This voucher has expired."),
    "voucher_other_store": N_("This voucher cannot be used in this store."),
    "voucher_min_spend": N_("This order is too small for this voucher."),
    "offline_limit": N_("The kiosk is offline and this card reached its offline limit."),
    "payment_failed": N_("The payment did not go through. Nothing was credited."),
    "payment_cancelled": N_("The payment was cancelled. Nothing was credited."),
    "payment_timeout": N_("The payment timed out. Nothing was credited."),
    "payment_unavailable": N_("This way of paying cannot be used now."),
    # PIN
    "pin_wrong": N_("Wrong PIN. {attempts_left} attempts left."),
    "pin_locked": N_("PIN locked. Try again in {wait_seconds}."),
    "pin_locked_no_time": N_("PIN locked. Please try again later."),
    "pin_mismatch": N_("The two PINs do not match. Please set it again."),
    "bad_pin_format": N_("The PIN must be {length} digits."),
    "pin_too_simple": N_("This PIN is too easy to guess. Please choose another."),
    # sign-up
    "bad_phone": N_("Please enter a valid phone number."),
    "bad_name": N_("The name can have at most 40 characters."),
    "phone_in_use": N_("This phone number already has a card. Please ask at the counter."),
    "card_in_use": N_("This card already belongs to a member."),
    "bad_birthday": N_("Please enter a valid birthday (YYYYMMDD)."),
    "privacy_required": N_("Please accept the privacy notice to sign up."),
    "unknown_referral_code": N_("This referral code is not known. Check it, or leave it empty."),
    # my details (profile completion)
    "profile_saved": N_("Your details are saved."),
    "profile_saved_points": N_("Your details are complete: +{points} points. You have {total_points} points."),
    "phone_mismatch": N_("The two phone numbers do not match. Please type the new number twice."),
    "birthday_once": N_("Your birthday was already changed once. Please ask at the counter."),
    "profile_unchanged": N_("Nothing was changed."),
    # engagement
    "already_checked_in": N_("You have already checked in today. See you tomorrow!"),
    "check_in_disabled": N_("Check-in is not available here."),
    "clock_not_trusted": N_("Check-in will be back once the kiosk has the right time. Please try later."),
    "bad_rating": N_("Please choose one to five stars."),
    "bad_survey_reason": N_("Please choose from the reasons shown."),
    # gifts
    "gift_already_given": N_("This gift has already been given."),
    "new_member_gift": N_("Welcome gift: {points} points"),
    "birthday_gift": N_("Happy birthday! Gift: {points} points"),
    # staff
    "rules_reloaded": N_("Rules reloaded (version {version})."),
    "rules_reload_failed": N_("The rules could not be reloaded: {error}"),
    "rules_reload_unavailable": N_("Reloading rules is not available here."),
}
# the rules' survey reason ids; a reason the rules add later shows as its id until translated
SURVEY_REASONS: dict[str, str] = {
    "fast_service": N_("Fast service"),
    "friendly_staff": N_("Friendly staff"),
    "good_rewards": N_("Good rewards"),
    "too_slow": N_("Too slow"),
    "hard_to_use": N_("Hard to use"),
}
# why money is paused (kiosk.sync.admission's codes and kiosk.session.store_fault's)
PAUSE_REASONS: dict[str, str] = {
    "disk_nearly_full": N_("the kiosk's storage is nearly full"),
    "outbox_full": N_("too many transactions wait for headquarters"),
    "store_full": N_("the kiosk's storage is full and it cannot save"),
    "store_read_only": N_("the kiosk's memory card no longer accepts writes"),
    "store_error": N_("the kiosk cannot save right now"),
}
UNKNOWN = N_("Sorry, that did not work. Please ask at the counter. ({code})")


def wait_phrase(seconds: int) -> str:
    """A wait as a person says it: whole minutes when whole ("15 minutes"), minutes and seconds
    only when needed ("14 min 5 s"), seconds under a minute; from an hour on, hours and minutes
    (the seconds rounded up: nobody counts them an hour ahead)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        if rest == 0:
            return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=rest)
    hours, minutes = divmod(-(-seconds // 60), 60)
    if minutes == 0:
        return ngettext("{n} hour", "{n} hours", hours).format(n=hours)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)


def _value(name: str, value) -> str:
    if name.endswith("_fen") and isinstance(value, int):
        return format_fen(value)
    if name.endswith("_seconds") and isinstance(value, int):
        return wait_phrase(value)
    if name == "reason" and value in PAUSE_REASONS:
        return _(PAUSE_REASONS[value])
    return str(value)


def _form(code: str, params: dict) -> str:
    """Some sentences read better in another form for some values: no bonus clause when there
    is no bonus, no time when the session did not say how long."""
    if code == "topup_done" and "fee_fen" in params:
        return "topup_done_fee_waived" if params.get("fee_waived") else "topup_done_fee_paid"
    if code == "topup_done" and params.get("bonus_fen") == 0:
        return "topup_done_no_bonus"
    if code == "profile_saved" and params.get("points", 0) > 0:
        return "profile_saved_points"
    if code == "pin_locked" and "wait_seconds" not in params:
        return "pin_locked_no_time"
    return code


def render_message(code: str, params: dict | None = None) -> str:
    """The sentence for a code; an unknown code still says something useful and names itself."""
    template = TEMPLATES.get(_form(code, params or {}))
    values = {name: _value(name, value) for name, value in (params or {}).items()}
    if template is None:
        return _(UNKNOWN).format(code=code)
    try:
        return _(template).format(**values)
    except (KeyError, IndexError, ValueError):
        return _(template).split("{")[0].strip() or _(UNKNOWN).format(code=code)


def survey_reason(reason: str) -> str:
    return _(SURVEY_REASONS[reason]) if reason in SURVEY_REASONS else reason.replace("_", " ")
