"""The few building blocks every screen is made of. They show what they are given and report
presses; none of them knows about members, money rules or the session."""

from __future__ import annotations

from collections.abc import Callable

from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, OptionProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui.theme import COLOURS, Metrics

TEXT_FONT = "KioskText"  # registered at start-up: a CJK font, or Roboto when none was found
NUMBER_FONT = "KioskNumber"  # Kivy's bundled Roboto Bold: crisp digits for money
MIN_FIT_RATIO = 0.6  # a label may shrink its font to 60% to fit; below that it would be unreadable


class FitLabel(Label):
    """A label that keeps its text inside its box: it wraps when asked and shrinks the font
    (to no less than 60%) when a translation is longer than the layout expected.

    `natural_size` is the room the text needs at the font size chosen; the UI tests compare it
    with the box to find clipped text."""

    base_font_size = NumericProperty(19)
    wrap = BooleanProperty(False)
    shrink = BooleanProperty(True)  # False for text in a scrolling box, which grows instead
    natural_size = ListProperty([0, 0])

    def __init__(self, **kwargs):
        kwargs.setdefault("font_name", TEXT_FONT)
        kwargs.setdefault("color", COLOURS.text)
        kwargs.setdefault("halign", "left")
        kwargs.setdefault("valign", "middle")
        if "font_size" in kwargs:
            kwargs.setdefault("base_font_size", kwargs["font_size"])
        super().__init__(**kwargs)
        self.bind(size=self._refit, text=self._refit, base_font_size=self._refit, wrap=self._refit)
        self._refit()

    def _refit(self, *_args) -> None:
        """Find the font size the text fits at by laying it out (no texture is drawn while
        measuring: one texture per change, made on the next frame)."""
        if self.width <= 1 or self.height <= 1:
            return
        size = round(self.base_font_size)
        floor = round(self.base_font_size * MIN_FIT_RATIO)
        while True:
            self.font_size = size
            self.text_size = (self.width, None) if self.wrap else (None, None)
            need_w, need_h = self._label.render()
            if not self.shrink or (need_w <= self.width and need_h <= self.height) or size <= floor:
                break
            size = max(floor, round(size * 0.9) if size > 12 else size - 1)
        self.natural_size = [need_w, need_h]
        # halign needs the box's width; a vertically centred text needs no more height than its own
        # (Kivy centres the texture), which keeps the texture, and its upload to the GPU, small
        self.text_size = (self.width, None if self.valign in ("middle", "center") else self.height)


class KButton(ButtonBehavior, FitLabel):
    """A touch button at least 48 px each way, rounded, in one of four kinds."""

    kind = OptionProperty("normal", options=["normal", "primary", "danger", "ghost"])
    radius = NumericProperty(12)

    def __init__(self, on_tap: Callable[[], None] | None = None, **kwargs):
        kwargs.setdefault("halign", "center")
        super().__init__(**kwargs)
        self._on_tap = on_tap
        with self.canvas.before:
            self._bg_colour = Color(*self._fill())
            self._bg = RoundedRectangle(pos=self.pos, size=self.size, radius=[self.radius])
        self.bind(pos=self._redraw, size=self._redraw, state=self._redraw, kind=self._redraw, disabled=self._redraw)
        self._redraw()

    def _fill(self) -> tuple:
        if self.disabled:
            return COLOURS.disabled
        if self.state == "down":
            return COLOURS.button_down
        return {
            "normal": COLOURS.button,
            "primary": COLOURS.accent,
            "danger": COLOURS.error,
            "ghost": COLOURS.panel_light,
        }[self.kind]

    def _redraw(self, *_args) -> None:
        self._bg_colour.rgba = self._fill()
        self._bg.pos, self._bg.size = self.pos, self.size
        self._bg.radius = [self.radius]
        self.color = COLOURS.accent_text if self.kind == "primary" and not self.disabled else COLOURS.text
        if self.disabled:
            self.color = COLOURS.muted

    def on_release(self) -> None:
        if self._on_tap is not None:
            self._on_tap()


class Panel(BoxLayout):
    """A rounded card-like background grouping related content."""

    fill = ListProperty(list(COLOURS.panel))
    radius = NumericProperty(12)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            self._colour = Color(*self.fill)
            self._rect = RoundedRectangle(pos=self.pos, size=self.size, radius=[self.radius])
        self.bind(pos=self._redraw, size=self._redraw, fill=self._redraw)

    def _redraw(self, *_args) -> None:
        self._colour.rgba = self.fill
        self._rect.pos, self._rect.size = self.pos, self.size


class Background(Widget):
    """Paints the whole screen in the theme's background colour."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*COLOURS.background)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_args) -> None:
        self._rect.pos, self._rect.size = self.pos, self.size


class TierBar(Widget):
    """A flat bar from 0 to 1: the way to the next tier."""

    value = NumericProperty(0.0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas:
            Color(*COLOURS.panel_light)
            self._track = RoundedRectangle(radius=[4])
            Color(*COLOURS.accent)
            self._fill = RoundedRectangle(radius=[4])
        self.bind(pos=self._redraw, size=self._redraw, value=self._redraw)

    def _redraw(self, *_args) -> None:
        self._track.pos, self._track.size = self.pos, self.size
        self._fill.pos = self.pos
        self._fill.size = (self.width * max(0.0, min(1.0, self.value)), self.height)


class KeyPad(GridLayout):
    """Digits 1-9, 0, a delete key and optionally one more key (e.g. "ok") left of the 0;
    `on_key` receives '0'..'9', 'del' or the extra key's name. The screen names the non-digit keys.
    `wide`: 4 keys a row, 3 rows (1-4, 5-8, 9 0 delete extra), for a place too short for four rows
    of 48 px keys (a counter's 480x320 display)."""

    def __init__(self, metrics: Metrics, on_key: Callable[[str], None], extra: str = "", wide: bool = False,
                 **kwargs):
        super().__init__(cols=4 if wide else 3, spacing=metrics.spacing, **kwargs)
        self.keys: dict[str, KButton] = {}
        order = ("9", "0", "del", extra) if wide else ("9", extra, "0", "del")
        for key in ("1", "2", "3", "4", "5", "6", "7", "8", *order):
            digit = key.isdigit()
            button = KButton(
                text=key if digit else "",
                font_name=NUMBER_FONT if digit else TEXT_FONT,
                font_size=metrics.font_title if digit else metrics.font_button,
                on_tap=(lambda k=key: on_key(k)) if key else None,
                disabled=not key,
                kind="normal" if key else "ghost",
                radius=metrics.radius,
            )
            if key:
                self.keys[key] = button
            else:
                button.opacity = 0  # an empty place in the grid, not a dead button
            self.add_widget(button)


class PinDots(BoxLayout):
    """As many dots as the PIN has digits, filled for those typed: the digits never show."""

    length = NumericProperty(6)
    filled = NumericProperty(0)
    dot_text = StringProperty("")

    def __init__(self, metrics: Metrics, **kwargs):
        super().__init__(**kwargs)
        self.label = FitLabel(font_size=metrics.font_hero, halign="center")
        self.add_widget(self.label)
        self.bind(length=self._update, filled=self._update)
        self._update()

    def _update(self, *_args) -> None:
        self.label.text = " ".join("●" if i < self.filled else "○" for i in range(int(self.length)))


class QrCode(Widget):
    """A QR code drawn as dark squares on a light square, as large as the box allows; `text` is
    what a phone reads. Made with the pure-Python `qrcode` package (no image files)."""

    text = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.matrix: list[list[bool]] = []
        self.bind(text=self._encode, pos=self._redraw, size=self._redraw)

    def _encode(self, *_args) -> None:
        self.matrix = []
        if self.text:
            import qrcode

            code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
            code.add_data(self.text)
            code.make(fit=True)
            self.matrix = code.get_matrix()
        self._redraw()

    def _redraw(self, *_args) -> None:
        self.canvas.clear()
        n = len(self.matrix)
        if not n:
            return
        module = int(min(self.width, self.height) // n)
        if module < 1:
            return
        side = module * n
        x0 = self.x + (self.width - side) // 2
        y0 = self.y + (self.height - side) // 2
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(pos=(x0, y0), size=(side, side))
            Color(0, 0, 0, 1)
            for row, cells in enumerate(self.matrix):
                for col, dark in enumerate(cells):
                    if dark:
                        Rectangle(pos=(x0 + col * module, y0 + (n - 1 - row) * module), size=(module, module))


class PictureTile(ButtonBehavior, BoxLayout):
    """A tappable tile: a picture above a title and a detail line (a reward and its cost). The
    picture keeps its proportions and takes the room the two lines leave."""

    def __init__(self, metrics: Metrics, source: str, on_tap: Callable[[], None] | None = None, **kwargs):
        super().__init__(orientation="vertical", padding=metrics.padding * 0.75, spacing=metrics.spacing / 2,
                         **kwargs)
        self._on_tap = on_tap
        with self.canvas.before:
            self._bg_colour = Color(*COLOURS.button)
            self._bg = RoundedRectangle(pos=self.pos, size=self.size, radius=[metrics.radius])
        self.picture = Image(source=source, fit_mode="contain")
        self.title = FitLabel(font_size=metrics.font_body, halign="center", size_hint_y=None,
                              height=round(metrics.font_body * 1.5))
        self.detail = FitLabel(font_size=metrics.font_body, halign="center", color=COLOURS.accent, bold=True,
                               size_hint_y=None, height=round(metrics.font_body * 1.5))
        for w in (self.picture, self.title, self.detail):
            self.add_widget(w)
        self.bind(pos=self._redraw, size=self._redraw, state=self._redraw)

    def _redraw(self, *_args) -> None:
        self._bg_colour.rgba = COLOURS.button_down if self.state == "down" else COLOURS.button
        self._bg.pos, self._bg.size = self.pos, self.size

    def on_release(self) -> None:
        if self._on_tap is not None:
            self._on_tap()


class StatusMark(Widget):
    """A round sign drawn with lines (no font glyph needed): a tick for "done", an exclamation
    mark for "please note"; as large as its box allows, centred."""

    good = BooleanProperty(True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, good=self._redraw)

    def _redraw(self, *_args) -> None:
        self.canvas.clear()
        d = min(self.width, self.height) * 0.8
        if d < 8:
            return
        x, y = self.center_x - d / 2, self.center_y - d / 2
        stroke = max(2.0, d / 14)
        with self.canvas:
            Color(*(COLOURS.ok if self.good else COLOURS.error))
            Ellipse(pos=(x, y), size=(d, d))
            Color(*COLOURS.text)
            if self.good:
                Line(points=[x + d * 0.28, y + d * 0.52, x + d * 0.44, y + d * 0.34, x + d * 0.73, y + d * 0.66],
                     width=stroke, cap="round", joint="round")
            else:
                Line(points=[x + d / 2, y + d * 0.74, x + d / 2, y + d * 0.42], width=stroke, cap="round")
                Ellipse(pos=(x + d / 2 - stroke * 1.1, y + d * 0.22), size=(stroke * 2.2, stroke * 2.2))
