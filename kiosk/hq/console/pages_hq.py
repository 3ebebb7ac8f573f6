"""HQ pages: conflicts, audit log, users (fleet: pages_fleet.py, rules: pages_rules.py, reports:
pages_reports.py)."""

from __future__ import annotations

from kiosk.hq import ledger
from kiosk.hq.console import audit, auth
from kiosk.hq.console.page import Ctx, Page


def conflicts(ctx: Ctx) -> Page:
    show_all = ctx.query("all") == "1"
    return Page("conflicts.html", {
        "rows": ledger.list_conflicts(ctx.db, include_resolved=show_all), "show_all": show_all,
        "divergent": ledger.list_divergent(ctx.db), "done": ctx.query("done") == "1",
    })


def resolve(ctx: Ctx) -> Page:
    device, seq, note = ctx.form.get("device", ""), ctx.form.get("seq", ""), ctx.form.get("note", "").strip()[:500]
    if not device or not seq.isdigit():
        return Page("error.html", {"message": "Not found."}, status=400)

    def record(db) -> None:
        audit.record(db, ctx.user.username, "conflict.resolve", f"conflict:{device}:{seq}", {"resolved": False},
                     {"resolved": True, "note": note})

    ledger.resolve_conflict(ctx.db, device, int(seq), record=record)
    return Page(redirect="/conflicts?done=1")


def audit_page(ctx: Ctx) -> Page:
    return Page("audit.html", {"rows": audit.entries(ctx.db, 500)})


def users(ctx: Ctx, error: str = "", status: int = 200) -> Page:
    return Page("users.html", {"rows": auth.list_users(ctx.db), "roles": auth.ROLES, "error": error,
                               "form": ctx.form}, status=status)


def add_user(ctx: Ctx) -> Page:
    stores = tuple(s.strip() for s in ctx.form.get("stores", "").split(",") if s.strip())
    try:
        auth.add_user(ctx.db, ctx.form.get("username", "").strip(), ctx.form.get("role", ""),
                      ctx.form.get("password", ""), stores, by=ctx.user.username)
    except auth.AccountError as exc:
        return users(ctx, str(exc), 400)
    return Page(redirect="/users")


ROUTES = [
    ("GET", "/conflicts", "conflicts.view", conflicts),
    ("POST", "/conflicts/resolve", "conflicts.resolve", resolve),
    ("GET", "/audit", "audit.view", audit_page),
    ("GET", "/users", "users.manage", users),
    ("POST", "/users", "users.manage", add_user),
]
