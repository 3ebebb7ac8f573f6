"""The console's one door to HQ's report code (`kiosk hq report`): the report is built, rendered
as HTML and as CSV by that code, never copied here. Only this module names the report modules,
so when they move (a kiosk/hq/report/ package) one import changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kiosk.hq import report as _report
from kiosk.hq import report_html as _html
from kiosk.hq import report_migration as _migration
from kiosk.hq import report_render as _render
from kiosk.hq.admin import current_rules
from kiosk.hq.db import Database

ReportError = _report.ReportError
FollowUp = _report.FollowUp
SECTIONS: tuple[str, ...] = _render.SECTIONS
FOLLOW_UPS: tuple[str, ...] = _report.FOLLOW_UPS
HQ_STORE: str = _report.HQ_STORE
mask_phone = _report.mask_phone


def today(db: Database) -> date:
    """Today in the rules' time zone (the report's local days)."""
    return datetime.now(ZoneInfo(current_rules(db).timezone)).date()


def parse_period(db: Database, start_text: str, to_text: str) -> tuple[date, date]:
    """(from, to) from the form's ISO dates; defaults as `kiosk hq report`: the year up to today.
    Raises ReportError naming the field."""
    try:
        to = date.fromisoformat(to_text) if to_text else today(db)
    except ValueError:
        raise ReportError(f"to: {to_text[:20]!r} is not a date (YYYY-MM-DD)") from None
    try:
        start = date.fromisoformat(start_text) if start_text else to - timedelta(days=364)
    except ValueError:
        raise ReportError(f"from: {start_text[:20]!r} is not a date (YYYY-MM-DD)") from None
    return start, to


def build(db: Database, store: str | None, start: date, to: date) -> _report.Report:
    """The report `kiosk hq report --from --to [--store]` makes, for the console's pages."""
    rules = current_rules(db)
    _migration.migrate(db)
    return _report.build_report(db, rules, _report.Period(start, to, rules.timezone), store=store)


def html(report: _report.Report) -> str:
    return _html.render_html(report)


def csv(report: _report.Report, section: str) -> str:
    """One section as CSV (the same file `kiosk hq report --format csv --section` writes)."""
    return _render.render_csv(_render.csv_tables(report)[section])


def follow_up_label(list_name: str) -> str:
    return _report.FOLLOW_UP_LABELS[list_name]
