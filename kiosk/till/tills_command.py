"""`kiosk tills`: the tills allowed to use this kiosk's till API, each with its own token."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.app.config import ConfigError, load_config
from kiosk.till.tokens import TILL_NAME_HINT, TillTokens, TokenFileError

DESCRIPTION = """\
Give a till its own API token (`add`: shown once, only its SHA-256 is kept, in a file of mode
600 beside the journal), list the tills, or take a till's token away (`remove`). The till
sends it as `Authorization: Bearer <token>`; see docs/pos-api.md."""

EPILOG = """\
examples:
  kiosk tills add till-1       (prints the token once: put it into the till's settings)
  kiosk tills list
  kiosk tills remove till-1

exit status:
  0 done; 1 the operation failed; 2 bad configuration or usage"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="the configuration (default /etc/kiosk/kiosk.toml)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="make a new token for a till (replaces its old one)",
                         description="Make a new token for a till and print it once.")
    add.add_argument("name", help=TILL_NAME_HINT)
    sub.add_parser("list", help="list the tills that have a token", description="List the tills.")
    remove = sub.add_parser("remove", help="take a till's token away", description="Take a till's token away.")
    remove.add_argument("name", help="the till's name, as `list` shows it")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        tokens = TillTokens.load(config.till.tokens_path(config.device.data_dir))
    except (ConfigError, TokenFileError) as exc:
        print(f"kiosk tills: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "add":
            token = tokens.add(args.name)
            print(f"till {args.name}: {token}")
            print("This token is shown once; the kiosk keeps only its hash. Keep it in the till's settings.",
                  file=sys.stderr)
            if not config.till.enabled:
                print("Note: the till API is off; set [till] enabled = true in the configuration.", file=sys.stderr)
        elif args.action == "list":
            for entry in sorted(tokens.entries.values(), key=lambda e: e.name):
                print(f"{entry.name}\tcreated {entry.created}")
        elif not tokens.remove(args.name):
            print(f"kiosk tills: no till named {args.name!r}", file=sys.stderr)
            return 1
    except (TokenFileError, OSError) as exc:
        print(f"kiosk tills: {exc}", file=sys.stderr)
        return 1
    return 0
