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

    @classmethod
    def for_window(cls, width: int, height: int, role: str = "kiosk") -> Metrics:
        if role == "counter":
            return cls.for_counter(width, height)
        s = min(width / BASE_SIZE[0], height / BASE_SIZE[1])
        return cls(
            width=width,
            height=height,
            scale=s,
            font_small=round(15 * s),
            font_body=round(19 * s),
            font_button=round(22 * s),
            font_title=round(28 * s),
            font_money=round(60 * s),
            font_hero=round(40 * s),
            touch=max(MIN_TOUCH_PX, round(56 * s)),
            touch_big=max(MIN_TOUCH_PX, round(72 * s)),
            padding=round(16 * s),
            spacing=round(10 * s),
            radius=round(12 * s),
        )


    @classmethod
    def for_counter(cls, width: int, height: int) -> Metrics:
        """The counter's compact layout: a small display read at arm's length across the cash
        desk (480x320 is its base), so fonts shrink less than the window and padding more."""
        s = min(width / COUNTER_BASE[0], height / COUNTER_BASE[1])
        return cls(
            width=width,
            height=height,
            scale=round(s * COUNTER_BASE[0] / BASE_SIZE[0], 3),  # widths given in 800x480 pixels
            font_small=round(13 * s),
            font_body=round(16 * s),
            font_button=round(18 * s),
            font_title=round(20 * s),
            font_money=round(44 * s),
            font_hero=round(28 * s),
            touch=max(MIN_TOUCH_PX, round(48 * s)),
            touch_big=max(MIN_TOUCH_PX, round(52 * s)),
            padding=round(6 * s),
            spacing=round(4 * s),
            radius=round(8 * s),
        )


COLOURS = Colours()
