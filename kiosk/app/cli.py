"""The `kiosk` command. Each subcommand lives in its own module, imported only when used,
so `kiosk --help` stays fast and a missing optional package only affects its own command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from kiosk import __version__

# name -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("kiosk.demo.story", "run a scripted morning at a store, end to end, and print a summary"),
    "provision": ("kiosk.provisioning.command", "set up this device as a kiosk (or change it)"),
    "doctor": ("kiosk.doctor.command", "check everything a kiosk needs, with the fix for each"),
    "status": ("kiosk.doctor.status", "a one-screen summary of this kiosk's state"),
    "cards": ("kiosk.provisioning.cards", "issue blank cards, re-key or wipe returned cards"),
    "sim-card": ("kiosk.reader.card_cli", "tap, remove and create simulated cards (simulated reader)"),
    "hq": ("kiosk.hq.command", "headquarters: receiver, lost/replaced/returned cards, rules, devices"),
    "run": ("kiosk.app.run", "run the touchscreen kiosk (--simulate: demo cards, no hardware)"),
    "till": ("kiosk.till.command", "the reference till client: charge, refund, void over the till API"),
    "tills": ("kiosk.till.tills_command", "the tills allowed to use the till API, each with its own token"),
}

DESCRIPTION = """\
The software inside a self-service membership-card kiosk. A member taps a contactless card;
the touchscreen shows balance, points and tier, and lets them top up, redeem points and sign up.
The kiosk keeps working offline and syncs every transaction to headquarters (HQ) over MQTT."""

EPILOG = """\
files:
  /etc/kiosk/kiosk.toml     configuration written by `kiosk provision` (or --config FILE)
  /var/lib/kiosk/           journal, snapshots and outbox (the data_dir of the configuration)

exit status:
  0 success; 1 the operation failed (the message says why); 2 bad usage or bad configuration

Run `kiosk COMMAND --help` for the details of one command."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only` (a command's name) that command's module alone is
    imported and the others are listed by name and one-line help (what `kiosk run` starts with:
    importing every command's module cost a second of start-up on a Pi)."""
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(
            name,
            help=help_text,
            description=getattr(module, "DESCRIPTION", help_text),
            epilog=getattr(module, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def command_named(argv: list[str]) -> str | None:
    """The command `argv` asks for (its first word that is not an option), if it is one of ours."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=command_named(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from kiosk.app.logging_setup import setup_logging

    setup_logging(os.environ.get("KIOSK_LOG_LEVEL", "INFO"))  # JSON to the journal, redacted
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
