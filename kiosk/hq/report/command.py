"""`kiosk hq report`: the member analytics report, from the command line.

Hooked into kiosk/hq/command.py (the `kiosk hq` group): `add_parser(sub)` adds the
subcommand, `run(args, db)` makes and writes the report."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HELP = "member analytics: segments, RFM, programme metrics, follow-up lists"

DESCRIPTION = """\
Reports on the members and their transactions synced to HQ, for the chain or one store, over a
period: members by tier and activity (active / at risk / dormant / lost, by days since the
last visit, thresholds from the rules in force), RFM scores and the top 20% of buyers by value,
activation / churn / repeat-visit rates, member share of sales, and follow-up lists for staff
(calls 3 days, 3 weeks and 3 months after the first purchase, dormant members to win back,
birthdays this week). A member's home store is the store of the kiosk that signed them up
(members signed up at HQ: store "HQ"); phone numbers are masked (138****8000) except in a
--store report for that store's own members."""

EPILOG = """\
The first run on a database adds a generated column to the events table (amount_fen);
on PostgreSQL this rewrites the table once.

examples:
  kiosk hq report
  kiosk hq report --from 2026-01-01 --to 2026-06-30 --store S1
  kiosk hq report --format csv --out /tmp/report-2026h1 --sales sales.csv
  kiosk hq report --format csv --section follow_ups --store S1 > calls.csv
  kiosk hq report --section staff --from 2026-12-01 --to 2026-12-31
  kiosk hq --db "postgresql://hq@db/kiosk" report --format html --out report.html

exit status: 0 written; 1 database error; 2 bad usage (dates, store, format) or no HQ database at --db"""


def add_parser(sub) -> None:
    p = sub.add_parser("report", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="first local day of the period (default: a year before --to)")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help='last local day, also "today" for the follow-up lists (default: today)')
    p.add_argument("--store", default=None, help="one store's members only (default: the chain, with a row per store)")
    p.add_argument("--format", choices=("text", "csv", "html"), default="text",
                   help="terminal tables (default), CSV, or an HTML page with charts")
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="csv: a directory, one file per section (SECTION.csv); html: the file; text: a file "
                        "instead of stdout")
    p.add_argument("--section", default=None, metavar="NAME",
                   help="the one section to print (text, or csv to stdout) (metrics, segments, value_share, pareto, rfm, "
                        "new_members, engagement, follow_ups, staff)")
    p.add_argument("--sales", type=Path, metavar="FILE",
                   help='CSV "store,sales_fen" with each store\'s total sales in the period (members and '
                        "non-members, e.g. from the tills): gives the member share of sales, which HQ cannot "
                        "know from kiosk data alone")
    p.add_argument("--due-days", type=int, default=7, metavar="N",
                   help="calls due in the last N days up to --to are listed (default 7)")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="rows per follow-up list in text and HTML (default 20; CSV has all)")


class UsageError(ValueError):
    pass


def read_sales(path: Path) -> dict[str, int]:
    """store -> total sales in fen, from a CSV with a header row "store,sales_fen"."""
    out: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or {"store", "sales_fen"} - set(reader.fieldnames):
            raise UsageError(f"{path}: needs a header row with columns store,sales_fen")
        for n, row in enumerate(reader, start=2):
            text = (row["sales_fen"] or "").strip()
            if not text.isdigit():
                raise UsageError(f"{path} line {n}: sales_fen must be a whole number of fen, not {text[:20]!r}")
            out[row["store"].strip()] = out.get(row["store"].strip(), 0) + int(text)
    return out


def run(args: argparse.Namespace, db) -> int:
    from kiosk.hq.admin import current_rules
    from kiosk.hq.report.build import build_report
    from kiosk.hq.report.migration import migrate
    from kiosk.hq.report.model import Period, ReportError
    from kiosk.hq.report.tables import SECTIONS, csv_tables, render_csv, render_text

    try:
        rules = current_rules(db)
        to = args.date_to or datetime.now(ZoneInfo(rules.timezone)).date()
        start = args.date_from or (to - timedelta(days=364))
        if args.section and args.section not in SECTIONS:
            raise UsageError(f"--section must be one of {', '.join(SECTIONS)}")
        if args.format == "csv" and not args.out and not args.section:
            raise UsageError("--format csv needs --out DIR (a file per section) or --section NAME (to stdout)")
        if args.format == "html" and not args.out:
            raise UsageError("--format html needs --out FILE.html")
        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        sales = read_sales(args.sales) if args.sales else None
        if migrate(db):
            print("kiosk hq report: added the events.amount_fen column (once per database)", file=sys.stderr)
        report = build_report(db, rules, Period(start, to, rules.timezone), store=args.store, sales=sales,
                              due_days=args.due_days)
    except (UsageError, ReportError, OSError) as exc:
        print(f"kiosk hq report: {exc}", file=sys.stderr)
        return 2

    if args.format == "text":
        text = render_text(report, limit=args.limit, section=args.section)
        if args.out:
            args.out.write_text(text + "\n", encoding="utf-8")
            print(f"wrote {args.out}")
        else:
            print(text)
    elif args.format == "csv":
        found = csv_tables(report)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            names = [args.section] if args.section else list(SECTIONS)
            for name in names:
                (args.out / f"{name}.csv").write_text(render_csv(found[name]), encoding="utf-8")
            print(f"wrote {len(names)} file(s) to {args.out}: {', '.join(n + '.csv' for n in names)}")
        else:
            sys.stdout.write(render_csv(found[args.section]))
    else:
        from kiosk.hq.report.html import render_html

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render_html(report, limit=args.limit), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0
