"""Runs the real Kivy app in this process on an offscreen window and drives it like a finger:
touches go through the window and the widget tree to the widget under them. Kivy keeps one
window per process, so a process uses one window size (the layout check spawns one per size)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kiosk.ui.env import prepare_kivy

_WINDOW_SIZE: tuple[int, int] | None = None


def open_window(width: int = 800, height: int = 480) -> None:
    """Create the process's Kivy window (offscreen without a display); KIVY_HOME in a temp dir."""
    global _WINDOW_SIZE
    if _WINDOW_SIZE is not None:
        assert _WINDOW_SIZE == (width, height), "one window size per process"
        return
    prepare_kivy(width, height, kivy_home=os.environ.get("KIOSK_TEST_KIVY_HOME") or tempfile.mkdtemp(prefix="kivy-"),
                 offscreen=True)
    from kivy.base import EventLoop

    EventLoop.ensure_window()
    _WINDOW_SIZE = (width, height)


class UiDriver:
    """The app on the window, frames pumped by hand, touches dispatched through the window."""

    def __init__(self, kiosk, width: int = 800, height: int = 480, app=None, start_frames: int = 3):
        """`kiosk`: the tests' Kiosk (session pumped by hand); or pass a ready `app` that pumps itself.
        `start_frames`: the frames run before the driver is handed back."""
        open_window(width, height)
        from kivy.app import App
        from kivy.core.window import Window

        from kiosk.ui.app import KioskApp
        from kiosk.ui.i18n import translator

        translator().set_locale("zh_CN")
        self.kiosk = kiosk
        self.app = app or KioskApp(kiosk.session, pump=False)
        for child in list(Window.children):
            Window.remove_widget(child)
        self.root = self.app.build()
        self.app.root = self.root
        App._running_app = self.app
        Window.add_widget(self.root)
        self.window = Window
        self.frames(start_frames)

    def frames(self, n: int = 2) -> None:
        """Let Kivy run n frames: clock callbacks, layout, drawing."""
        from kivy.base import EventLoop

        for _ in range(n):
            EventLoop.idle()

    def frames_until(self, predicate, timeout_s: float = 10.0) -> None:
        """Run frames until predicate() holds (for the parts that run on their own threads)."""
        import time

        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert time.monotonic() < deadline, "timed out waiting for the screen"
            self.frames(1)

    def pump(self, rounds: int = 2) -> None:
        """The reader thread and the session each take a turn, then the screen catches up."""
        self.kiosk.run(rounds)
        self.frames(3)

    @property
    def screen(self):
        return self.app.manager.current_screen

    def tap(self, widget, frames: int = 3) -> None:
        """A finger down and up at the widget's centre, dispatched through the whole window; then
        `frames` frames."""
        from kivy.tests.common import UnitTestTouch

        assert widget.get_root_window() is not None, f"{widget!r} is not on screen"
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.frames(frames)

    def tap_text(self, text: str) -> None:
        """Tap the button on the current screen whose text is exactly `text` (or starts with it + newline)."""
        self.tap(self.find_button(text))

    def find_button(self, text: str):
        from kiosk.ui.widgets import KButton

        found = [w for w in self.screen.walk() if isinstance(w, KButton) and
                 (w.text == text or w.text.startswith(text + "\n"))]
        assert found, f"no button {text!r} on {self.screen.name}: {self.button_texts()}"
        return found[0]

    def button_texts(self) -> list[str]:
        from kiosk.ui.widgets import KButton

        return [w.text for w in self.screen.walk() if isinstance(w, KButton)]

    def label_texts(self) -> list[str]:
        from kivy.uix.label import Label

        return [w.text for w in self.screen.walk() if isinstance(w, Label) and w.text]

    def screenshot(self, path: Path) -> Path:
        """The window as the member sees it, as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frames(2)
        self.root.export_to_png(str(path))
        return path


def layout_problems(ui: UiDriver, where: str) -> list[str]:
    """Text that does not fit its box, boxes off the window, touch targets under 48 px."""
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    from kiosk.ui.theme import MIN_TOUCH_PX
    from kiosk.ui.widgets import FitLabel

    ui.frames(2)
    problems = []
    win_w, win_h = ui.window.size
    in_scroll = set()
    for w in ui.screen.walk():
        if isinstance(w, ScrollView):
            in_scroll.update(id(c) for c in w.walk())
    for w in ui.screen.walk():
        if isinstance(w, ButtonBehavior) and not isinstance(w, Label) and not w.disabled and w.opacity > 0 \
                and min(w.width, w.height) < MIN_TOUCH_PX:  # a tile or other button that is not a label
            problems.append(f"{where}: {type(w).__name__} touch target {w.width:.0f}x{w.height:.0f} under "
                            f"{MIN_TOUCH_PX} px")
        if not isinstance(w, Label) or not w.text or w.opacity == 0 or w.height <= 0:
            continue
        name = f"{where}: {type(w).__name__} {w.text[:40]!r}"
        need_w, need_h = w.natural_size if isinstance(w, FitLabel) else w.texture_size
        if need_w > w.width + 1 or need_h > w.height + 1:
            problems.append(f"{name} needs {need_w:.0f}x{need_h:.0f}, box {w.width:.0f}x{w.height:.0f}")
        if id(w) not in in_scroll:
            x, y = w.to_window(w.x, w.y)
            if x < -1 or y < -1 or x + w.width > win_w + 1 or y + w.height > win_h + 1:
                problems.append(f"{name} box {x:.0f},{y:.0f} {w.width:.0f}x{w.height:.0f} leaves the window")
        if isinstance(w, ButtonBehavior) and not w.disabled and min(w.width, w.height) < MIN_TOUCH_PX:
            problems.append(f"{name} touch target {w.width:.0f}x{w.height:.0f} under {MIN_TOUCH_PX} px")
    return problems


_CMAPS: dict[str, set[int]] = {}


def _font_file(font_name: str, bold: bool) -> str:
    """The file Kivy draws `font_name` from: a name registered with LabelBase, or a path."""
    from kivy.core.text import LabelBase
    from kivy.resources import resource_find

    registered = LabelBase._fonts.get(font_name)
    if registered:
        return registered[2 if bold else 0]
    return resource_find(font_name) or resource_find(font_name + ".ttf") or font_name


def _covered(path: str) -> set[int]:
    if path not in _CMAPS:
        from fontTools.ttLib import TTFont

        # face 0: the face SDL_ttf opens in a .ttc
        with TTFont(path, fontNumber=0, lazy=True) as font:
            _CMAPS[path] = set(font.getBestCmap())
    return _CMAPS[path]


def glyph_problems(ui: UiDriver, where: str) -> list[str]:
    """Characters a widget's font cannot draw (they come out as tofu boxes): every label's text
    and every text field's text and placeholder, against the font file it is drawn with."""
    import re

    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    problems = []
    for w in ui.screen.walk():
        if isinstance(w, Label):
            texts = [re.sub(r"\[/?[a-z_]+(=[^\]]*)?\]", "", w.text) if w.markup else w.text]
            bold = w.bold
        elif isinstance(w, TextInput):
            texts, bold = [w.text, w.hint_text], False
        else:
            continue
        path = _font_file(w.font_name, bold)
        cover = _covered(path)
        for text in texts:
            missing = sorted({ch for ch in str(text) if not ch.isspace() and ord(ch) not in cover})
            if missing:
                problems.append(f"{where}: {type(w).__name__} {str(text)[:40]!r} in {Path(path).name} "
                                f"has no glyph for {''.join(missing)}")
    return problems
