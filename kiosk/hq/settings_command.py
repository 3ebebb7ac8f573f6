"""`kiosk hq settings`: show and change HQ's tunable settings (kept in the `settings` table).

The settings themselves (keys, defaults, ranges, meanings) are kiosk/hq/tunables.py's table. Here a
value is checked (a whole number in its range) before it is kept, and the listing shows the value
in force, which is the default when the stored one is bad, as the code using it reads it."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict, dataclass

from kiosk.hq import tunables
from kiosk.hq.db import Database
from kiosk.hq.tunables import BY_KEY, SETTINGS, Setting, SettingError, check

HELP = "show or change HQ's settings (how long store deltas and snapshots are kept, what a snapshot holds)"


def _listed(s: Setting) -> str:
    text = f"{s.means}; {s.low} to {s.high:,}, default {s.default:,}"
    return textwrap.fill(text, 96, initial_indent=f"  {s.key:<24}", subsequent_indent=" " * 26)


DESCRIPTION = f"""\
Show HQ's settings, or change one. With no KEY: each setting's value in force, whether it is the
default, its range and what it does. With KEY and VALUE: keep VALUE for KEY, after checking it is
a whole number in the setting's range (nothing changes when it is not). With KEY and --default:
forget the stored value, so the default applies.

The running receivers (`kiosk hq serve`) read the settings at each use: a change takes effect
without a restart (the retention at the next pruning round, once a minute; what a snapshot
holds at the next snapshot built).

settings:
{chr(10).join(_listed(s) for s in SETTINGS)}

A lower retention drops more at the next rounds (at most 5,000 deltas and 256 snapshot chunks a
round); a kiosk further behind than what HQ keeps loads a new store snapshot instead of the deltas.

exit status:
  0  shown, or kept
  2  an unknown KEY, a VALUE that is not a whole number in range, or VALUE and --default together

examples:
  kiosk hq --db /var/lib/kiosk-hq/hq.sqlite3 settings
  kiosk hq settings store_delta_keep_days 14
  kiosk hq settings store_delta_keep_count --default
  kiosk hq settings --json"""


@dataclass(frozen=True)
class InForce:
    """A setting as the receivers read it now: `stored` is the table's text ('' when none)."""

    key: str
    value: int
    default: bool
    stored: str


def add_parser(sub) -> None:
    p = sub.add_parser("settings", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("key", nargs="?", metavar="KEY", choices=sorted(BY_KEY),
                   help="the setting to change (one of: %(choices)s); none: list them all")
    p.add_argument("value", nargs="?", metavar="VALUE", help="the new value, a whole number in the setting's range")
    p.add_argument("--default", action="store_true", help="forget KEY's stored value: its default applies")
    p.add_argument("--json", action="store_true", help="list as JSON")


def in_force(db: Database, setting: Setting) -> InForce:
    stored = tunables.stored(db, setting.key)
    try:
        value = check(setting.key, stored)
    except SettingError:
        return InForce(setting.key, setting.default, True, stored)
    return InForce(setting.key, value, False, stored)


def run(args: argparse.Namespace, db: Database) -> int:
    if args.key is None:
        if args.value is not None or args.default:
            return _refuse("give KEY with VALUE or --default")
        rows = [in_force(db, s) for s in SETTINGS]
        if args.json:
            print(json.dumps([asdict(r) for r in rows], indent=1))
            return 0
        for r in rows:
            bad = f" (stored {r.stored!r} is not in range)" if r.default and r.stored else ""
            print(f"{r.key}\t{r.value}\t{'default' if r.default else 'set'}{bad}")
        return 0
    if args.default == (args.value is not None):
        return _refuse(f"give {args.key} either a VALUE or --default")
    if args.default:
        db.run(lambda db: db.execute("DELETE FROM settings WHERE key = ?", (args.key,)))
        print(f"{args.key}: the default, {BY_KEY[args.key].default}")
        return 0
    try:
        value = check(args.key, args.value)
    except SettingError as exc:
        return _refuse(str(exc))
    db.run(lambda db: db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (args.key, str(value))))
    print(f"{args.key}: {value}")
    return 0


def _refuse(problem: str) -> int:
    print(f"kiosk hq settings: {problem}", file=sys.stderr)
    return 2
