"""Member notes (病史记录 at a pharmacy, preferences at a cosmetics shop): free text and tags that
staff write about a member in the console, sealed at rest (kiosk/hq/notes_key.py).

Only the sealed text and tags are in SQL, with who wrote it and when (the author and time are
not secret: the audit log has them anyway). The audit log records that a note was added or
deleted, never its words (`masked`). A note is written only for a member who agreed to notes:
at sign-up (the privacy notice's line, Member.notes_consent) or, for a member who signed up
before, in person at the counter (recorded here, audited). Deleting a note on the member's
request removes its row; the audit entry of the deletion stays."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.hq.console import audit
from kiosk.hq.console.reporting import HQ_STORE
from kiosk.hq.db import Database
from kiosk.hq.home_store import home_store
from kiosk.hq.ledger import now_text
from kiosk.hq.notes_key import NotesKey, NotesKeyError, bound_to, open_note, seal_note

TEXT_MAX = 2000
TAGS_MAX = 8
TAG_MAX = 20
NOTES_MAX = 50  # per member: what the home store's kiosks carry stays small


class NoteError(ValueError):
    """A note that cannot be written or deleted; `field` names the form field, `code` the reason."""

    def __init__(self, field: str, code: str, detail: str):
        self.field, self.code = field, code
        super().__init__(f"{field}: {detail}")


@dataclass(frozen=True)
class NoteHeader:
    """A note without its words: what an auditor sees."""

    id: int
    member_id: str
    at: str
    author: str


@dataclass(frozen=True)
class Note:
    header: NoteHeader
    text: str
    tags: tuple[str, ...]


def masked(text: str, tags: tuple[str, ...] = ()) -> str:
    """What logs, the audit log and exports say of a note: its size, never its words."""
    return f"[note: {len(text)} characters, {len(tags)} tags]"


def check_note(text: str, tags_text: str) -> tuple[str, tuple[str, ...]]:
    """The note's text and tags from the form (tags separated by commas), or NoteError."""
    text = text.strip()
    if not text:
        raise NoteError("text", "note_empty", "write the note")
    if len(text) > TEXT_MAX:
        raise NoteError("text", "note_too_long", f"at most {TEXT_MAX} characters")
    tags = tuple(dict.fromkeys(t.strip() for t in tags_text.replace("，", ",").split(",") if t.strip()))
    if len(tags) > TAGS_MAX or any(len(t) > TAG_MAX for t in tags):
        raise NoteError("tags", "bad_tags", f"at most {TAGS_MAX} tags of {TAG_MAX} characters each")
    return text, tags


def has_consent(db: Database, member_id: str) -> bool:
    row = db.one("SELECT body FROM members WHERE member_id = ?", (member_id,))
    if row is not None and json.loads(row[0]).get("notes_consent") is True:
        return True
    return db.one("SELECT member_id FROM note_consents WHERE member_id = ?", (member_id,)) is not None


def record_consent(db: Database, member_id: str, username: str) -> None:
    """The member agreed in person at the counter (a member who signed up before the notice said so)."""

    def work(db: Database) -> None:
        if db.one("SELECT member_id FROM note_consents WHERE member_id = ?", (member_id,)) is None:
            db.execute("INSERT INTO note_consents (member_id, at, username) VALUES (?, ?, ?)",
                       (member_id, now_text(), username))
            audit.record(db, username, "note.consent", f"member:{member_id}", "", {"agreed": "in person"})

    db.run(work)


def add_note(db: Database, key: NotesKey, member_id: str, text: str, tags_text: str, username: str) -> int:
    """Seal and store a note, audited (masked) in the same transaction; its id."""
    text, tags = check_note(text, tags_text)
    if not has_consent(db, member_id):
        raise NoteError("consent", "no_notes_consent", "the member has not agreed to notes")

    def work(db: Database) -> int:
        count = db.one("SELECT COUNT(*) FROM member_notes WHERE member_id = ?", (member_id,))
        if count and int(count[0]) >= NOTES_MAX:
            raise NoteError("text", "too_many_notes", f"at most {NOTES_MAX} notes a member: delete an old one first")
        row = db.one("SELECT MAX(id) FROM member_notes")
        note_id = int(row[0] or 0) + 1 if row else 1
        store = home_store(db, member_id) or HQ_STORE
        db.execute(
            "INSERT INTO member_notes (id, member_id, store, at, author, key_id, sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (note_id, member_id, store, now_text(), username, key.key_id, seal_note(key, member_id, note_id, text, tags)),
        )
        audit.record(db, username, "note.add", f"member:{member_id}", "", {"note": note_id, "text": masked(text, tags)})
        _due(db, store)
        return note_id

    return db.run(work)


def headers(db: Database, member_id: str) -> list[NoteHeader]:
    rows = db.all("SELECT id, member_id, at, author FROM member_notes WHERE member_id = ? ORDER BY id DESC",
                  (member_id,))
    return [NoteHeader(int(r[0]), r[1], r[2], r[3]) for r in rows]


def notes_of(db: Database, key: NotesKey, member_id: str) -> list[Note]:
    """The member's notes, opened (NotesKeyError when the key is not the one they were sealed with)."""
    rows = db.all(
        "SELECT id, member_id, at, author, key_id, sealed FROM member_notes WHERE member_id = ? ORDER BY id DESC",
        (member_id,),
    )
    out = []
    for note_id, mid, at, author, key_id, sealed in rows:
        text, tags = open_note(key, mid, int(note_id), key_id, sealed)
        out.append(Note(NoteHeader(int(note_id), mid, at, author), text, tags))
    return out


def delete_note(db: Database, member_id: str, note_id: int, username: str, reason: str) -> None:
    """Delete one note (on the member's request): the row goes, the audit entry of it stays."""
    reason = reason.strip()[:200] or "the member's request"

    def work(db: Database) -> None:
        row = db.one("SELECT at, author, store FROM member_notes WHERE id = ? AND member_id = ?", (note_id, member_id))
        if row is None:
            raise NoteError("note", "no_such_note", f"member {member_id} has no note {note_id}")
        db.execute("DELETE FROM member_notes WHERE id = ?", (note_id,))
        audit.record(db, username, "note.delete", f"member:{member_id}",
                     {"note": note_id, "written": row[0], "by": row[1]}, {"deleted": True, "reason": reason})
        _due(db, row[2])

    db.run(work)


def _due(db: Database, store: str) -> None:
    """The store's kiosks must get its notes again (`kiosk hq serve` publishes them:
    kiosk/hq/publisher.py). A member HQ signed up has no home store with kiosks."""
    if store != HQ_STORE:
        db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                   (f"notes_due:{store}", now_text(), now_text()))


def rotate(db: Database, old: NotesKey, new: NotesKey) -> int:
    """Seal every note again under `new`, in one transaction (all or none); how many."""

    def work(db: Database) -> int:
        rows = db.all("SELECT id, member_id, key_id, sealed FROM member_notes ORDER BY id")
        for note_id, mid, key_id, sealed in rows:
            if key_id == new.key_id:
                continue  # a rotation interrupted after its commit, run again
            bound = bound_to(mid, int(note_id))
            db.execute("UPDATE member_notes SET key_id = ?, sealed = ? WHERE id = ?",
                       (new.key_id, new.seal(old.open(sealed, bound, key_id), bound), note_id))
        audit.record(db, "cli", "notes.rotate_key", "notes", {"key": old.key_id}, {"key": new.key_id, "notes": len(rows)})
        return len(rows)

    return db.run(work)


@dataclass(frozen=True)
class NotesSection:
    """The member page's notes section as this user may see it."""

    headers: tuple[NoteHeader, ...]  # every note, without its words
    notes: tuple[Note, ...]  # opened: only for a user who may read them
    may_read: bool
    may_write: bool
    consent: bool
    problem: str = ""  # the key is missing or wrong: said on the page, the notes stay sealed


def section(
    db: Database, member_id: str, may_read: bool, may_write: bool, key_loader: Callable[[], NotesKey]
) -> NotesSection:
    """The notes for the member page; `key_loader()` gives the key (only asked when it is needed)."""
    found = tuple(headers(db, member_id))
    consent = has_consent(db, member_id)
    if not may_read or not found:
        return NotesSection(found, (), may_read, may_write, consent)
    try:
        return NotesSection(found, tuple(notes_of(db, key_loader(), member_id)), may_read, may_write, consent)
    except NotesKeyError as exc:
        return NotesSection(found, (), may_read, may_write, consent, problem=str(exc))
