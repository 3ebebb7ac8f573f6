"""`kiosk run`: the touchscreen kiosk itself — store, session, payments, reader and the Kivy app.
This module is the command (its arguments, the configuration, the window); the idle screen is
shown before the rest is wired (kiosk/app/startup.py, kiosk/app/assembly.py)."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from kiosk.app.config import COUNTER_SCREENS, LOCALES, ROLES, SCREENS, ConfigError, load_config

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
    width, height = (int(v) for v in (args.screen or own).split("x"))
    from kiosk.ui.env import prepare_kivy

    prepare_kivy(width, height, kivy_home=str(Path(config.device.data_dir) / "kivy"), fullscreen=args.fullscreen)
    from kiosk.app.startup import open_app

    app, startup = open_app(config, simulate=args.simulate, role=role, locale=args.locale)
    try:
        app.run()  # the idle screen first; its first frame wires the kiosk behind it (startup.py)
    finally:
        startup.close()
    return startup.exit_code
