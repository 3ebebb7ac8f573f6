"""Members: search and the member page."""

from __future__ import annotations

import time

from kiosk.hq.console import approvals, audit, followups, members, notes
from kiosk.hq.console.page import Ctx, Denied, NotFound, Page
from kiosk.hq.home_store import home_store
from kiosk.hq.notes_key import load_key

FLASH = {"blocked", "unblocked", "replaced", "exchanged", "returned", "adjusted", "pending", "pin_reset",
         "note_added", "note_deleted", "note_consent"}


def member_in_reach(ctx: Ctx, member_id: str) -> str:
    """The member's home store, refusing a store manager another store's member (direct URL or
    form post alike); NotFound when HQ has no such member."""
    store = home_store(ctx.db, member_id)
    if store is None:
        raise NotFound(member_id)
    if not ctx.user.sees_store(store):
        raise Denied(member_id)
    return store


def search_page(ctx: Ctx) -> Page:
    query = ctx.query("q")[:80]
    started = time.perf_counter()
    hits = members.search(ctx.db, query, ctx.user) if query else []
    took_ms = (time.perf_counter() - started) * 1000
    return Page("members.html", {"q": query, "hits": hits, "searched": bool(query), "took_ms": took_ms})


def member_page(ctx: Ctx) -> Page:
    member_id = ctx.param("member_id")
    member_in_reach(ctx, member_id)
    page = members.member_page(ctx.db, member_id, ctx.user)
    if page is None:
        raise NotFound(member_id)
    done = ctx.query("done")
    return Page(
        "member.html",
        {
            "m": page,
            "done": done if done in FLASH else "",
            "error": ctx.query("error")[:80],
            "calls": followups.calls_for(ctx.db, [member_id]),
            "outcomes": followups.OUTCOMES,
            "pending": approvals.listed(ctx.db, member_id=member_id),
            "audit": audit.entries(ctx.db, 50, target=f"member:{member_id}") if ctx.user.may("audit.view") else [],
            "notes": notes_section(ctx, member_id),
        },
    )


def notes_section(ctx: Ctx, member_id: str) -> notes.NotesSection | None:
    """The member notes as this user may see them: None for a role that sees none, no words for an auditor."""
    if not ctx.user.may("notes.view"):
        return None
    return notes.section(ctx.db, member_id, ctx.user.may("notes.read"), ctx.user.may("notes.write"), load_key)


ROUTES = [
    ("GET", "/members", "members.view", search_page),
    ("GET", "/members/{member_id}", "members.view", member_page),
]
