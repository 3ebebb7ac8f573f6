"""Checking the card with HQ: a card of ours whose member this kiosk does not hold yet, while
HQ is asked for it (a fraction of a second on a LAN; at most 300 ms, then the unknown-card notice)."""

from __future__ import annotations

from kiosk.ui.i18n import _
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import FitLabel, Panel


class CheckingCardScreen(KioskScreen):
    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.headline = FitLabel(font_size=m.font_hero, halign="center", color=COLOURS.accent)
        self.text = FitLabel(font_size=m.font_title, halign="center", wrap=True)
        panel.add_widget(self.headline)
        panel.add_widget(self.text)
        self.body.add_widget(panel)

    def fill(self, view) -> None:
        self.title.text = _("Checking your card")
        self.headline.text = _("Please keep the card on the reader")
        self.text.text = _("This card is new to this kiosk: asking head office about it.")
