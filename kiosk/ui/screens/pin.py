"""PIN pad (the digits never appear, only dots) and the lockout screen with the time left."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.i18n import _, ngettext
from kiosk.ui.messages import render_message, wait_phrase
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import FitLabel, KButton, KeyPad, Panel, PinDots


class PinScreen(KioskScreen):
    shows_hints = False  # shows view.message itself

    def build(self) -> None:
        m = self.m
        row = BoxLayout(spacing=m.padding)
        left = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing, radius=m.radius, size_hint_x=0.5)
        self.prompt = FitLabel(font_size=m.font_title, wrap=True, halign="center")
        self.dots = PinDots(m)
        self.hint = FitLabel(font_size=m.font_body, wrap=True, halign="center", color=COLOURS.error)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, size_hint_y=None,
                            height=m.touch, on_tap=self._back)
        for w in (self.prompt, self.dots, self.hint, self.back):
            left.add_widget(w)
        row.add_widget(left)
        self.keypad = KeyPad(m, self._key, size_hint_x=0.5)
        row.add_widget(self.keypad)
        self.body.add_widget(row)

    def _back(self) -> None:
        """A card made at HQ has no step before its PIN: Cancel ends the visit, nothing written."""
        if self._purpose == "card_write":
            self.session.finish()
        else:
            self.session.back()

    _purpose = ""

    def _key(self, key: str) -> None:
        if key == "del":
            self.session.pin_delete()
        else:
            self.session.pin_digit(key)

    def fill(self, view) -> None:
        pin = view.pin
        self._purpose = pin.purpose
        asks_own = pin.purpose in ("redeem", "charge", "profile", "card_write")  # the member's PIN, not a new one
        self.title.text = _("Your new card") if pin.purpose == "card_write" else _("Enter PIN") if asks_own else _("Set your PIN")
        self.prompt.text = {
            "card_write": _("Please enter your {length}-digit PIN to start using this card").format(length=pin.length),
            "redeem": _("Please enter your {length}-digit PIN").format(length=pin.length),
            "charge": _("Please enter your {length}-digit PIN to pay").format(length=pin.length),
            "profile": _("Please enter your {length}-digit PIN to see your details").format(length=pin.length),
            "signup_first": _("Choose a {length}-digit PIN").format(length=pin.length),
            "signup_repeat": _("Enter the same PIN again").format(length=pin.length),
            "new_pin_first": _("Choose a new {length}-digit PIN").format(length=pin.length),
            "new_pin_repeat": _("Enter the same PIN again").format(length=pin.length),
        }.get(pin.purpose, _("Enter PIN"))
        self.dots.length, self.dots.filled = pin.length, pin.entered
        if view.message is not None:
            self.hint.text = render_message(view.message.code, view.message.params)
        elif asks_own and pin.attempts_left:
            self.hint.text = ngettext("{n} attempt left", "{n} attempts left", pin.attempts_left).format(
                n=pin.attempts_left)
        else:
            self.hint.text = ""
        self.keypad.keys["del"].text = _("Delete")
        self.back.text = _("Cancel") if pin.purpose == "card_write" else _("Back")


class PinLockedScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.headline = FitLabel(font_size=m.font_hero, halign="center", color=COLOURS.error)
        self.remaining = FitLabel(font_size=m.font_title, halign="center", wrap=True)
        self.advice = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.muted, wrap=True)
        for w in (self.headline, self.remaining, self.advice):
            panel.add_widget(w)
        self.body.add_widget(panel)
        self.back = KButton(font_size=m.font_button, radius=m.radius, size_hint_y=None, height=m.touch_big,
                            on_tap=self.session.back)
        self.body.add_widget(self.back)

    def fill(self, view) -> None:
        pin = view.pin
        left = pin.locked_seconds_left if pin is not None else 0
        self.title.text = _("PIN locked")
        self.headline.text = _("Too many wrong PINs")
        self.remaining.text = _("Try again in {wait}").format(wait=wait_phrase(left))
        self.advice.text = _("Forgot your PIN? Staff at the counter can help.")
        self.back.text = _("Back to my card")
