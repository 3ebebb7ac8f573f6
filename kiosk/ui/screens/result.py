"""Screens that show one outcome and a way on: done, a refusal notice, a lost card, an unknown card."""

from __future__ import annotations

from kiosk.ui.i18n import _
from kiosk.ui.messages import render_message
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import FitLabel, KButton, Panel


class ResultScreen(KioskScreen):
    states = ("done", "notice", "blocked", "not_recognised")

    def build(self) -> None:
        m = self.m
        self.panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.headline = FitLabel(font_size=m.font_hero, bold=True, halign="center")
        self.text = FitLabel(font_size=m.font_title, halign="center", wrap=True, size_hint_y=1.6)
        self.panel.add_widget(self.headline)
        self.panel.add_widget(self.text)
        self.body.add_widget(self.panel)
        self.ok = KButton(font_size=m.font_button, kind="primary", radius=m.radius, size_hint_y=None,
                          height=m.touch_big, on_tap=self.session.dismiss)
        self.body.add_widget(self.ok)

    def fill(self, view) -> None:
        good = view.state == "done"
        self.title.text = {
            "done": _("Done"),
            "notice": _("Sorry"),
            "blocked": _("Card blocked"),
            "not_recognised": _("Unknown card"),
        }[view.state]
        self.headline.text = _("Success") if good else _("Please note")
        self.headline.color = COLOURS.ok if good else COLOURS.error
        if view.message is not None:
            self.text.text = render_message(view.message.code, view.message.params)
        elif view.state == "not_recognised":
            self.text.text = render_message("card_not_recognised")
        else:
            self.text.text = ""
        self.ok.text = _("Continue") if view.card_uid and view.state in ("done", "notice") else _("OK")
