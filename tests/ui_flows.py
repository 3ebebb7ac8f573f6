"""The member journeys, driven through the real screens with touches: sign-up, top-up, redemption,
a PIN lockout, plus the short paths (lost card, unknown card, a refused copy, staff menu). Each calls
`visit(name)` on every screen worth a look; the flow tests save screenshots there and the layout
check looks for clipped text there, in both languages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.ledger.money import format_fen
from kiosk.reader import chips
from tests.session_support import PIN, Kiosk, staff_card
from tests.ui_harness import UiDriver

Visit = Callable[[str], None]


@dataclass
class Cards:
    """The chips the journeys tap: real card images, read through the simulated reader."""

    member: object  # a member with ¥1,234.50 and the welcome gift already given
    rich: object  # a gold member with 6,000+ points to redeem
    blank: object
    lost: object  # a member's card reported lost
    foreign: object  # a card of another kind (NTAG 424 DNA) this chain never issued
    staff: object
    copy: object  # an older copy of a member's card (its counter below the one the ledger has seen)


def seed(kiosk: Kiosk) -> Cards:
    """Members the journeys start from (set up directly in the ledger, not through screens)."""
    member = kiosk.member(balance_fen=123450, name="王小明")  # the names `kiosk run --simulate` gives its members
    rich = kiosk.member(balance_fen=300000, name="Li Na")
    uid = rich.uid.hex().upper()
    kiosk.store.commit(kiosk.ledger.top_up(uid, 300000, "setup", kiosk.clock.now()))
    lost = kiosk.member()
    kiosk.store.commit(kiosk.ledger.block_card(lost.uid.hex().upper(), "lost", kiosk.clock.now()))
    copied = kiosk.member()
    copy = chips.MifareClassic(copied.uid, memory=bytes(copied.memory))
    kiosk.store.commit(kiosk.ledger.purse_written(uid_of(copied), 1, kiosk.clock.now()))  # the genuine card moved on
    kiosk.ui_cards = Cards(member, rich, kiosk.blank(), lost, chips.new_ntag424(), staff_card(), copy)
    return kiosk.ui_cards


def uid_of(chip) -> str:
    return chip.uid.hex().upper()


def press_digits(ui: UiDriver, digits: str) -> None:
    for d in digits:
        ui.tap(ui.screen.keypad.keys[d])


def sign_up(ui: UiDriver, visit: Visit) -> None:
    k = ui.kiosk
    visit("idle")
    k.tap(k.ui_cards.blank)
    ui.frames(3)
    assert k.session.state == "signup_offer"
    visit("signup_offer")
    ui.tap(ui.screen.start)
    assert k.session.state == "signup_details"
    press_digits(ui, "13912345678")  # phone: 11 digits, then the keypad moves on to the birthday
    press_digits(ui, "19900512")
    visit("signup_details")
    ui.tap(ui.screen.next)
    assert k.session.state == "signup_privacy", k.session.view.message
    visit("signup_privacy")
    ui.tap(ui.screen.accept)
    assert k.session.state == "signup_pin"
    press_digits(ui, PIN[:3])
    visit("signup_pin")
    press_digits(ui, PIN[3:])
    press_digits(ui, PIN)
    assert k.session.state == "signup_writing"
    visit("signup_writing")
    ui.pump()  # the reader thread's turn: it personalises the card
    assert k.session.state == "done", k.session.view.message
    visit("signup_done")
    ui.tap(ui.screen.ok)
    assert k.session.state == "home"
    visit("signup_home")
    ui.tap(ui.screen.finish)
    k.lift()
    assert k.session.state == "idle"


def top_up(ui: UiDriver, visit: Visit) -> int:
    """Top up ¥500 (bonus ¥25) paid at the counter; returns the balance shown at the end."""
    k = ui.kiosk
    k.tap(k.ui_cards.member)
    ui.frames(3)
    assert k.session.state == "home"
    visit("home")
    ui.tap(ui.screen.topup)
    assert k.session.state == "topup_amount"
    visit("topup_amount")
    press_digits(ui, "9999")  # ¥9,999: over the rules' maximum, said on the same screen
    ui.tap(ui.screen.custom_ok)
    assert k.session.state == "topup_amount" and k.session.view.message.code == "amount_out_of_range"
    assert ui.screen.hint_line.parent is not None and "5,000.00" in ui.screen.hint_line.text
    visit("topup_too_much")
    ui.tap_text(format_fen(50000))
    assert k.session.state == "topup_confirm"
    visit("topup_confirm")
    ui.tap(ui.screen.method_buttons["staff_cash"])
    assert k.session.state == "paying"
    visit("paying")
    k.lift()  # the member lifts the card so staff can tap theirs
    k.tap(k.ui_cards.staff)
    ui.frames(3)
    assert k.session.state == "done", k.session.view.message
    visit("topup_done")
    balance = k.session.view.member.balance_fen
    ui.tap(ui.screen.ok)
    k.run()
    assert k.session.state == "idle"
    return balance


def redeem(ui: UiDriver, visit: Visit) -> None:
    k = ui.kiosk
    k.tap(k.ui_cards.rich)
    ui.frames(3)
    ui.tap(ui.screen.redeem)
    assert k.session.state == "redeem_choose"
    visit("redeem_choose")
    ui.tap(next(b for b in ui.screen.buttons if b.reward.reward_id == "coffee"))
    assert k.session.state == "redeem_confirm"
    visit("redeem_confirm")
    ui.tap(ui.screen.confirm)
    assert k.session.state == "pin_entry"
    press_digits(ui, PIN)
    assert k.session.state == "done", k.session.view.message
    visit("redeem_done")
    ui.tap(ui.screen.ok)
    assert k.session.state == "home"
    ui.tap(ui.screen.finish)
    k.lift()


def pin_lockout(ui: UiDriver, visit: Visit) -> None:
    k = ui.kiosk
    k.tap(k.ui_cards.rich)
    ui.frames(3)
    ui.tap(ui.screen.redeem)
    ui.tap(next(b for b in ui.screen.buttons if b.reward.reward_id == "tote"))
    ui.tap(ui.screen.confirm)
    attempts = k.ledger.rules.pin.max_attempts
    for attempt in range(attempts):
        assert k.session.state == "pin_entry"
        press_digits(ui, "135790")
        if attempt == 0:
            visit("pin_wrong")
    assert k.session.state == "pin_locked"
    visit("pin_locked")
    ui.tap(ui.screen.back)
    assert k.session.state == "home"
    ui.tap(ui.screen.finish)
    k.lift()


def short_paths(ui: UiDriver, visit: Visit) -> None:
    k = ui.kiosk
    cards = k.ui_cards
    for chip, state, name in (
        (cards.lost, "blocked", "blocked"),
        (cards.foreign, "not_recognised", "not_recognised"),
        (cards.copy, "not_recognised", "card_refused"),
        (cards.staff, "staff_menu", "staff_menu"),
    ):
        k.tap(chip)
        ui.frames(3)
        assert k.session.state == state
        visit(name)
        k.lift()
        if k.session.state != "idle":
            ui.tap(ui.screen.exit if state == "staff_menu" else ui.screen.ok)
        assert k.session.state == "idle"
    # a new PIN the member chooses, opened from the staff menu: the tap screen and the pad
    k.tap(cards.staff)
    ui.frames(3)
    ui.tap(ui.screen.new_pin)
    k.lift()
    assert k.session.state == "new_pin_tap"
    visit("new_pin_tap")
    k.tap(cards.member)
    ui.frames(3)
    assert k.session.state == "new_pin_entry"
    visit("new_pin_entry")
    ui.tap(ui.screen.back)
    ui.tap(ui.screen.back)
    assert k.session.state == "staff_menu"
    ui.tap(ui.screen.exit)
    k.lift()
    k.run()
    assert k.session.state == "idle"


def engage(ui: UiDriver, visit: Visit) -> None:
    """Daily check-in, the after-visit rating, and a friend signing up with the member's code."""
    k = ui.kiosk
    k.tap(k.ui_cards.member)
    ui.frames(3)
    home = ui.screen
    assert k.session.state == "home" and home.check_in.parent is not None
    code = k.session.view.member.referral_code
    assert home.referral_code.text == code and home.qr.matrix  # the QR code is drawn from the code
    ui.tap(home.check_in)
    assert k.session.state == "done" and k.session.view.message.code == "checked_in"
    visit("check_in_done")
    ui.tap(ui.screen.ok)
    assert k.session.state == "home" and ui.screen.check_in.parent is None  # once a day
    ui.tap(ui.screen.finish)
    k.lift()

    k.tap(k.ui_cards.rich)  # a redemption, then the rating
    ui.frames(3)
    ui.tap(ui.screen.redeem)
    ui.tap(next(b for b in ui.screen.buttons if b.reward.reward_id == "coffee"))
    ui.tap(ui.screen.confirm)
    press_digits(ui, PIN)
    assert k.session.state == "done" and ui.screen.survey.parent is not None
    reason = k.session.view.survey.reasons[0]
    ui.tap(ui.screen.reasons[reason])
    visit("survey")
    ui.tap(ui.screen.stars[3])  # four stars
    assert k.session.view.message.code == "survey_thanks" and ui.screen.survey.parent is None
    visit("survey_thanks")
    ui.tap(ui.screen.ok)
    ui.tap(ui.screen.finish)
    k.lift()

    k.tap(k.ui_cards.blank)  # a friend signs up with the member's code
    ui.frames(3)
    ui.tap(ui.screen.start)
    press_digits(ui, "13912345678")
    ui.screen.referral_input.text = "ZZZZZZZZ"  # typed on the on-screen keyboard
    ui.tap(ui.screen.next)
    assert k.session.state == "signup_details" and k.session.view.message.code == "unknown_referral_code"
    visit("signup_referral_unknown")
    ui.screen.referral_input.text = code
    ui.tap(ui.screen.next)
    assert k.session.state == "signup_privacy"
    ui.tap(ui.screen.accept)
    press_digits(ui, PIN)
    press_digits(ui, PIN)
    ui.pump()
    assert k.session.state == "done" and k.session.view.message.params["referral_points"] > 0
    visit("signup_referral_done")
    ui.tap(ui.screen.ok)
    ui.tap(ui.screen.finish)
    k.lift()


def charge(ui: UiDriver, visit: Visit) -> None:
    """Paying with the card: a till's charge with the tier discount and the PIN, a charge the
    balance cannot cover, and the staff menu's "Charge a member"."""
    from kiosk.ledger import vouchers
    from kiosk.session.charge_ticket import ChargeOrder, ChargeTicket, TillCharge

    k = ui.kiosk
    rich = k.ledger.state.cards[k.ui_cards.rich.uid.hex().upper()].member_id
    if not vouchers.valid(k.ledger.state.accounts[rich], k.clock.now()):  # the new-member voucher, if not given yet
        k.store.commit(vouchers.issue(k.ledger, rich, "welcome10", k.clock.now(), "new_member"))
    ticket = ChargeTicket(ChargeOrder("T1:A1", 30000, True))
    k.session.post(TillCharge(ticket))
    k.run()
    ui.frames(3)
    assert k.session.state == "charge_tap"
    visit("charge_tap")
    k.tap(k.ui_cards.rich)  # gold: 5% off, over the PIN threshold
    ui.frames(3)
    assert k.session.state == "charge_confirm"
    ui.tap(ui.screen.voucher)  # the member picks the voucher, then points as cash
    ui.tap(ui.screen.points)
    charge = k.session.view.charge
    assert charge.voucher_fen == 1000 and charge.points_used > 0, charge
    visit("charge_confirm")
    ui.tap(ui.screen.ok)
    assert k.session.state == "charge_pin"
    press_digits(ui, PIN[:2])
    visit("charge_pin")
    press_digits(ui, PIN[2:])
    assert k.session.state == "done" and ticket.outcome.status == "approved", k.session.view.message
    assert ticket.outcome.voucher_fen == 1000 and ticket.outcome.points_used == charge.points_used
    visit("charge_done")
    ui.tap(ui.screen.ok)
    k.lift()
    k.run()

    poor = ChargeTicket(ChargeOrder("T1:A2", 9_999_900, False))
    k.session.post(TillCharge(poor))
    k.run()
    k.tap(k.ui_cards.member)
    ui.frames(3)
    assert k.session.state == "notice" and poor.outcome.reason == "insufficient_balance"
    visit("charge_declined")
    k.lift()  # nothing was taken: lifting the card ends the visit
    assert k.session.state == "idle"

    k.tap(k.ui_cards.staff)
    ui.frames(3)
    ui.tap(ui.screen.charge)
    assert k.session.state == "charge_amount"
    k.lift()
    press_digits(ui, "4550")
    visit("charge_amount")
    ui.tap(ui.screen.keypad.keys["ok"])
    assert k.session.state == "charge_tap"
    k.tap(k.ui_cards.member)
    ui.frames(3)
    ui.tap(ui.screen.ok)  # ¥45.50: under the PIN threshold
    assert k.session.state == "done", k.session.view.message
    ui.tap(ui.screen.ok)
    k.lift()
    k.run()
    assert k.session.state == "idle"


def profile(ui: UiDriver, visit: Visit) -> None:
    """My details behind the PIN: a new phone typed twice (a mismatch first), the birthday added,
    the points for the completed profile."""
    k = ui.kiosk
    k.tap(k.ui_cards.member)  # 王小明: a name and a phone, no birthday yet
    ui.frames(3)
    ui.tap(ui.screen.profile)
    assert k.session.state == "profile_pin"
    press_digits(ui, PIN[:4])
    visit("profile_pin")
    press_digits(ui, PIN[4:])
    assert k.session.state == "profile_edit", k.session.view.message
    visit("profile_edit")
    press_digits(ui, "13712345678")  # 11 digits: the keypad moves on to the number again
    press_digits(ui, "13712345670")
    ui.tap(ui.screen.save)
    assert k.session.state == "profile_edit" and k.session.view.message.code == "phone_mismatch"
    visit("profile_phone_mismatch")
    ui.tap(ui.screen.keypad.keys["del"])
    press_digits(ui, "8")
    ui.tap(ui.screen.fields["birthday"])
    press_digits(ui, "19880315")
    ui.tap(ui.screen.save)
    assert k.session.state == "done" and k.session.view.message.code == "profile_saved", k.session.view.message
    visit("profile_done")
    ui.tap(ui.screen.ok)
    ui.tap(ui.screen.finish)
    k.lift()


def staff_notes(ui: UiDriver, visit: Visit) -> None:
    """The staff menu's "Member notes": the staff card makes way, the member taps theirs."""
    from datetime import UTC, datetime

    from kiosk.sync.messages.notes import NoteLine, StoreNotes
    from tests.test_session_staff_notes import NotesLink

    k = ui.kiosk
    member_id = k.ledger.lookup(uid_of(k.ui_cards.member))[1].member_id
    k.session.sync = NotesLink(StoreNotes(2, (
        NoteLine(member_id, 1, "2026-11-20T02:00:00Z", "s1", "对青霉素过敏；偏好无香型产品。 Allergic to penicillin.",
                 ("过敏", "偏好")),
    ), datetime(2026, 11, 23, tzinfo=UTC)))
    k.tap(k.ui_cards.staff)
    ui.frames(3)
    ui.tap(ui.screen.notes)
    assert k.session.state == "staff_notes"
    k.lift()
    ui.frames(2)
    visit("staff_notes_tap")
    k.tap(k.ui_cards.member)
    ui.frames(3)
    assert k.session.view.staff_notes.member_id == member_id
    visit("staff_notes")
    ui.tap(ui.screen.exit)
    k.lift()


def card_write(ui: UiDriver, visit: Visit) -> None:
    """A card HQ's counter made (补卡: a blank card for 王小明's lost one): the member's PIN on the
    pad, the card written while it stays on the reader, then the member's home."""
    from kiosk.ledger.operations import Ledger
    from kiosk.ledger.pin import FAST_FOR_TESTS

    k = ui.kiosk
    new = k.blank()
    hq = Ledger(k.ledger.state, k.ledger.rules, "hq", b"test", FAST_FOR_TESTS)  # what the kiosk learns from HQ
    k.store.commit(hq.replace_card(uid_of(k.ui_cards.member), uid_of(new), k.clock.now()))
    k.tap(new)
    ui.frames(3)
    assert k.session.state == "card_write_pin", k.session.view.message
    press_digits(ui, PIN[:2])
    visit("card_write_pin")
    press_digits(ui, PIN[2:])
    assert k.session.state == "card_writing"
    visit("card_writing")
    ui.pump()  # the reader thread's turn: it writes the card
    assert k.session.state == "home", k.session.view.message
    visit("card_written")
    ui.tap(ui.screen.finish)
    k.lift()
