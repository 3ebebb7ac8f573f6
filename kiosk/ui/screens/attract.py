"""Idle / attract: invites the next member to tap a card."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.i18n import _
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import FitLabel, KButton, Panel


class AttractScreen(KioskScreen):
    shows_hints = False  # in idle the message says why the last session ended: not for the next member
    simulated_cards: tuple[tuple[str, str], ...] = ()  # (card name, label msgid) when simulating
    on_simulated_tap = None  # set by the app in --simulate mode: callable(card name)

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding * 2, spacing=m.spacing, radius=m.radius)
        self.hero = FitLabel(font_size=m.font_hero * 1.3, halign="center", color=COLOURS.accent)
        self.subtitle = FitLabel(font_size=m.font_title, halign="center", wrap=True)
        self.hint = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.muted, wrap=True)
        panel.add_widget(self.hero)
        panel.add_widget(self.subtitle)
        panel.add_widget(self.hint)
        self.body.add_widget(panel)
        self.sim_row = BoxLayout(size_hint_y=None, height=0, spacing=m.spacing)
        self.sim_buttons: dict[str, KButton] = {}
        self.body.add_widget(self.sim_row)

    def enable_simulation(self, cards: tuple[tuple[str, str], ...], on_tap) -> None:
        """--simulate: a row of buttons that tap simulated cards on the simulated reader."""
        self.simulated_cards, self.on_simulated_tap = cards, on_tap
        self.sim_row.height = self.m.touch
        for name, _label in cards:
            button = KButton(font_size=self.m.font_small, kind="ghost", radius=self.m.radius,
                             on_tap=lambda n=name: self.on_simulated_tap(n))
            self.sim_buttons[name] = button
            self.sim_row.add_widget(button)

    def fill(self, view) -> None:
        self.title.text = _("Membership")
        self.hero.text = _("Tap your card")
        self.subtitle.text = _("Hold your membership card on the reader below the screen")
        self.hint.text = _("New here? Tap a new card to sign up and get a welcome gift.")
        for name, label in self.simulated_cards:
            self.sim_buttons[name].text = _(label)
