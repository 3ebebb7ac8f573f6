"""The Kivy app: one window, one screen per session state. It pumps the session from Kivy's
clock, shows each SessionView it publishes, and passes the member's touches back as session
actions. It decides nothing itself."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import LabelBase
from kivy.core.window import Window
from kivy.uix.floatlayout import FloatLayout

from kiosk.session.states import S, SessionState
from kiosk.ui.fonts import INSTALL_HINT, find_cjk_font
from kiosk.ui.i18n import translator
from kiosk.ui.reward_images import RewardImages
from kiosk.ui.screen_map import SCREEN_FOR, SCREEN_MODULE, missing_states
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets import NUMBER_FONT, TEXT_FONT, Background

log = logging.getLogger(__name__)

PUMP_INTERVAL_S = 0.05


@dataclass(frozen=True)
class StartingView:
    """What the app shows before it has a session (`kiosk run` wires the session after the first
    frame, kiosk/app/startup.py): the idle screen, with no countdown and no message."""

    state: SessionState = S.idle
    seq: int = -1
    seconds_left: int | None = None
    message: None = None


class ScreenHost(FloatLayout):
    """Shows one screen at a time, switching at once: no transition, so no frame in which a
    touch is ignored or two screens are drawn."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.current_screen: KioskScreen | None = None

    @property
    def current(self) -> str:
        return self.current_screen.name if self.current_screen is not None else ""

    def show(self, screen: KioskScreen) -> None:
        if screen is self.current_screen:
            return
        if self.current_screen is not None:
            self.remove_widget(self.current_screen)
        screen.on_pre_enter()
        self.add_widget(screen)
        self.current_screen = screen


def register_fonts() -> str | None:
    """Register the text and number fonts; returns the CJK font used, or None (English only)."""
    import kivy

    roboto = Path(kivy.__file__).parent / "data" / "fonts"
    LabelBase.register(NUMBER_FONT, str(roboto / "Roboto-Bold.ttf"))
    choice = find_cjk_font()
    if choice.path is None:
        log.warning("no Chinese font found, Chinese text cannot be shown and the kiosk starts in English: %s",
                    INSTALL_HINT)
        LabelBase.register(TEXT_FONT, str(roboto / "Roboto-Regular.ttf"), fn_bold=str(roboto / "Roboto-Bold.ttf"))
        return None
    log.info("text font %s (from %s)", choice.path, choice.source)
    LabelBase.register(TEXT_FONT, choice.path)
    return choice.path


class KioskApp(App):
    title = "Membership kiosk"

    def __init__(self, session=None, simulated_cards: tuple[tuple[str, str], ...] = (),
                 on_simulated_tap: Callable[[str], None] | None = None, pump: bool = True,
                 reward_images: RewardImages | None = None, role: str = "kiosk", **kwargs):
        """`session`: the kiosk's Session, or None to show the idle screen until attach() gives it
        one (`kiosk run` builds the session after the first frame)."""
        super().__init__(**kwargs)
        self.role = role  # "counter": the compact layout (kiosk/ui/theme.py)
        self.reward_images = reward_images or RewardImages()
        self.session = session
        self.simulated_cards, self.on_simulated_tap = simulated_cards, on_simulated_tap
        self.pump_enabled = pump
        self.shown_seq = -1
        self.frame_listeners: list[Callable[[float], None]] = []
        self._first_frame_shown = False

    def build(self):
        if register_fonts() is None:
            translator().set_locale("en")
        self.metrics = Metrics.for_window(*Window.size, role=self.role)
        root = FloatLayout()
        root.add_widget(Background())
        self.manager = ScreenHost()
        unknown = sorted(set(SCREEN_FOR.values()) - set(SCREEN_MODULE))
        if unknown:
            raise RuntimeError(f"kiosk/ui/screen_map.py: no module for the screens {unknown} (SCREEN_MODULE)")
        if missing_states():
            raise RuntimeError(f"kiosk/ui/screen_map.py: no screen for the states {missing_states()}")
        self._made: dict[str, KioskScreen] = {}
        root.add_widget(self.manager)
        translator().on_change(lambda _locale: self.render(self.view, force=True))
        Window.bind(on_touch_down=self._on_touch, on_flip=self._on_flip)
        if self.session is not None:
            self._drive(self.session)
        self.render(self.view, force=True)
        self.frame_listeners.append(self._after_first_frame)
        return root

    @property
    def view(self):
        """The view on screen: the session's, or the idle screen's before there is a session."""
        return self.session.view if self.session is not None else StartingView()

    def attach(self, session) -> None:
        """The session `kiosk run` wired after the first frame: the screens made so far act on it,
        the app pumps it and shows its view from now on, and the other screens are made."""
        self.session = session
        for screen in self._made.values():
            screen.session = session
        self._drive(session)
        self.render(session.view, force=True)
        if self._first_frame_shown:
            Clock.schedule_once(self._make_next_screen, 0)

    def _drive(self, session) -> None:
        session.subscribe(self._on_view)
        if self.pump_enabled:
            Clock.schedule_interval(lambda _dt: session.pump(), PUMP_INTERVAL_S)
            session.wake = self.wake

    def screen_for(self, state: SessionState) -> KioskScreen:
        """The screen that shows `state`, made now if it was not yet (kiosk/ui/screen_map.py)."""
        name = SCREEN_FOR[state]
        screen = self._made.get(name)
        if screen is None:
            cls = getattr(importlib.import_module(SCREEN_MODULE[name]), name)
            screen = cls(self.metrics, self.session, self.toggle_language, name=name)
            screen.reward_images = self.reward_images
            screen.states = tuple(s for s, shown in SCREEN_FOR.items() if shown == name)
            if S.idle in screen.states and self.simulated_cards and self.on_simulated_tap is not None:
                screen.enable_simulation(self.simulated_cards, self.on_simulated_tap)
            self._made[name] = screen
        return screen

    def _after_first_frame(self, _now: float) -> None:
        """Only the idle screen is made before the first frame (making all 21 took a second of
        start-up on a Pi); the others are made after it, one a frame, so a tap finds them ready
        (once there is a session: until then the frames are the session's wiring)."""
        self.frame_listeners.remove(self._after_first_frame)
        self._first_frame_shown = True
        if self.session is not None:
            Clock.schedule_once(self._make_next_screen, 0)

    def _make_next_screen(self, _dt: float) -> None:
        state = next((s for s, name in SCREEN_FOR.items() if name not in self._made), None)
        if state is not None:
            self.screen_for(state)
            Clock.schedule_once(self._make_next_screen, 0)

    def post(self, item) -> None:
        """Thread-safe: hand a reader event to the session and have it handled on the next frame,
        not at the next pump tick (a tap should show the member without waiting)."""
        self.session.post(item)
        self.wake()

    def wake(self) -> None:
        """Thread-safe: have the session pump on the next frame (HQ has answered about a card)."""
        schedule = getattr(Clock, "schedule_once_free", Clock.schedule_once)  # free_all clock: runs mid-frame
        schedule(lambda _dt: self.session.pump(), 0)

    def toggle_language(self) -> None:
        translator().toggle()

    def _on_touch(self, _window, _touch) -> bool:
        if self.session is not None:
            self.session.touch()
        return False

    def _on_view(self, view) -> None:
        self.render(view)

    def render(self, view, force: bool = False) -> None:
        """Show a view; a view older than the one on screen is skipped (the session's seq)."""
        if view.seq <= self.shown_seq and not force:
            return
        self.shown_seq = view.seq
        if view.state not in SCREEN_FOR:
            log.error("no screen for session state %r", view.state)
            return
        screen = self.screen_for(view.state)
        if self.manager.current_screen is not screen:
            self.manager.show(screen)
        screen.show(view)

    def _on_flip(self, _window) -> None:
        now = time.perf_counter()
        for listener in list(self.frame_listeners):
            listener(now)
