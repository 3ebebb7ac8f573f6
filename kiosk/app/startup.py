"""`kiosk run` in two steps: the idle screen first, then the kiosk behind it.

Importing and wiring the rooms (the session and its state machine library, the ledger's
dataclasses, the store, the reader's card layer, the MQTT messages and client) was most of
start-up. So the app shows the idle screen with no session, and the frame after the first one
opens the store and the reader, wires the session and starts the reader thread, the till API
and the sync client, while the member reads the screen. Only then does systemd hear READY=1:
the kiosk can serve a tap from that moment.

A tap before then is not lost. A card put on a real reader is read when the reader thread
starts (it is still on the reader); a simulated card's button or number key pressed before the
reader is open is kept and tapped, in order, once it is."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.app import systemd_notify
from kiosk.app.assembly import Kiosk, RunError, build_kiosk, start_till
from kiosk.app.config import Config

if TYPE_CHECKING:
    from kiosk.ui.app import KioskApp

log = logging.getLogger(__name__)


class Startup:
    """The kiosk wired behind the idle screen (`wire`), what `kiosk run` stops at the end
    (`close`), and its exit status (1 when the store, the reader or the till API cannot start)."""

    def __init__(self, config: Config, simulate: bool = False):
        self.config, self.simulate = config, simulate
        self.app: KioskApp | None = None  # set by open_app: the app takes this object's tap
        self.kiosk: Kiosk | None = None
        self.till = None
        self.watchdog: systemd_notify.Watchdog | None = None
        self.exit_code = 0
        self.early_taps: list[str] = []
        self._first_frame_at = 0.0

    def tap(self, name: str) -> None:
        """A simulated card's button or number key: tapped now, or kept until the reader is open."""
        if self.kiosk is None:
            log.info("card %r tapped before the reader is open: kept until it is", name)
            self.early_taps.append(name)
            return
        self.kiosk.desk.tap(name)

    def first_frame(self, _now: float) -> None:
        """A frame listener: the idle screen is on the display (bench/scale.py times start-up by
        this line); the wiring runs on the next frame, so this one is flipped first."""
        from kivy.clock import Clock

        self.app.frame_listeners.remove(self.first_frame)
        self._first_frame_at = time.perf_counter()
        log.info("idle screen shown")
        Clock.schedule_once(self.wire, 0)

    def wire(self, _dt: float = 0.0) -> None:
        """Open the store and the reader, wire the session, hand it to the app, start the reader
        thread and the till API; then READY=1, the sync client and the taps kept so far."""
        try:
            self.kiosk = build_kiosk(self.config, simulate=self.simulate)
        except RunError as exc:
            self._fail(str(exc))
            return
        parts = self.kiosk.parts
        self.app.attach(parts.session)
        parts.worker.post = self.app.post  # reader events wake the session at once, not at the next pump
        self.watchdog = _tell_systemd(parts.worker)
        parts.start()
        if self.config.till.enabled:
            from kiosk.till.tokens import TokenFileError

            try:
                self.till = start_till(parts.session, self.config, post=self.app.post)
            except (OSError, TokenFileError) as exc:
                self._fail(f"till API: {exc}")
                return
        systemd_notify.ready("serving taps")  # offline first: HQ's link is not needed for that
        log.info("kiosk ready: session wired %.2f s after the idle screen was shown",
                 time.perf_counter() - self._first_frame_at)
        if self.kiosk.sync is not None:
            self.kiosk.sync.start()  # its network thread; poll() runs on the UI thread, like the session
            _poll_sync_on_the_ui_thread(self.kiosk.sync)
        kept, self.early_taps = self.early_taps, []
        for name in kept:
            self.kiosk.desk.tap(name)

    def _fail(self, message: str) -> None:
        log.error("%s", message)
        self.exit_code = 1
        self.app.stop()

    def close(self) -> None:
        systemd_notify.stopping()
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.till is not None:
            self.till.stop()
        if self.kiosk is not None:
            self.kiosk.close()


def open_app(config: Config, simulate: bool = False, role: str = "kiosk",
             locale: str | None = None) -> tuple[KioskApp, Startup]:
    """The app on the idle screen with no session yet, and the Startup its first frame sets going.
    Call after kiosk.ui.env.prepare_kivy."""
    from kiosk.ui.app import KioskApp
    from kiosk.ui.i18n import translator
    from kiosk.ui.reward_images import RewardImages

    translator().set_locale(locale or config.device.locale)
    startup = Startup(config, simulate)
    cards: tuple[tuple[str, str], ...] = ()
    if simulate:
        from kiosk.app.simulate import BUTTON_LABELS, DEMO_CARDS

        cards = tuple((name, name) for name in BUTTON_LABELS)
        _bind_number_keys(DEMO_CARDS, BUTTON_LABELS[-1], startup.tap)
    app = KioskApp(None, simulated_cards=cards, on_simulated_tap=startup.tap if simulate else None,
                   reward_images=RewardImages.for_data_dir(Path(config.device.data_dir)), role=role)
    startup.app = app
    app.frame_listeners.append(startup.first_frame)
    return app, startup


def _tell_systemd(worker) -> systemd_notify.Watchdog:
    """kiosk.service is Type=notify with WatchdogSec: WATCHDOG=1 only while both the UI's clock
    and the reader's loop keep turning, so a hung reader or a frozen screen gets the kiosk
    restarted. Outside systemd it is a no-op."""
    from kivy.clock import Clock

    watchdog = systemd_notify.Watchdog(sources=("ui", "reader"))
    worker.heartbeat = lambda: watchdog.alive("reader")
    Clock.schedule_interval(lambda _dt: watchdog.alive("ui"), 1.0)
    return watchdog.start()


def _poll_sync_on_the_ui_thread(sync) -> None:
    """The sync client shares the store with the session, so both run on Kivy's main thread."""
    from kivy.clock import Clock

    def poll(_dt) -> None:
        try:
            sync.poll()
        except Exception:  # syncing must never take the screen down; the status shows the error
            log.exception("sync poll failed")

    Clock.schedule_interval(poll, 0.05)


def _bind_number_keys(names: tuple[str, ...], remove: str, tap: Callable[[str], None]) -> None:
    """Keys 1-6 tap the demo cards in order, 0 lifts the card."""
    from kivy.core.window import Window

    def on_key(_window, _key, _scancode, codepoint, _modifiers) -> bool:
        if codepoint == "0":
            tap(remove)
            return True
        if codepoint and codepoint.isdigit() and 1 <= int(codepoint) <= len(names):
            tap(names[int(codepoint) - 1])
            return True
        return False

    Window.bind(on_key_down=on_key)
