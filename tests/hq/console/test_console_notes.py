"""Member notes in the console, over plain HTTP against the real server on SQLite and
PostgreSQL: a store manager writes and reads their own store's members' notes only, an auditor
sees who and when but never the words, a deletion is audited, and a missing key is said on the
page while the notes stay sealed."""

from __future__ import annotations

import re

import pytest

from kiosk.hq.notes_key import new_key_text
from tests.hq.console.conftest import csrf_of, http_client

S1_MEMBER, S2_MEMBER = "M-K1a-1", "M-K2a-1"
WORDS = "青霉素过敏，忌头孢"


@pytest.fixture(autouse=True)
def notes_key(monkeypatch):
    monkeypatch.delenv("KIOSK_HQ_NOTES_KEY_FILE", raising=False)
    monkeypatch.setenv("KIOSK_HQ_NOTES_KEY", new_key_text().strip())


@pytest.fixture(params=["sqlite", "postgresql"])
def any_console(request):
    return request.getfixturevalue("console" if request.param == "sqlite" else "console_pg")


def english(client):
    client.get("/lang/en?next=/")
    return client


def post(client, path: str, **data) -> str:
    answer = client.post(path, data={"csrf": csrf_of(client), **data})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_notes_by_role_and_store_with_consent_and_audited_deletion(any_console, monkeypatch):
    console = any_console
    s1, s2, aud, fin = (english(http_client(console.url, n)) for n in ("s1", "s2", "aud", "fin"))
    page = s1.get(f"/members/{S1_MEMBER}").text
    assert "has not agreed to notes" in page  # signed up before the notice had the line
    assert "error=no_notes_consent" in post(s1, f"/members/{S1_MEMBER}/notes", text=WORDS)
    assert "done=note_consent" in post(s1, f"/members/{S1_MEMBER}/notes/consent")
    assert "done=note_added" in post(s1, f"/members/{S1_MEMBER}/notes", text=WORDS, tags="过敏, 药店")
    page = s1.get(f"/members/{S1_MEMBER}").text
    assert WORDS in page and "过敏" in page
    assert s2.get(f"/members/{S1_MEMBER}").status_code == 403  # another store's manager: not even the page
    assert s2.post(f"/members/{S1_MEMBER}/notes", data={"csrf": csrf_of(s2), "text": "x"}).status_code == 403
    audited = aud.get(f"/members/{S1_MEMBER}").text
    assert "青霉素" not in audited and "not shown to your role" in audited and "s1" in audited
    assert "Member notes" not in fin.get(f"/members/{S1_MEMBER}").text  # finance: no notes section at all
    db = console.db()
    note_id = db.one("SELECT id FROM member_notes WHERE member_id = ?", (S1_MEMBER,))[0]
    assert "青霉素" not in str(db.all("SELECT * FROM member_notes")) + str(db.all("SELECT * FROM audit_log"))
    db.close()
    monkeypatch.setenv("KIOSK_HQ_NOTES_KEY", new_key_text().strip())  # the wrong key
    page = s1.get(f"/members/{S1_MEMBER}").text
    assert "青霉素" not in page and "sealed with key" in page
    assert "done=note_deleted" in post(s1, f"/members/{S1_MEMBER}/notes/{note_id}/delete", reason="会员本人要求")
    audit_page = english(http_client(console.url, "admin")).get("/audit").text
    assert "note.delete" in audit_page and "会员本人要求" in audit_page and "青霉素" not in audit_page
    assert not re.search(r"notes/\d+/delete", s1.get(f"/members/{S1_MEMBER}").text)


def test_a_store_manager_writes_a_note_in_the_browser(console, page, tmp_path):
    from tests.hq.console.conftest import sign_in
    from tests.hq.console.test_console_browser import shot

    sign_in(page, console.url, "s1")
    page.goto(f"{console.url}/members/{S1_MEMBER}")
    page.click("button[value=consent]")
    page.fill("textarea[name=text]", "Allergic to penicillin; prefers unscented products.")
    page.fill("input[name=tags]", "allergy, preference")
    page.click("button[value=add_note]")
    row = page.locator("table.notes tbody tr")
    assert row.count() == 1 and "penicillin" in row.inner_text() and "allergy" in row.inner_text()
    shot(page, tmp_path, "member_notes")
