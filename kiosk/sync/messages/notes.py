"""Member notes for the staff menu of the members' home store: `member_notes` down, retained on
that store's topic only (the broker's ACL keeps every other store's kiosks off it). The whole
store's notes in one message, so the newest retained one is all a kiosk needs; the kiosk keeps
them in memory, never on its SD card, and shows them only on the staff menu."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.spec import DOWN, MIB, STORE, Message, MessageSpec, Place, utc_text

MAX_NOTES = 20_000  # in one store's message
TEXT_MAX = 2000
TAGS_MAX = 8


@dataclass(frozen=True)
class NoteLine:
    member_id: str
    note_id: int
    at: str  # when it was written (UTC text, as HQ keeps it)
    author: str
    text: str
    tags: tuple[str, ...] = ()

    def body(self) -> dict:
        return {"member_id": self.member_id, "note_id": self.note_id, "at": self.at, "author": self.author,
                "text": self.text, "tags": list(self.tags)}


def _note(data: object, path: str) -> NoteLine:
    f = Fields("member_notes", data, path)
    member_id = f.str("member_id", 80)
    note_id = f.int("note_id", 1, 2**62)
    at = f.str("at", 40)
    author = f.str("author", 40)
    text = f.str("text", TEXT_MAX)
    tags = f.list("tags", TAGS_MAX)
    if not all(isinstance(t, str) and 0 < len(t) <= 20 for t in tags):
        raise f.fail("tags", "must be texts of 1-20 characters")
    f.done()
    return NoteLine(member_id, note_id, at, author, text, tuple(tags))


@dataclass(frozen=True)
class StoreNotes(
    Message,
    spec=MessageSpec("member_notes", DOWN, 8 * MIB, (Place(STORE, retained=True),)),
):
    """HQ -> one store's kiosks, retained: every note of the store's members. Newest version wins."""

    version: int  # increases with every publication (HQ's clock in microseconds)
    notes: tuple[NoteLine, ...]
    at: datetime

    def body(self) -> dict:
        return {"version": self.version, "notes": [n.body() for n in self.notes], "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> StoreNotes:
        version = f.int("version", 1, 2**62)
        raw = f.list("notes", MAX_NOTES)
        notes = tuple(_note(item, f"notes[{i}]") for i, item in enumerate(raw))
        return cls(version, notes, f.time("at"))

    def of(self, member_id: str) -> tuple[NoteLine, ...]:
        return tuple(n for n in self.notes if n.member_id == member_id)
