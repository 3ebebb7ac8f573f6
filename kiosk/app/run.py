"""`kiosk run`: the touchscreen kiosk itself — store, session, payments, reader and the Kivy app."""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kiosk.app import systemd_notify
from kiosk.app.config import COUNTER_SCREENS, LOCALES, ROLES, SCREENS, ConfigError, load_config
from kiosk.till.tokens import TokenFileError

log = logging.getLogger(__name__)

DESCRIPTION = """\
Run the kiosk: the touchscreen app on the session, the local store and the card reader.
With --simulate no hardware or configuration is needed: demo cards are tapped with on-screen
buttons or the number keys 1-6 (0 lifts the card), on a store in a temporary directory
(or --data-dir), so anyone can try the kiosk on a desktop."""

EPILOG = """\
environment:
  KIOSK_CONFIG        configuration file if --config is not given
  KIOSK_FONT          a font file with Chinese glyphs, if not found automatically
  SDL_VIDEODRIVER     SDL's video driver: kmsdrm on a Pi without a desktop, offscreen to
                      run with no display at all (what the tests do)

files:
  /etc/kiosk/kiosk.toml       configuration (device id, data_dir, reader, HQ)
  DATA_DIR/incidents.jsonl    events HQ must hear about (lost card seen, abandoned payment)
  DATA_DIR/kivy               Kivy's home (KIVY_HOME): the kiosk writes nothing in the user's home
  DATA_DIR/reward-images/     pictures the rules' rewards name ("image": "coffee.png"), before the packaged ones
  DIR/cards.json              (--simulate --data-dir DIR) the simulated reader's wallet: tap its cards with `kiosk sim-card` too

examples:
  kiosk run --simulate
  kiosk run --simulate --locale en --screen 1024x600
  kiosk run --config /etc/kiosk/kiosk.toml --fullscreen

exit status:
  0 the app was closed; 1 the kiosk could not start (store locked or damaged, reader missing);
  2 bad usage or bad configuration"""


class RunError(Exception):
    """The kiosk cannot start; the message says why and what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="configuration file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    parser.add_argument("--simulate", action="store_true",
                        help="demo cards instead of a reader; members are seeded on first use (demo PIN "
                             "246810; the staff card opens the staff menu)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="where the simulated kiosk keeps its store, demo card key and card wallet "
                             "(cards.json) between runs (default: a new temp dir)")
    parser.add_argument("--screen", choices=sorted(set(SCREENS + COUNTER_SCREENS)),
                        help='window size: 800x480 (official 7" Pi panel), 1024x600 or 1280x800, a counter\'s '
                             "480x320; default: the configuration's device.screen, else 800x480")
    parser.add_argument("--role", choices=ROLES,
                        help='"counter": the compact layout of the device at the cash desk (480x320 unless '
                             "--screen says otherwise); default: the configuration's device.role")
    parser.add_argument("--locale", choices=LOCALES,
                        help="starting language; default: the configuration's device.locale (zh_CN); "
                             "members can switch on screen")
    parser.add_argument("--fullscreen", action="store_true",
                        help="take the whole display (the kiosk's normal mode on the Pi)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.simulate and args.config is None:
            from kiosk.app.simulate import demo_config

            config = demo_config(args.data_dir or Path(tempfile.mkdtemp(prefix="kiosk-sim-")))
        else:
            config = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    role = args.role or config.device.role
    own = config.device.screen if role == config.device.role else (COUNTER_SCREENS if role == "counter" else SCREENS)[0]
    screen = args.screen or own
    try:
        kiosk = build_kiosk(config, simulate=args.simulate)
    except RunError as exc:
        log.error("%s", exc)
        return 1
    width, height = (int(v) for v in screen.split("x"))
    from kiosk.ui.env import prepare_kivy

    prepare_kivy(width, height, kivy_home=str(Path(config.device.data_dir) / "kivy"), fullscreen=args.fullscreen)
    from kiosk.ui.app import KioskApp
    from kiosk.ui.i18n import translator
    from kiosk.ui.reward_images import RewardImages

    translator().set_locale(args.locale or config.device.locale)
    cards = tuple((name, name) for name in kiosk.desk.names) + (("Remove card", "Remove card"),) if kiosk.desk else ()
    app = KioskApp(kiosk.parts.session, simulated_cards=cards,
                   on_simulated_tap=kiosk.desk.tap if kiosk.desk else None,
                   reward_images=RewardImages.for_data_dir(Path(config.device.data_dir)), role=role)
    kiosk.parts.worker.post = app.post  # reader events wake the session at once, not at the next pump
    if kiosk.desk is not None:
        _bind_number_keys(kiosk.desk)
    app.frame_listeners.append(_after_the_first_frame(app, kiosk.sync))
    watchdog = _tell_systemd(kiosk.parts.worker)
    kiosk.parts.start()
    till = None
    if config.till.enabled:
        try:
            till = start_till(kiosk.parts.session, config, post=app.post)
        except (OSError, TokenFileError) as exc:
            log.error("till API: %s", exc)
            kiosk.close()
            return 1
    try:
        app.run()
    finally:
        systemd_notify.stopping()
        watchdog.stop()
        if till is not None:
            till.stop()
        kiosk.close()
    return 0


def start_till(session, config, post=None):
    """The till API on its own thread ([till] in kiosk.toml; kiosk/till/server.py)."""
    from kiosk.till.server import TillServer

    server = TillServer(session, config.till, config.device.data_dir, post=post).start()
    log.info("till API listening on %s (%d tills)", server.url, len(server.tokens.entries))
    return server


class Kiosk:
    """What `kiosk run` assembled (store, session with its reader thread and hardware), and how to stop it."""

    def __init__(self, parts, store, reader, desk=None, sync=None):
        self.parts, self.store, self.reader, self.desk, self.sync = parts, store, reader, desk, sync

    def close(self) -> None:
        self.parts.close()
        if self.sync is not None:
            self.sync.stop()
        self.reader.close()
        self.store.close()


def build_kiosk(config, simulate: bool = False) -> Kiosk:
    """Open the store and the reader and wire the session (kiosk.app.wiring)."""
    from kiosk.app.logging_setup import use_install_salt
    from kiosk.app.wiring import build_session, site_keys_from
    from kiosk.reader.base import ReaderError
    from kiosk.reader.factory import open_reader
    from kiosk.reader.keys import KeyFileError
    from kiosk.store.store import Store, StoreError

    try:
        if simulate:
            from kiosk.app.simulate import demo_keys

            keys = demo_keys(config)
        else:
            keys = site_keys_from(config)
    except (KeyFileError, ValueError) as exc:
        raise RunError(f"card keys: {exc}") from None
    try:
        store = Store.open(config.device.data_dir, config.device.id, pepper=_pepper(config))
    except StoreError as exc:
        raise RunError(f"the store in {config.device.data_dir} cannot be opened: {exc}") from None
    use_install_salt(Path(config.device.data_dir))  # one card, one hash, across restarts
    try:
        reader = open_reader(config.reader)
    except (ReaderError, OSError) as exc:
        store.close()
        raise RunError(f"the card reader ({config.reader.driver} {config.reader.port}) cannot be opened: {exc}") from None
    desk = None
    if simulate:
        from kiosk.app.simulate import CardDesk, seed_demo

        seed_demo(store, reader, keys, datetime.now(UTC))
        desk = CardDesk(reader)
    sync = None
    if config.hq.host:
        from kiosk.sync.client import SyncClient, SyncSettings

        sync = SyncClient(store, SyncSettings.from_config(config))  # started after the first frame (run)
    parts = build_session(config, store, reader, keys, sync_client=sync)
    log.info("kiosk %s: store %s, reader %s, HQ %s, hardware: %s", config.device.id, config.device.data_dir,
             config.reader.driver, config.hq.host or "none (standalone)", parts.hardware.note)
    return Kiosk(parts, store, reader, desk, sync)


def _pepper(config) -> bytes:
    path = config.secrets.pin_pepper_file
    if path is None:
        return b""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RunError(f"PIN pepper file {path}: {exc.strerror}") from None


def _tell_systemd(worker) -> systemd_notify.Watchdog:
    """kiosk.service is Type=notify with WatchdogSec: READY=1 at the first frame (the store and
    the reader are open by then; `_after_the_first_frame` says it), and WATCHDOG=1 only while both the UI's clock and the reader's
    loop keep turning, so a hung reader or a frozen screen gets the kiosk restarted. Outside
    systemd both are no-ops."""
    from kivy.clock import Clock

    watchdog = systemd_notify.Watchdog(sources=("ui", "reader"))
    worker.heartbeat = lambda: watchdog.alive("reader")
    Clock.schedule_interval(lambda _dt: watchdog.alive("ui"), 1.0)
    return watchdog.start()


def _after_the_first_frame(app, sync) -> Callable[[float], None]:
    """A frame listener for the first frame (the idle screen is on the display): READY=1 to
    systemd, a log line (bench/scale.py times start-up by it), then what the idle screen does not
    need: the sync client's network thread (connect, TLS) and its polling, so neither a slow
    broker nor HQ's retained messages can hold up the first frame."""

    def first(_now: float) -> None:
        app.frame_listeners.remove(first)
        systemd_notify.ready("idle screen shown")
        log.info("idle screen shown")
        if sync is not None:
            sync.start()  # its network thread; poll() runs on the UI thread, like the session (one store user)
            _poll_sync_on_the_ui_thread(sync)

    return first


def _poll_sync_on_the_ui_thread(sync) -> None:
    """The sync client shares the store with the session, so both run on Kivy's main thread."""
    from kivy.clock import Clock

    def poll(_dt) -> None:
        try:
            sync.poll()
        except Exception:  # syncing must never take the screen down; the status shows the error
            log.exception("sync poll failed")

    Clock.schedule_interval(poll, 0.05)


def _bind_number_keys(desk) -> None:
    """Keys 1-6 tap the demo cards in order, 0 lifts the card."""
    from kivy.core.window import Window

    def on_key(_window, _key, _scancode, codepoint, _modifiers) -> bool:
        if codepoint == "0":
            desk.tap("Remove card")
            return True
        if codepoint and codepoint.isdigit() and 1 <= int(codepoint) <= len(desk.names):
            desk.tap(desk.names[int(codepoint) - 1])
            return True
        return False

    Window.bind(on_key_down=on_key)
