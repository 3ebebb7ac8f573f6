"""Reports in the browser: the `kiosk hq report` HTML page and its CSV sections per period and
store, and the follow-up lists with their call records (回访记录). A store manager gets their
own stores only, whatever the URL says."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from kiosk.hq.console import followups, members, reporting
from kiosk.hq.console.page import Ctx, Denied, Page
from kiosk.hq.console.pages_members import member_in_reach

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
_STORE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _stores(ctx: Ctx) -> list[str]:
    """The stores this user may pick: every store HQ knows, a store manager's own."""
    if ctx.user.role == "store-manager":
        return list(ctx.user.stores)
    known = [r[0] for r in ctx.db.all("SELECT DISTINCT store FROM devices ORDER BY store")]
    return [*known, reporting.HQ_STORE]


def _store(ctx: Ctx, required: bool) -> str | None:
    """The store asked for (None: the whole chain), refused when out of the user's reach."""
    store = ctx.query("store").strip()
    if not store:
        if required or ctx.user.role == "store-manager":
            raise Denied("chain")
        return None
    if not _STORE.match(store) or not ctx.user.sees_store(store):
        raise Denied(store[:32])
    return store


def reports(ctx: Ctx) -> Page:
    today = reporting.today(ctx.db)
    return Page("reports.html", {"stores": _stores(ctx), "chain_allowed": ctx.user.role != "store-manager",
                                 "to": today.isoformat(), "from": (today - timedelta(days=364)).isoformat(),
                                 "sections": reporting.SECTIONS})


def _report(ctx: Ctx):
    store = _store(ctx, required=False)
    start, to = reporting.parse_period(ctx.db, ctx.query("from"), ctx.query("to"))
    return reporting.build(ctx.db, store, start, to)


def report_html(ctx: Ctx) -> Page:
    """The existing `kiosk hq report --format html` page, for a period and a store (a store
    manager: one of their stores only; phones are unmasked in a store's own report)."""
    try:
        report = _report(ctx)
    except reporting.ReportError as exc:
        return Page("error.html", {"message": str(exc)}, status=400)
    response = HTMLResponse(reporting.html(report))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return Page(raw=response)


def report_csv(ctx: Ctx) -> Page:
    """One section of the report as a CSV download."""
    section = ctx.query("section")
    if section not in reporting.SECTIONS:
        return Page("error.html", {"message": f"section: one of {', '.join(reporting.SECTIONS)}"}, status=400)
    try:
        report = _report(ctx)
    except reporting.ReportError as exc:
        return Page("error.html", {"message": str(exc)}, status=400)
    name = f"{section}-{report.store or 'chain'}-{report.period.end.isoformat()}.csv"
    return Page(raw=Response(
        "\ufeff" + reporting.csv(report, section), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    ))


def _due(ctx: Ctx) -> tuple[str, date, dict[str, list[dict]]]:
    """(store, as of, list name -> the entries still to call, each with its calls so far)."""
    store = _store(ctx, required=True)
    _, to = reporting.parse_period(ctx.db, "", ctx.query("to"))
    report = reporting.build(ctx.db, store, to - timedelta(days=364), to)
    calls = followups.calls_for(ctx.db, [f.member_id for f in report.follow_ups])
    keyed = [(f.list_name, f.member_id, followups.occasion(f.list_name, f.day, to)) for f in report.follow_ups]
    lists: dict[str, list[dict]] = {name: [] for name in reporting.FOLLOW_UPS}
    for item, key in zip(report.follow_ups, keyed, strict=True):  # the report leaves out those reached
        tried = [c for c in calls if (c.list_name, c.member_id, c.occasion) == key]
        lists[item.list_name].append({"f": item, "occasion": key[2], "calls": tried,
                                      "phone": members.phone_for(ctx.user, item.phone)})
    return store or "", to, lists


def followup_lists(ctx: Ctx) -> Page:
    """The five lists for one store as of a day, each member with the calls made so far; the
    members someone reached for the occasion are left out."""
    stores = _stores(ctx)
    if not ctx.query("store") and stores:
        return Page(redirect=f"/followups?{urlencode({'store': stores[0]})}")
    try:
        store, to, lists = _due(ctx)
    except reporting.ReportError as exc:
        return Page("error.html", {"message": str(exc)}, status=400)
    labels = {name: reporting.follow_up_label(name) for name in reporting.FOLLOW_UPS}
    return Page("followups.html", {"stores": stores, "store": store, "to": to.isoformat(), "lists": lists,
                                   "labels": labels, "outcomes": followups.OUTCOMES,
                                   "done": ctx.query("done") == "1", "error": ctx.query("error")[:120]})


def followups_csv(ctx: Ctx) -> Page:
    """The same lists as a spreadsheet to call from (who is still due, and the calls so far)."""
    try:
        store, to, lists = _due(ctx)
    except reporting.ReportError as exc:
        return Page("error.html", {"message": str(exc)}, status=400)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["list", "member_id", "name", "phone", "tier", "day", "occasion", "calls", "last_call"])
    for name, rows in lists.items():
        for row in rows:
            last = row["calls"][-1] if row["calls"] else None
            writer.writerow([name, row["f"].member_id, row["f"].name, row["phone"], row["f"].tier, row["f"].day or "",
                             row["occasion"], len(row["calls"]),
                             f"{last.at[:16]} {last.username} {last.outcome}: {last.note}" if last else ""])
    return Page(raw=Response(
        "\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="followups-{store}-{to.isoformat()}.csv"'},
    ))


def record_call(ctx: Ctx) -> Page:
    member_id, store, to = ctx.form.get("member_id", ""), ctx.form.get("store", ""), ctx.form.get("to", "")
    member_in_reach(ctx, member_id)
    back = {"store": store if _STORE.match(store) else "", "to": to if _is_date(to) else ""}
    try:
        followups.record(ctx.db, ctx.user.username, ctx.form.get("list", ""), member_id, ctx.form.get("occasion", ""),
                         ctx.form.get("outcome", ""), ctx.form.get("note", ""), reporting.FOLLOW_UPS)
    except followups.CallError as exc:
        return Page(redirect=f"/followups?{urlencode({**back, 'error': str(exc)})}")
    return Page(redirect=f"/followups?{urlencode({**back, 'done': '1'})}")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


ROUTES = [
    ("GET", "/reports", "reports.view", reports),
    ("GET", "/reports/html", "reports.view", report_html),
    ("GET", "/reports/csv", "reports.view", report_csv),
    ("GET", "/followups", "followups.view", followup_lists),
    ("GET", "/followups.csv", "followups.view", followups_csv),
    ("POST", "/followups/call", "followups.record", record_call),
]
