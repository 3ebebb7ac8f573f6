"""`kiosk provision`: give a fresh Raspberry Pi its kiosk identity, keys, reader and services."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kiosk.app.config import (
    COUNTER_SCREENS,
    LOCALES,
    READER_DRIVERS,
    ROLES,
    ROTATIONS,
    SCREENS,
    ConfigError,
    load_config,
)
from kiosk.provisioning import answers as ans
from kiosk.provisioning import detect, fsops
from kiosk.provisioning.plan import CONFIG_PATH, ProvisionError, Runner, build

DESCRIPTION = """\
Turn a fresh Raspberry Pi OS image into a working, hardened kiosk, or change one that is already
set up. Answers come from the flags, then an answers file, then the configuration already on the
device (a re-run keeps what you do not change), then questions on the terminal.

Steps, in order: create the service user `kiosk` (groups spi, gpio, dialout, video, input);
create /etc/kiosk and the data directory; install the card master key (mode 600, never printed)
and the TLS files, or make an EC key and a CSR for HQ to sign; install and enable kiosk.service;
enable SPI or the UART with raspi-config when the reader needs it (and free the UART from the
login console); write /etc/kiosk/kiosk.toml.
Every input is checked before anything changes, and the configuration is written last and
atomically: a run that fails leaves the previous configuration in place. Running it again with
the same answers changes nothing."""

EPILOG = """\
--root DIR: the user is created with `useradd --prefix DIR`, units enabled with
`systemctl --root DIR`; instead of raspi-config, DIR/boot/firmware/config.txt and cmdline.txt
are edited (SPI / UART on, serial console off).

files:
  /etc/kiosk/kiosk.toml          the configuration (mode 640, root:kiosk)
  /etc/kiosk/card_master.key     the card master key (mode 600, kiosk)
  /etc/kiosk/tls/                ca.pem, client.pem, client.key (600), client.csr
  /etc/systemd/system/kiosk.service

examples:
  kiosk provision
  kiosk provision --non-interactive --device-id K-001 --store-id SH-07 \\
      --hq-host mqtt.hq.example --tls-ca /media/usb/ca.pem \\
      --reader-driver pn532 --reader-port /dev/serial0 --card-master-key /media/usb/master.key
  kiosk provision --tls-cert /media/usb/K-001.pem     (after HQ signed the CSR)
  kiosk provision --answers shop.toml --root /mnt/sdcard --dry-run

exit status:
  0 provisioned (or nothing to do); 1 a step failed (the configuration was not changed);
  2 a bad or missing answer (nothing was changed)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--answers", type=Path, metavar="FILE", help='answers file: TOML with the same names as the flags (device_id = "K-001", ...)')
    p.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                   help="act on DIR instead of / (an SD card's root, or a test directory; default: /)")
    p.add_argument("--dry-run", action="store_true", help="print every step and the configuration, change nothing")
    p.add_argument("--non-interactive", action="store_true", help="never ask; fail when a required answer is missing")
    p.add_argument("--detect", action="store_true", help="list the readers found on this machine and exit")
    p.add_argument("--hq-server", action="store_true",
                   help="also install and enable kiosk-hq.service and kiosk-hq-console.service "
                        "(the receiver and the browser console, on the HQ machine)")
    p.add_argument("--kiosk-command", metavar="CMD",
                   help="the command the units run (default: the installed `kiosk`)")
    g = p.add_argument_group("answers")
    g.add_argument("--device-id", metavar="ID", help="this kiosk's id, e.g. K-001")
    g.add_argument("--store-id", metavar="ID", help="the store it stands in, e.g. SH-07")
    g.add_argument("--data-dir", metavar="DIR", help="journal and store (default /var/lib/kiosk)")
    g.add_argument("--hq-host", metavar="HOST", help="HQ's MQTT broker (empty: standalone)")
    g.add_argument("--hq-port", type=int, metavar="PORT", help="default 8883 with TLS, else 1883")
    g.add_argument("--tls-ca", metavar="FILE", help="HQ's CA certificate (PEM)")
    g.add_argument("--tls-cert", metavar="FILE", help="this kiosk's certificate (PEM)")
    g.add_argument("--tls-key", metavar="FILE",
                   help="its private key (PEM); without one a key and a CSR are made")
    g.add_argument("--reader-driver", choices=READER_DRIVERS, help="reader driver")
    g.add_argument("--reader-port", metavar="PORT", help="e.g. /dev/serial0, usb:04cc:2533")
    g.add_argument("--card-master-key", metavar="FILE",
                   help="card master key: 16 raw bytes or 32 hex digits")
    g.add_argument("--pin-pepper", metavar="FILE", help="PIN pepper shared with HQ")
    g.add_argument("--card-system-id", metavar="ID",
                   help="the chain's id in card key diversification (default kiosk; the same "
                        "on every kiosk of the chain)")
    g.add_argument("--locale", choices=LOCALES, help="UI language")
    g.add_argument("--screen", choices=sorted(set(SCREENS + COUNTER_SCREENS)), help="screen size")
    g.add_argument("--role", choices=ROLES,
                   help='"counter": a device at the cash desk the till drives (compact layout, 480x320)')
    g.add_argument("--till-port", type=int, metavar="PORT",
                   help="serve the till API on the store's LAN at this port (8765 is usual), over HTTPS "
                        "with this kiosk's certificate once it has one; 0: off")
    g.add_argument("--rotation", type=int, choices=ROTATIONS, help="screen rotation in degrees")
    g.add_argument("--rules-file", metavar="FILE", help="local rules file path on the device")


def interactive(args: argparse.Namespace) -> bool:
    return not args.non_interactive and sys.stdin.isatty()


def gather(args: argparse.Namespace, out=print, read=input) -> ans.Answers:
    """Defaults < existing config < answers file < flags < prompts for what is still missing."""
    existing: dict = {}
    config_file = fsops.under(args.root, CONFIG_PATH)
    if config_file.exists():
        try:
            existing = ans.from_config(load_config(config_file))
        except ConfigError as exc:
            out(f"note: ignoring the existing configuration: {exc}")
    from_file = ans.load_answers_file(args.answers) if args.answers else {}
    flags = {name: getattr(args, name, None) for name in ans.NAMES}
    answers = ans.merge(existing, from_file, flags)
    if interactive(args):
        given = set(from_file) | {k for k, v in flags.items() if v is not None}
        todo = tuple(n for n in (*ans.PROMPTS, "reader")
                     if n not in given and not (n == "reader" and "reader_driver" in given))
        if todo:
            answers = ans.ask(answers, detect.detect(), read, out, todo)
    return answers


def run(args: argparse.Namespace) -> int:
    if args.detect:
        found = detect.detect()
        for c in found:
            print(f"{c.driver:<9} {c.port:<24} {c.description}")
        if not found:
            print("no reader found: check the wiring and that SPI/UART is enabled "
                  "(raspi-config), or plug in the USB reader")
        return 0 if found else 1
    if args.root.resolve() == Path("/") and os.geteuid() != 0 and not args.dry_run:
        print("kiosk provision: run it as root (sudo kiosk provision ...), or use --dry-run",
              file=sys.stderr)
        return 2
    try:
        answers = gather(args)
        for attempt in range(5):
            try:
                plan = build(answers, args.root, args.kiosk_command, args.hq_server,
                             check_port=args.root.resolve() == Path("/"))
                break
            except ProvisionError as exc:
                if attempt == 4 or not interactive(args) or exc.answer not in ans.PROMPTS:
                    raise
                print(f"  {exc}")
                answers = ans.ask(answers, [], input, print, (exc.answer,))
    except (ans.AnswersError, ProvisionError) as exc:
        print(f"kiosk provision: {exc}", file=sys.stderr)
        print("nothing was changed", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"dry run: nothing is changed under {args.root}")
    return Runner(plan, args.dry_run, print).run()
