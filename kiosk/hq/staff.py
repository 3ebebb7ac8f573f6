"""HQ's staff members: who a staff id on a sale is (销售人员), and the `kiosk hq staff` command.

The story: HQ holds each staff member's id, name and home store (`kiosk hq staff add S-0012
--name 王芳 --store S1`); a kiosk only maps its staff cards' UIDs to those ids ([session]
staff_members in kiosk.toml). The kiosk writes the id and the rules' reward into the sale's
SIGN_UP or TOP_UP; HQ's staff report (`kiosk hq report --section staff`) adds them up per staff
member and per store where the sale happened, naming them from this table."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from kiosk.hq.db import Database
from kiosk.ledger.rules import SAFE_ID, SAFE_ID_HINT

HELP = "staff members (id, name, store) the kiosks credit sales to"
TABLE = """CREATE TABLE IF NOT EXISTS staff (
        staff_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        store TEXT NOT NULL)"""


class StaffError(ValueError):
    """A staff record that cannot be kept: names the field and the fix."""


@dataclass(frozen=True)
class StaffMember:
    staff_id: str
    name: str
    store: str


def ensure_table(db: Database) -> None:
    """A database made before the staff table gets it (`serve` makes it at start too)."""
    db.run(lambda db: db.execute(TABLE))


def put(db: Database, member: StaffMember) -> None:
    """Add a staff member, or rename / move one (the id stays: past sales keep it)."""
    if not SAFE_ID.match(member.staff_id):
        raise StaffError(f"staff id: {SAFE_ID_HINT}")
    if not member.name.strip() or len(member.name) > 40:
        raise StaffError("--name: 1-40 characters")
    if not SAFE_ID.match(member.store):
        raise StaffError(f"--store: {SAFE_ID_HINT}")
    db.run(lambda db: db.execute(
        "INSERT INTO staff (staff_id, name, store) VALUES (?, ?, ?) "
        "ON CONFLICT (staff_id) DO UPDATE SET name = excluded.name, store = excluded.store",
        (member.staff_id, member.name.strip(), member.store),
    ))


def all_staff(db: Database) -> dict[str, StaffMember]:
    return {r[0]: StaffMember(r[0], r[1], r[2]) for r in db.all("SELECT staff_id, name, store FROM staff ORDER BY staff_id")}


def add_parser(sub) -> None:
    p = sub.add_parser("staff", help=HELP, description=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("staff_id", nargs="?", help="add or change this staff member (e.g. S-0012); none: list them")
    p.add_argument("--name", default="", help="the name the staff report shows")
    p.add_argument("--store", default="", help="the staff member's home store (e.g. S1)")
    p.add_argument("--json", action="store_true", help="list as JSON")


def run(args: argparse.Namespace, db: Database) -> int:
    ensure_table(db)
    if args.staff_id:
        try:
            put(db, StaffMember(args.staff_id, args.name, args.store))
        except StaffError as exc:
            print(f"kiosk hq staff: {exc}", file=sys.stderr)
            return 2
        print(f"staff {args.staff_id}: {args.name} ({args.store})")
        return 0
    rows = list(all_staff(db).values())
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1))
    else:
        for r in rows:
            print(f"{r.staff_id}\t{r.name}\t{r.store}")
    return 0
