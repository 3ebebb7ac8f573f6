"""`kiosk run`: the touchscreen kiosk itself — store, session, payments, reader and the Kivy app."""

from __future__ import annotations

import argparse
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from kiosk.config import LOCALES, SCREENS, ConfigError, load_config

log = logging.getLogger(__name__)

DESCRIPTION = """\
Run the kiosk: the touchscreen app on the session, the local store and the card reader.
With --simulate no hardware or configuration is needed: demo cards are tapped with on-screen
buttons or the number keys 1-6 (0 lifts the card), on a store in a temporary directory
(or --data-dir), so anyone can try the kiosk on a desktop."""

EPILOG = """\
options in detail:
  --simulate          demo cards instead of a reader; members are seeded on first use
                      (demo PIN 246810; the staff card opens the staff menu)
  --data-dir DIR      where the simulated kiosk keeps its store (default: a new temp dir)
  --screen WxH        800x480 (official 7" Pi panel), 1024x600 or 1280x800;
                      default: the configuration's device.screen, else 800x480
  --locale L          zh_CN (default) or en; members can switch on screen
  --fullscreen        take the whole display (the kiosk's normal mode on the Pi)

environment:
  KIOSK_CONFIG        configuration file if --config is not given
  KIOSK_FONT          a font file with Chinese glyphs, if not found automatically
  SDL_VIDEODRIVER     SDL's video driver; set to kmsdrm on a Pi without X (offscreen is
                      chosen automatically when there is no display)

files:
  /etc/kiosk/kiosk.toml       configuration (device id, data_dir, reader, HQ)
  DATA_DIR/incidents.jsonl    events HQ must hear about (lost card seen, abandoned payment)

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
    parser.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")
    parser.add_argument("--simulate", action="store_true", help="demo cards instead of a reader")
    parser.add_argument("--data-dir", type=Path, help="store directory for --simulate")
    parser.add_argument("--screen", choices=SCREENS, help="window size")
    parser.add_argument("--locale", choices=LOCALES, default="zh_CN", help="starting language")
    parser.add_argument("--fullscreen", action="store_true", help="use the whole display")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = None if args.simulate and args.config is None else load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    screen = args.screen or (config.device.screen if config else "800x480")
    try:
        kiosk = build_kiosk(args, config)
    except RunError as exc:
        log.error("%s", exc)
        return 1
    width, height = (int(v) for v in screen.split("x"))
    from kiosk.ui.env import prepare_kivy

    prepare_kivy(width, height, fullscreen=args.fullscreen)
    from kiosk.ui.app import KioskApp
    from kiosk.ui.i18n import translator

    translator().set_locale(args.locale)
    app = KioskApp(kiosk.session, simulated_cards=kiosk.simulated_cards, on_simulated_tap=kiosk.tap)
    kiosk.post_to(app.post)  # reader events wake the session at once instead of at the next pump
    if kiosk.desk is not None:
        _bind_number_keys(kiosk)
    try:
        app.run()
    finally:
        kiosk.close()
    return 0


class Kiosk:
    """The parts `kiosk run` assembled, and how to stop them."""

    def __init__(self, session, store, desk=None, worker=None):
        self.session, self.store, self.desk, self.worker = session, store, desk, worker
        self.simulated_cards: tuple[tuple[str, str], ...] = ()
        if desk is not None:
            names = [*desk.cards, "Remove card"]
            self.simulated_cards = tuple((n, n) for n in names)

    def tap(self, name: str) -> None:
        if self.desk is not None:
            self.desk.tap(name)

    def post_to(self, post) -> None:
        if self.desk is not None:
            self.desk.post = post

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.store.close()


def build_kiosk(args: argparse.Namespace, config) -> Kiosk:
    from kiosk.payment.cash_acceptor import CashAcceptorPayment
    from kiosk.payment.hq_mqtt import HqMqttPaymentPlaceholder
    from kiosk.payment.staff_cash import StaffCashPayment
    from kiosk.session import Session, SessionSettings
    from kiosk.session.incidents import IncidentLog
    from kiosk.store.store import Store, StoreError

    if args.simulate:
        from kiosk.simulate import STAFF_UIDS, CardDesk, seed_demo_members

        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kiosk-sim-"))
        device_id = config.device.id if config else "sim-01"
    else:
        data_dir, device_id = config.device.data_dir, config.device.id
    try:
        store = Store.open(data_dir, device_id, pepper=_pepper(config))
    except StoreError as exc:
        raise RunError(f"the store in {data_dir} cannot be opened: {exc}") from None
    payments = [StaffCashPayment(), CashAcceptorPayment(None, 100), HqMqttPaymentPlaceholder()]
    holder: list = []
    if args.simulate:
        seed_demo_members(store, datetime.now(UTC))
        desk = CardDesk(lambda item: holder[0].post(item))
        session = Session(store, payments=payments, card_writer=desk,
                          incidents=IncidentLog(data_dir / "incidents.jsonl"),
                          settings=SessionSettings(staff_uids=STAFF_UIDS), reload_rules=lambda: store.ledger.rules)
        holder.append(session)
        log.info("simulated kiosk %s, store in %s", device_id, data_dir)
        return Kiosk(session, store, desk=desk)
    store.close()
    raise RunError(
        "running with a real reader needs the reader drivers and the card layer wired in "
        "(kiosk.reader.factory + the card access of the session's ReaderWorker); use --simulate meanwhile"
    )


def _pepper(config) -> bytes:
    path = config.secrets.pin_pepper_file if config else None
    if path is None:
        return b""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RunError(f"PIN pepper file {path}: {exc.strerror}") from None


def _bind_number_keys(kiosk: Kiosk) -> None:
    """Keys 1-6 tap the demo cards in order, 0 lifts the card."""
    from kivy.core.window import Window

    names = list(kiosk.desk.cards)

    def on_key(_window, _key, _scancode, codepoint, _modifiers) -> bool:
        if codepoint == "0":
            kiosk.desk.remove()
            return True
        if codepoint and codepoint.isdigit() and 1 <= int(codepoint) <= len(names):
            kiosk.desk.tap(names[int(codepoint) - 1])
            return True
        return False

    Window.bind(on_key_down=on_key)
