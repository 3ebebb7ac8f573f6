"""Screens that ask the member to keep the card on the reader while the kiosk works: the card
being personalised at sign-up or, made at HQ's counter, after the member's PIN, and a card new to this kiosk being checked with HQ (a fraction of
a second on a LAN; at most 300 ms, then the unknown-card notice)."""

from __future__ import annotations

from kiosk.ui.i18n import N_, _
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import FitLabel, Panel


class WaitingScreen(KioskScreen):
    """A title, "keep the card on the reader" and a line on what is happening: the subclass's texts."""

    title_text = ""
    body_text = ""

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.headline = FitLabel(font_size=m.font_hero, halign="center", color=COLOURS.accent)
        self.text = FitLabel(font_size=m.font_title, halign="center", wrap=True)
        panel.add_widget(self.headline)
        panel.add_widget(self.text)
        self.body.add_widget(panel)

    def fill(self, view) -> None:
        self.title.text = _(self.title_text)
        self.headline.text = _("Please keep the card on the reader")
        self.text.text = _(self.body_text)


class SignupWritingScreen(WaitingScreen):
    title_text = N_("Issuing your card")
    body_text = N_("Your card is being set up. This takes a few seconds.")


class CardWritingScreen(WaitingScreen):
    title_text = N_("Setting up your new card")
    body_text = N_("Your new card is being written with your membership. This takes a few seconds.")


class CheckingCardScreen(WaitingScreen):
    title_text = N_("Checking your card")
    body_text = N_("This card is new to this kiosk: asking head office about it.")
