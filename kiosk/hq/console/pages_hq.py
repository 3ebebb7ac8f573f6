"""HQ pages: fleet, conflicts, audit log, users, rules (reports: pages_reports.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files

from kiosk.hq import admin, devices, ledger
from kiosk.hq.console import audit, auth
from kiosk.hq.console.page import Ctx, Page
from kiosk.hq.publisher import rules_in_force
from kiosk.ledger.rules import RulesError, parse_rules_json

SILENT_AFTER = timedelta(minutes=30)


def fleet(ctx: Ctx) -> Page:
    """Every kiosk the user may see; the rules version is the one its newest transaction ran."""
    now = datetime.now(UTC)
    rows = []
    for d in devices.list_devices(ctx.db):
        if not ctx.user.sees_store(d.store):
            continue
        last = ctx.db.one("SELECT body FROM events WHERE device_id = ? ORDER BY seq DESC LIMIT 1", (d.device_id,))
        rules_version = json.loads(last[0]).get("rules_version", 0) if last else 0
        try:
            silent = now - datetime.fromisoformat(d.last_contact.replace("Z", "+00:00")) > SILENT_AFTER
        except ValueError:
            silent = True
        rows.append((d, rules_version, silent))
    return Page("fleet.html", {"rows": rows, "in_force": admin.current_rules(ctx.db).version})


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


def rules(ctx: Ctx, error_field: str = "", error: str = "", text: str = "", status: int = 200, done: bool = False) -> Page:
    found = rules_in_force(ctx.db)
    if found:
        doc = json.dumps(found[0], ensure_ascii=False, indent=2)
    else:  # nothing published yet: the built-in rules are in force
        doc = files("kiosk.data").joinpath("rules.default.json").read_text(encoding="utf-8")
    return Page("rules.html", {
        "version": admin.current_rules(ctx.db).version, "doc": doc, "text": text or doc, "error": error,
        "error_field": error_field, "done": done or ctx.query("done") == "1", "store": ctx.form.get("store", ""),
    }, status=status)


def publish(ctx: Ctx) -> Page:
    text, store = ctx.form.get("document", ""), ctx.form.get("store", "").strip()
    try:
        parse_rules_json(text, "form")
    except RulesError as exc:
        return rules(ctx, exc.field, exc.problem, text, 400)

    def record(db, before: int, published) -> None:
        audit.record(db, ctx.user.username, "rules.publish", f"rules:{store or 'chain'}", {"version": before},
                     {"version": published.version, "store": store})

    try:
        admin.publish_rules(ctx.db, text, "form", store=store, record=record)
    except admin.AdminError as exc:
        return rules(ctx, "version" if exc.code == "rules_out_of_date" else "", exc.detail or exc.code, text, 409)
    return Page(redirect="/rules?done=1")


ROUTES = [
    ("GET", "/fleet", "fleet.view", fleet),
    ("GET", "/conflicts", "conflicts.view", conflicts),
    ("POST", "/conflicts/resolve", "conflicts.resolve", resolve),
    ("GET", "/audit", "audit.view", audit_page),
    ("GET", "/users", "users.manage", users),
    ("POST", "/users", "users.manage", add_user),
    ("GET", "/rules", "rules.view", rules),
    ("POST", "/rules", "rules.publish", publish),
]
