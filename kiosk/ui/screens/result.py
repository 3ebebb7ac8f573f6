"""Screens that show one outcome and a way on: done, a refusal notice, a lost card, an unknown card."""

from __future__ import annotations

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import _
from kiosk.ui.messages import render_message
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, FitLabel, KButton, Panel

# after these results the member's new balance or points are the number to show, big
FIGURE_FOR = {"topup_done": "balance", "redeem_done": "points", "signup_done": "points"}


class ResultScreen(KioskScreen):
    states = ("done", "notice", "blocked", "not_recognised")
    shows_hints = False  # shows view.message itself

    def build(self) -> None:
        m = self.m
        self.panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.headline = FitLabel(font_size=m.font_hero, halign="center")
        self.text = FitLabel(font_size=m.font_body * 1.15, halign="center", wrap=True, size_hint_y=1.3)
        self.figure_caption = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.muted, size_hint_y=0.6)
        self.figure = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, halign="center", color=COLOURS.accent,
                               size_hint_y=1.5)
        for w in (self.headline, self.text, self.figure_caption, self.figure):
            self.panel.add_widget(w)
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
        figure = FIGURE_FOR.get(view.message.code) if view.message and good and view.member else None
        if figure == "balance":
            self.figure_caption.text, self.figure.text = _("Balance"), format_fen(view.member.balance_fen)
        elif figure == "points":
            self.figure_caption.text, self.figure.text = _("Points"), f"{view.member.points:,}"
        else:
            self.figure_caption.text = self.figure.text = ""
        self.figure_caption.size_hint_y = 0.6 if figure else 0.01
        self.figure.size_hint_y = 1.5 if figure else 0.01
        self.ok.text = _("Continue") if view.card_uid and view.state in ("done", "notice") else _("OK")
