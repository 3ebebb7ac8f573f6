"""Look and measures of the kiosk screens, derived from the window size so one layout serves the
7" 800x480 panel as well as 1024x600 and 1280x800. Touch targets never drop below 48 px."""

from __future__ import annotations

from dataclasses import dataclass

BASE_SIZE = (800, 480)
COUNTER_BASE = (480, 320)  # a counter device's display (kiosk.toml: [device] role = "counter")
MIN_TOUCH_PX = 48


def rgb(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


@dataclass(frozen=True)
class Colours:
    background: tuple = rgb("#0E1A2B")
    panel: tuple = rgb("#18293F")
    panel_light: tuple = rgb("#22385A")
    text: tuple = rgb("#F4F6FA")
    muted: tuple = rgb("#9FB0C8")
    accent: tuple = rgb("#F2B33D")  # money, primary buttons
    accent_text: tuple = rgb("#1A1300")
    ok: tuple = rgb("#3CC28A")
    error: tuple = rgb("#F0605D")
    button: tuple = rgb("#2B4670")
    button_down: tuple = rgb("#3A5E94")
    disabled: tuple = rgb("#2A3445")


@dataclass(frozen=True)
class Metrics:
    """Sizes in pixels for one window size."""

    width: int
    height: int
    scale: float
    font_small: float
    font_body: float
    font_button: float
    font_title: float
    font_money: float
    font_hero: float
    touch: float  # height of a normal button, >= MIN_TOUCH_PX
    touch_big: float
    padding: float
    spacing: float
    radius: float
    compact: bool = False  # a counter's display: a keypad beside other things goes 4 keys wide, 3 high

    @classmethod
    def for_window(cls, width: int, height: int, role: str = "kiosk") -> Metrics:
        """The kiosk's layout scaled from 800x480; a counter's (role "counter") from 480x320: a
        small display read at arm's length across the cash desk, so its text shrinks less than
        the window and its margins more."""
        base, sizes = (COUNTER_BASE, COUNTER_SIZES) if role == "counter" else (BASE_SIZE, KIOSK_SIZES)
        s = min(width / base[0], height / base[1])
        px = {name: round(size * s) for name, size in sizes.items()}
        px["touch"], px["touch_big"] = max(MIN_TOUCH_PX, px["touch"]), max(MIN_TOUCH_PX, px["touch_big"])
        return cls(width=width, height=height, scale=s * base[0] / BASE_SIZE[0], compact=role == "counter",
                   **px)  # scale: per 800x480 px


# sizes in pixels at each layout's base window
KIOSK_SIZES = {"font_small": 15, "font_body": 19, "font_button": 22, "font_title": 28, "font_money": 60,
               "font_hero": 40, "touch": 56, "touch_big": 72, "padding": 16, "spacing": 10, "radius": 12}
COUNTER_SIZES = {"font_small": 13, "font_body": 16, "font_button": 18, "font_title": 20, "font_money": 44,
                 "font_hero": 28, "touch": 48, "touch_big": 52, "padding": 6, "spacing": 4, "radius": 8}
COLOURS = Colours()
