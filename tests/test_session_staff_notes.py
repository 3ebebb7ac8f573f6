"""Member notes on the staff menu: staff open "Member notes", lift their card, the member taps
theirs and the notes HQ sent this store show there, and nowhere on the member's own screens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.sync.messages.notes import NoteLine, StoreNotes
from tests.session_support import OfflineLink, make_kiosk, staff_card

WORDS = "青霉素过敏"
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class NotesLink(OfflineLink):
    """The session's SyncLink seam with HQ's notes of this store (the sync client keeps the newest
    StoreNotes; tests/sync/test_member_notes_broker.py sends them through the real broker)."""

    def __init__(self, notes: StoreNotes) -> None:
        super().__init__(None)
        self.notes = notes

    def report_store_fault(self, reason: str) -> None:
        pass

    def member_notes(self, member_id: str) -> tuple:
        return self.notes.of(member_id)


@pytest.fixture
def kiosk(tmp_path):
    k = make_kiosk(tmp_path)
    yield k
    k.store.close()


def test_staff_see_a_members_notes_and_the_member_never_does(kiosk):
    chip = kiosk.member(name="王芳")
    member_id = kiosk.ledger.lookup(chip.uid.hex().upper())[1].member_id
    notes = StoreNotes(2, (NoteLine(member_id, 1, "2026-11-20T10:00:00Z", "s1", WORDS, ("过敏",)),
                           NoteLine("M-other", 2, "2026-11-20T10:00:00Z", "s1", "other member", ())), AT)
    kiosk.session.sync = NotesLink(notes)
    kiosk.tap(chip)  # the member's own screen: no notes anywhere in what it shows
    assert kiosk.state == "home" and WORDS not in repr(kiosk.session.view)
    kiosk.lift()
    kiosk.tap(staff_card())
    assert kiosk.state == "staff_menu" and kiosk.session.staff_notes()
    assert kiosk.state == "staff_notes" and kiosk.session.view.staff_notes.member_id == ""
    kiosk.lift()  # the staff card makes way for the member's
    assert kiosk.state == "staff_notes"
    kiosk.tap(chip)
    shown = kiosk.session.view.staff_notes
    assert (shown.member_id, shown.member_name) == (member_id, "王芳")
    assert [n.text for n in shown.notes] == [WORDS]  # only this member's
    assert kiosk.session.finish() and kiosk.state == "idle"
    assert all(WORDS not in repr(v) for v in kiosk.views if v.state != "staff_notes")


def test_a_card_that_is_no_member_here_shows_nothing(kiosk):
    kiosk.session.sync = NotesLink(StoreNotes(2, (), AT))
    kiosk.tap(staff_card())
    kiosk.session.staff_notes()
    kiosk.lift()
    kiosk.tap(kiosk.blank())
    assert kiosk.state == "staff_notes" and kiosk.session.view.message.code == "card_unknown_here"
    assert kiosk.session.view.staff_notes.member_id == ""
