"""Sign-up with a blank card: the offer, phone / name / birthday, the privacy notice, and the wait
while the card is personalised (waiting.py). The session checks every value; these screens only collect them."""

from __future__ import annotations

from datetime import date

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import _
from kiosk.ui.messages import render_message
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, TEXT_FONT, FitLabel, KButton, KeyPad, Panel

PHONE_DIGITS = 15
BIRTHDAY_DIGITS = 8  # YYYYMMDD


def parse_birthday(digits: str) -> date | None:
    """YYYYMMDD as typed on the keypad (None when empty); ValueError when it is no date."""
    if not digits:
        return None
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def finish_keypad_form(screen: KioskScreen, row: BoxLayout, left: BoxLayout, on_submit):
    """The end of a form of fields beside a keypad (sign-up details, my details): the hint line,
    Back and the submit button under the fields, the keypad to their right. Returns
    (hint, back, submit, keypad); the screen names the buttons in fill()."""
    m = screen.m
    hint = FitLabel(font_size=m.font_small, color=COLOURS.error, wrap=True)
    left.add_widget(hint)
    buttons = BoxLayout(size_hint_y=None, height=m.touch, spacing=m.spacing)
    back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=screen.session.back)
    submit = KButton(font_size=m.font_button, kind="primary", radius=m.radius, on_tap=on_submit)
    buttons.add_widget(back)
    buttons.add_widget(submit)
    left.add_widget(buttons)
    row.add_widget(left)
    keypad = KeyPad(m, screen._key, size_hint_x=0.45)
    row.add_widget(keypad)
    screen.body.add_widget(row)
    return hint, back, submit, keypad


def birthday_text(digits: str) -> str:
    """The typed digits shown as YYYY-MM-DD while they are typed."""
    return "-".join(p for p in (digits[:4], digits[4:6], digits[6:8]) if p)


class SignupOfferScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.headline = FitLabel(font_size=m.font_hero, halign="center", color=COLOURS.accent)
        self.text = FitLabel(font_size=m.font_title, halign="center", wrap=True)
        self.gift = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.ok, wrap=True)
        self.fee = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.accent, wrap=True)
        for w in (self.headline, self.text, self.gift, self.fee):
            panel.add_widget(w)
        self.body.add_widget(panel)
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.cancel = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=self.session.finish)
        self.start = KButton(font_size=m.font_button, kind="primary", radius=m.radius, on_tap=self.session.start_signup)
        buttons.add_widget(self.cancel)
        buttons.add_widget(self.start)
        self.body.add_widget(buttons)

    def fill(self, view) -> None:
        self.title.text = _("New card")
        self.headline.text = _("Welcome!")
        self.text.text = _("This card is not registered yet. Become a member in one minute.")
        self.gift.text = _("Members earn points on every top-up and get a welcome gift.")
        self.fee.text = card_fee_text(view.card_fee)
        self.cancel.text = _("Not now")
        self.start.text = _("Sign up")


def card_fee_text(fee) -> str:
    """The card fee and its waiver, said before the member commits to anything ("" when free)."""
    if fee is None:
        return ""
    if fee.campaign:
        return _("Cards are free during our opening period (card fee {fee} waived).").format(
            fee=format_fen(fee.rules_fee_fen))
    if fee.waiver_topup_fen:
        return _("Card fee {fee}, waived with a first top-up of {waiver} or more.").format(
            fee=format_fen(fee.fee_fen), waiver=format_fen(fee.waiver_topup_fen))
    return _("Card fee {fee}, paid after the card is written.").format(fee=format_fen(fee.fee_fen))


class SignupDetailsScreen(KioskScreen):
    """Phone and birthday by keypad; the optional name through the on-screen keyboard."""

    shows_hints = False  # shows view.message itself

    def build(self) -> None:
        m = self.m
        row = BoxLayout(spacing=m.padding)
        left = BoxLayout(orientation="vertical", spacing=m.spacing, size_hint_x=0.55)
        self.fields: dict[str, KButton] = {}
        self.captions: dict[str, FitLabel] = {}
        for name in ("phone", "birthday"):
            caption = FitLabel(font_size=m.font_small, color=COLOURS.muted, size_hint_y=None, height=m.font_small * 1.5)
            field = KButton(font_name=NUMBER_FONT, font_size=m.font_title, kind="ghost", radius=m.radius,
                            halign="left", padding=(m.padding, 0), size_hint_y=None, height=m.touch,
                            on_tap=lambda n=name: self._focus(n))
            self.captions[name], self.fields[name] = caption, field
            left.add_widget(caption)
            left.add_widget(field)
        self.name_caption = FitLabel(font_size=m.font_small, color=COLOURS.muted, size_hint_y=None,
                                     height=m.font_small * 1.5)
        self.name_input = TextInput(font_name=TEXT_FONT, font_size=m.font_button, multiline=False,
                                    size_hint_y=None, height=m.touch, write_tab=False,
                                    background_color=COLOURS.panel_light, foreground_color=COLOURS.text,
                                    cursor_color=COLOURS.accent, padding=(m.padding, m.touch / 4))
        self.referral_input = TextInput(font_name=TEXT_FONT, font_size=m.font_button, multiline=False,
                                        size_hint_y=None, height=m.touch, write_tab=False,
                                        background_color=COLOURS.panel_light, foreground_color=COLOURS.text,
                                        cursor_color=COLOURS.accent, padding=(m.padding, m.touch / 4))
        name_row = BoxLayout(spacing=m.spacing, size_hint_y=None, height=m.touch)
        name_row.add_widget(self.name_input)
        name_row.add_widget(self.referral_input)
        left.add_widget(self.name_caption)
        left.add_widget(name_row)
        self.hint, self.back, self.next, self.keypad = finish_keypad_form(self, row, left, self._submit)
        self.values = {"phone": "", "birthday": ""}
        self.focus = "phone"

    def on_pre_enter(self, *_args) -> None:
        signup = self.session.view.signup
        self.values = {
            "phone": signup.phone if signup else "",
            "birthday": signup.birthday.strftime("%Y%m%d") if signup and signup.birthday else "",
        }
        self.name_input.text = signup.name if signup else ""
        self.referral_input.text = signup.referral_code if signup else ""
        self.focus = "phone"

    def _focus(self, name: str) -> None:
        self.focus = name
        self._fill_fields()

    def _key(self, key: str) -> None:
        value = self.values[self.focus]
        limit = PHONE_DIGITS if self.focus == "phone" else BIRTHDAY_DIGITS
        if key == "del":
            value = value[:-1]
        elif len(value) < limit:
            value += key
        self.values[self.focus] = value
        if self.focus == "phone" and len(value) == 11 and not self.values["birthday"]:
            self.focus = "birthday"  # a mainland mobile number is complete: move on
        self._fill_fields()

    def _submit(self) -> None:
        try:
            parsed = parse_birthday(self.values["birthday"])
        except ValueError:
            self.hint.text = render_message("bad_birthday")
            return
        self.session.submit_details(
            self.values["phone"], self.name_input.text.strip(), parsed, referral_code=self.referral_input.text.strip()
        )

    def _fill_fields(self) -> None:
        shown = {"phone": self.values["phone"], "birthday": birthday_text(self.values["birthday"])}
        for name, field in self.fields.items():
            field.text = shown[name] + ("_" if name == self.focus else "")
            field.kind = "normal" if name == self.focus else "ghost"

    def fill(self, view) -> None:
        self.title.text = _("Sign up: your details")
        self.captions["phone"].text = _("Mobile phone")
        self.captions["birthday"].text = _("Birthday (YYYYMMDD, optional)")
        self.name_caption.text = _("Name and a friend's referral code (both optional)")
        self.name_input.hint_text = _("Your name")
        self.referral_input.hint_text = _("Referral code")
        self.hint.text = render_message(view.message.code, view.message.params) if view.message else ""
        self.back.text = _("Back")
        self.next.text = _("Next")
        self.keypad.keys["del"].text = _("Delete")
        self._fill_fields()


class SignupPrivacyScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, radius=m.radius)
        scroll = ScrollView(do_scroll_x=False)
        self.notice = FitLabel(font_size=m.font_body, wrap=True, shrink=False, valign="top", size_hint_y=None)
        self.notice.bind(natural_size=lambda _w, size: setattr(self.notice, "height", max(size[1], 10)))
        scroll.add_widget(self.notice)
        panel.add_widget(scroll)
        self.body.add_widget(panel)
        self.notes_consent = False  # the optional line: off until the member turns it on
        self.consent = KButton(font_size=m.font_body, kind="ghost", radius=m.radius, size_hint_y=None,
                               height=m.touch, halign="left", padding=(m.padding, 0), on_tap=self._toggle_consent)
        self.body.add_widget(self.consent)
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=self.session.back)
        self.accept = KButton(font_size=m.font_button, kind="primary", radius=m.radius,
                              on_tap=lambda: self.session.accept_privacy(self.notes_consent))
        buttons.add_widget(self.back)
        buttons.add_widget(self.accept)
        self.body.add_widget(buttons)

    def fill(self, view) -> None:
        self.title.text = _("Privacy notice")
        self.notice.text = _(
            "We keep your phone number, name and birthday to run your membership: your balance, "
            "points and gifts. Your PIN is stored only as a salted hash. We do not sell your data or use it "
            "for advertising. You can close your membership at the counter at any time, and your data is "
            "then deleted except what the law requires us to keep."
        ) + "\n\n" + _(
            "If you agree below, staff of your home store may keep notes you give them (for example allergies "
            "and medicines at a pharmacy, or your preferences): encrypted at headquarters, never shown on this "
            "screen or to other stores, and deleted when you ask."
        )
        self.back.text = _("Back")
        self.accept.text = _("I agree")
        self._fill_consent()

    def on_pre_enter(self, *_args) -> None:
        self.notes_consent = False

    def _toggle_consent(self) -> None:
        self.notes_consent = not self.notes_consent
        self._fill_consent()

    def _fill_consent(self) -> None:
        mark = "[x]" if self.notes_consent else "[ ]"
        self.consent.text = mark + " " + _("Staff of my home store may keep notes on me")
        self.consent.kind = "normal" if self.notes_consent else "ghost"
