"""My details (profile completion), behind the member's PIN: the name through the on-screen
keyboard, a new phone number twice and the birthday (once) by keypad. The session and the
ledger check every value; this screen only collects them. An empty field changes nothing."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput

from kiosk.ui.i18n import _
from kiosk.ui.messages import render_message
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.screens.signup import (
    BIRTHDAY_DIGITS,
    PHONE_DIGITS,
    birthday_text,
    finish_keypad_form,
    parse_birthday,
)
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, TEXT_FONT, KButton

FIELDS = ("phone", "phone_again", "birthday")


class ProfileScreen(KioskScreen):
    shows_hints = False  # shows view.message itself, next to the fields

    def build(self) -> None:
        m = self.m
        row = BoxLayout(spacing=m.padding)
        left = BoxLayout(orientation="vertical", spacing=m.spacing, size_hint_x=0.55)
        self.name_input = TextInput(font_name=TEXT_FONT, font_size=m.font_button, multiline=False,
                                    size_hint_y=None, height=m.touch, write_tab=False,
                                    background_color=COLOURS.panel_light, foreground_color=COLOURS.text,
                                    cursor_color=COLOURS.accent, padding=(m.padding, m.touch / 4))
        left.add_widget(self.name_input)
        self.fields: dict[str, KButton] = {}
        self.captions: dict[str, str] = dict.fromkeys(FIELDS, "")  # shown in a field while it is empty
        for name in FIELDS:
            field = KButton(font_name=NUMBER_FONT, font_size=m.font_button, kind="ghost", radius=m.radius,
                            halign="left", padding=(m.padding, 0), size_hint_y=None, height=m.touch,
                            on_tap=lambda n=name: self._focus(n))
            self.fields[name] = field
            left.add_widget(field)
        self.hint, self.back, self.save, self.keypad = finish_keypad_form(self, row, left, self._save)
        self.values = dict.fromkeys(FIELDS, "")
        self.focus = "phone"
        self.birthday_editable = True

    def on_pre_enter(self, *_args) -> None:
        profile = self.session.view.profile
        self.values = dict.fromkeys(FIELDS, "")
        if profile is not None and profile.birthday is not None:
            self.values["birthday"] = profile.birthday.strftime("%Y%m%d")
        self.name_input.text = profile.name if profile else ""
        self.focus = "phone"

    def _focus(self, name: str) -> None:
        if name == "birthday" and not self.birthday_editable:
            return
        self.focus = name
        self._fill_fields()

    def _key(self, key: str) -> None:
        value = self.values[self.focus]
        limit = BIRTHDAY_DIGITS if self.focus == "birthday" else PHONE_DIGITS
        if key == "del":
            value = value[:-1]
        elif len(value) < limit:
            value += key
        self.values[self.focus] = value
        if self.focus == "phone" and len(value) == 11:
            self.focus = "phone_again"  # a mainland mobile number is complete: now once more
        self._fill_fields()

    def _save(self) -> None:
        try:
            birthday = parse_birthday(self.values["birthday"]) if self.birthday_editable else None
        except ValueError:
            self.hint.text = render_message("bad_birthday")
            return
        self.session.save_profile(
            self.name_input.text.strip(), self.values["phone"], self.values["phone_again"], birthday
        )

    def _fill_fields(self) -> None:
        for name, field in self.fields.items():
            value = self.values[name]
            shown = birthday_text(value) if name == "birthday" else value
            field.text = (shown or self.captions[name]) + ("_" if name == self.focus else "")
            field.font_name = NUMBER_FONT if shown else TEXT_FONT  # the digits' font has no Chinese
            field.kind = "normal" if name == self.focus else "ghost"
            field.disabled = name == "birthday" and not self.birthday_editable

    def fill(self, view) -> None:
        profile = view.profile
        self.birthday_editable = profile.birthday_editable if profile else False
        offer = profile.points_offered if profile else 0
        self.title.text = (
            _("My details: complete them for {points} points").format(points=offer) if offer else _("My details")
        )
        self.name_input.hint_text = _("Your name")
        masked = profile.phone_masked if profile else ""
        self.captions["phone"] = _("New phone (now {phone})").format(phone=masked)
        self.captions["phone_again"] = _("New phone again")
        self.captions["birthday"] = (
            _("Birthday YYYYMMDD (once)") if self.birthday_editable else _("Birthday: ask at the counter")
        )
        self.hint.text = render_message(view.message.code, view.message.params) if view.message else ""
        self.back.text = _("Back")
        self.save.text = _("Save")
        self.keypad.keys["del"].text = _("Delete")
        self._fill_fields()
