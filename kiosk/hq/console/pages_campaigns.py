"""Campaigns: vouchers for a segment of members. Choose the voucher type (from the rules in
force) and the segment, see who it reaches (a count and a masked sample), confirm, and watch it
run; the past campaigns with what they gave and how much was used. The work is in
kiosk/hq/console/campaigns.py."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from kiosk.hq.admin import current_rules
from kiosk.hq.console import campaigns
from kiosk.hq.console.page import Ctx, NotFound, Page
from kiosk.hq.vouchers import SEGMENTS

SEGMENT_LABELS = {"active": "Active members", "at_risk": "Members at risk", "dormant": "Dormant members",
                  "lost": "Lost members"}
STATUS_LABELS = {"running": "Running", "done": "Done", "failed": "Failed"}


def _labels() -> dict:
    return {"segments": {s: SEGMENT_LABELS[s] for s in SEGMENTS}, "statuses": STATUS_LABELS}


def campaigns_page(ctx: Ctx) -> Page:
    """The form, the preview when the form was sent (GET: previewing writes nothing), the list."""
    segment, type_id, name = ctx.query("segment")[:20], ctx.query("voucher_type")[:64], ctx.query("name")[:40]
    preview, error = None, None
    if segment or type_id:
        try:
            preview = campaigns.preview(ctx.db, segment, type_id, name.strip())
        except campaigns.CampaignError as exc:
            error = exc
    return Page("campaigns.html", {
        **_labels(), "types": current_rules(ctx.db).vouchers.types, "chosen": {"segment": segment, "voucher_type": type_id, "name": name},
        "preview": preview, "error": error, "key": secrets.token_urlsafe(24),
        "past": campaigns.listed(ctx.db), "refused": ctx.query("error")[:80],
    })


def issue(ctx: Ctx) -> Page:
    """Start the previewed campaign (once per form) and show it running."""
    form = {k: ctx.form.get(k, "").strip() for k in ("segment", "voucher_type", "name", "key", "planned")}
    try:
        campaign_id, started = campaigns.start(
            ctx.db, ctx.user.username, form["key"], form["segment"], form["voucher_type"], form["name"],
            int(form["planned"]) if form["planned"].isdigit() else 0,
        )
    except campaigns.CampaignError as exc:
        back = {k: form[k] for k in ("segment", "voucher_type", "name")}
        return Page(redirect=f"/campaigns?{urlencode(back)}&error={quote(str(exc)[:80], safe='')}")
    if started:
        campaigns.run_in_background(ctx.request.app.state.console.pool.url, campaign_id)
    return Page(redirect=f"/campaigns/{campaign_id}")


def campaign_page(ctx: Ctx) -> Page:
    text = ctx.param("campaign_id")
    found = campaigns.get(ctx.db, int(text)) if text.isdigit() and len(text) <= 12 else None
    if found is None:
        raise NotFound(text[:20])
    return Page("campaign.html", {"c": campaigns.listed_one(ctx.db, found), **_labels()})


ROUTES = [
    ("GET", "/campaigns", "campaigns.view", campaigns_page),
    ("POST", "/campaigns", "campaigns.issue", issue),
    ("GET", "/campaigns/{campaign_id}", "campaigns.view", campaign_page),
]
