"""The member page's notes: add (sealed), delete on the member's request, record a consent given
in person. Store managers only for their own stores' members (member_in_reach); every change is
audited inside its own transaction, masked (kiosk/hq/console/notes.py)."""

from __future__ import annotations

from urllib.parse import quote

from kiosk.hq.console import notes
from kiosk.hq.console.page import Ctx, Page
from kiosk.hq.console.pages_members import member_in_reach
from kiosk.hq.notes_key import NotesKeyError, load_key


def _back(member_id: str, result: str = "", error: str = "") -> Page:
    query = f"done={result}" if result else f"error={quote(error[:80], safe='')}"
    return Page(redirect=f"/members/{quote(member_id, safe='')}?{query}#notes")


def add(ctx: Ctx) -> Page:
    member_id = ctx.param("member_id")
    member_in_reach(ctx, member_id)
    try:
        notes.add_note(ctx.db, load_key(), member_id, ctx.form.get("text", ""), ctx.form.get("tags", ""),
                       ctx.user.username)
    except notes.NoteError as exc:
        return _back(member_id, error=exc.code)
    except NotesKeyError:
        return _back(member_id, error="notes_key_missing")
    return _back(member_id, "note_added")


def delete(ctx: Ctx) -> Page:
    member_id = ctx.param("member_id")
    member_in_reach(ctx, member_id)
    try:
        note_id = int(ctx.param("note_id"))
        notes.delete_note(ctx.db, member_id, note_id, ctx.user.username, ctx.form.get("reason", ""))
    except ValueError as exc:
        return _back(member_id, error=getattr(exc, "code", "no_such_note"))
    return _back(member_id, "note_deleted")


def consent(ctx: Ctx) -> Page:
    member_id = ctx.param("member_id")
    member_in_reach(ctx, member_id)
    notes.record_consent(ctx.db, member_id, ctx.user.username)
    return _back(member_id, "note_consent")


ROUTES = [
    ("POST", "/members/{member_id}/notes", "notes.write", add),
    ("POST", "/members/{member_id}/notes/{note_id}/delete", "notes.write", delete),
    ("POST", "/members/{member_id}/notes/consent", "notes.write", consent),
]
