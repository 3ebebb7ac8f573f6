"""What every screen shares: the header (title, inactivity countdown, language switch) and the
hook the app uses to show a SessionView."""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from kiosk.ui.i18n import LANGUAGE_NAMES, _, translator
from kiosk.ui.messages import render_message
from kiosk.ui.reward_images import RewardImages
from kiosk.ui.theme import COLOURS, Metrics
from kiosk.ui.widgets import FitLabel, KButton


class KioskScreen(FloatLayout):
    """A screen with a header bar and a body; subclasses fill `self.body` and implement fill()."""

    states: tuple[str, ...] = ()  # the session states this screen shows: set by the app from kiosk/ui/screen_map.py
    shows_hints = True  # the session's inline message (view.message) appears under the header
    reward_images = RewardImages()  # where reward pictures come from: the app sets the kiosk's own

    def __init__(self, metrics: Metrics, session: Any, toggle_language, name: str = "", **kwargs):
        super().__init__(**kwargs)
        self.name = name or type(self).__name__
        self.m, self.session = metrics, session
        m = metrics
        outer = BoxLayout(orientation="vertical", padding=m.padding, spacing=m.spacing)
        header = BoxLayout(size_hint_y=None, height=m.touch, spacing=m.spacing)
        self.title = FitLabel(font_size=m.font_title)
        self.countdown = FitLabel(
            font_size=m.font_body, color=COLOURS.muted, halign="right", size_hint_x=None, width=round(150 * m.scale)
        )
        self.language = KButton(
            font_size=m.font_button, kind="ghost", size_hint_x=None, width=round(120 * m.scale),
            radius=m.radius, on_tap=toggle_language,
        )
        header.add_widget(self.title)
        header.add_widget(self.countdown)
        header.add_widget(self.language)
        outer.add_widget(header)
        self.outer = outer
        self.hint_line = FitLabel(font_size=m.font_body, color=COLOURS.error, halign="center", size_hint_y=None,
                                  height=round(m.font_body * 1.6))  # in the layout only while there is a hint
        self.body = BoxLayout(orientation="vertical", spacing=m.spacing)
        outer.add_widget(self.body)
        self.add_widget(outer)
        self.build()

    def build(self) -> None:
        """Create the body's widgets (no texts: fill() sets every text, in the current language)."""

    def on_pre_enter(self, *_args) -> None:
        """Called just before the screen is put on the window (input fields start empty here)."""

    def show(self, view) -> None:
        self.language.text = LANGUAGE_NAMES[translator().other_locale()]  # the language it switches to
        seconds = view.seconds_left
        self.countdown.text = _("{seconds} s").format(seconds=seconds) if seconds is not None else ""
        hint = render_message(view.message.code, view.message.params) if self.shows_hints and view.message else ""
        self.hint_line.text = hint
        if hint and self.hint_line.parent is None:
            self.outer.add_widget(self.hint_line, index=1)  # between the header and the body
        elif not hint and self.hint_line.parent is not None:
            self.outer.remove_widget(self.hint_line)
        self.fill(view)

    def fill(self, view) -> None:
        raise NotImplementedError
