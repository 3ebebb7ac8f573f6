"""Approvals: the adjustments and returns waiting for a second person, approve / reject, and the
thresholds (an admin's setting). The rules are in kiosk/hq/console/approvals.py."""

from __future__ import annotations

from urllib.parse import quote

from kiosk.hq import admin
from kiosk.hq.console import approvals
from kiosk.hq.console.page import Ctx, NotFound, Page
from kiosk.hq.console.pages_cards import recorder
from kiosk.ledger.money import parse_yuan

FLASH = {"approved", "rejected", "saved"}


def approvals_page(ctx: Ctx) -> Page:
    done = ctx.query("done")
    pending = approvals.listed(ctx.db)
    return Page("approvals.html", {
        "pending": [(a, approvals.may_decide(ctx.user, a)) for a in pending], "decided": approvals.decided(ctx.db),
        "limits": approvals.thresholds(ctx.db), "done": done if done in FLASH else "", "error": ctx.query("error")[:80],
    })


def _id(ctx: Ctx) -> int:
    text = ctx.param("approval_id")
    if not text.isdigit() or len(text) > 12:
        raise NotFound(text[:20])
    return int(text)


def _back(key: str, value: str) -> Page:
    return Page(redirect=f"/approvals?{key}={quote(value, safe='')}")


def approve(ctx: Ctx) -> Page:
    def audit_for(approval: approvals.Approval) -> admin.Recorder:
        action = "member.adjust" if approval.kind == "adjust" else "card.return"
        extra = {"approval": approval.id, "requested_by": approval.requested_by}
        if approval.reason:
            extra["reason"] = approval.reason
        return recorder(ctx, action, approval.card_uid, approval.member_id, extra)

    try:
        approvals.approve(ctx.db, ctx.user, _id(ctx), audit_for)
    except approvals.ApprovalError as exc:
        return _back("error", exc.code)
    except admin.AdminError as exc:
        return _back("error", exc.code)
    return _back("done", "approved")


def reject(ctx: Ctx) -> Page:
    try:
        approvals.reject(ctx.db, ctx.user, _id(ctx))
    except approvals.ApprovalError as exc:
        return _back("error", exc.code)
    return _back("done", "rejected")


def save_thresholds(ctx: Ctx) -> Page:
    try:
        new = {
            "adjust_fen": parse_yuan(ctx.form.get("adjust_yuan", "").strip()),
            "adjust_points": int(ctx.form.get("adjust_points", "").strip()),
            "return_fen": parse_yuan(ctx.form.get("return_yuan", "").strip()),
        }
        approvals.set_thresholds(ctx.db, ctx.user, new)
    except (ValueError, approvals.ApprovalError):
        return _back("error", "bad_threshold")
    return _back("done", "saved")


ROUTES = [
    ("GET", "/approvals", "approvals.view", approvals_page),
    ("POST", "/approvals/{approval_id}/approve", "approvals.decide", approve),
    ("POST", "/approvals/{approval_id}/reject", "approvals.decide", reject),
    ("POST", "/approvals/thresholds", "approvals.settings", save_thresholds),
]
