"""Member notes at HQ on SQLite and PostgreSQL: sealed at rest (the words are nowhere in the
database), a wrong key or a readable key file refused by name, rotation, consent, deletion
audited without the words."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hq.console import audit, notes
from kiosk.hq.console.notes_command import rotate_key_file
from kiosk.hq.console.sample import NewMember, seed
from kiosk.hq.notes_key import (
    NotesKeyError,
    load_key,
    new_key_text,
    open_note,
    parse_key,
    read_key_file,
    seal_note,
    write_key_file,
)

WORDS = "青霉素过敏 penicillin allergy"
TAG = "过敏史"
PEOPLE = [NewMember("K1a", "04A1B2C3", "13800000001", "张三"), NewMember("K2a", "04B1B2C3", "13900000001", "李四")]


@pytest.fixture
def chain(hq_db):
    members = seed(hq_db, {"K1a": "S1", "K2a": "S2"}, PEOPLE)
    return hq_db, members["04A1B2C3"]


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "notes.key"
    write_key_file(path, new_key_text())
    return path


def every_text(db) -> str:
    """Every text of every table HQ keeps (the notes', the audit log's and the ledger's)."""
    out = []
    for table in ("member_notes", "audit_log", "members", "events", "note_consents", "settings"):
        out.extend(str(v) for row in db.all(f"SELECT * FROM {table}") for v in row)  # noqa: S608 - fixed names
    return "\n".join(out)


def test_a_note_is_sealed_in_the_database_and_opens_with_its_key(chain, key_file, hq_url):
    db, member = chain
    key = read_key_file(key_file)
    notes.record_consent(db, member, "s1")
    note_id = notes.add_note(db, key, member, WORDS, f"{TAG}, 药店", "s1")
    opened = notes.notes_of(db, key, member)
    assert [(n.header.id, n.text, n.tags, n.header.author) for n in opened] == [(note_id, WORDS, (TAG, "药店"), "s1")]
    stored = every_text(db)
    for secret in ("青霉素", "penicillin", TAG, "药店"):
        assert secret not in stored
    added = [e for e in audit.entries(db) if e.action == "note.add"]
    assert len(added) == 1 and "[note: 24 characters, 2 tags]" in added[0].after
    if not hq_url.startswith("postgres"):
        db.close()  # the SQLite file itself, its journal and WAL: no trace of the words
        blob = b"".join(p.read_bytes() for p in Path(hq_url).parent.glob("hq.sqlite3*"))
        for secret in ("青霉素", "penicillin", TAG):
            assert secret.encode() not in blob


def test_a_wrong_key_is_refused_by_name_and_a_moved_note_does_not_open(chain, key_file):
    db, member = chain
    key = read_key_file(key_file)
    notes.record_consent(db, member, "s1")
    notes.add_note(db, key, member, WORDS, "", "s1")
    other = parse_key(new_key_text(), "$KIOSK_HQ_NOTES_KEY")
    with pytest.raises(NotesKeyError) as wrong:
        notes.notes_of(db, other, member)
    assert key.key_id in str(wrong.value) and "$KIOSK_HQ_NOTES_KEY" in str(wrong.value)
    other_member = db.one("SELECT member_id FROM members WHERE member_id <> ?", (member,))[0]
    db.run(lambda d: d.execute("UPDATE member_notes SET member_id = ?", (other_member,)))
    with pytest.raises(NotesKeyError) as moved:
        notes.notes_of(db, key, other_member)
    assert "altered or moved" in str(moved.value)


def test_a_key_file_others_may_read_is_refused_naming_the_file_and_the_fix(key_file):
    os.chmod(key_file, 0o644)
    with pytest.raises(NotesKeyError) as refused:
        read_key_file(key_file)
    assert str(key_file) in str(refused.value) and f"chmod 600 {key_file}" in str(refused.value)
    os.chmod(key_file, 0o600)
    assert read_key_file(key_file).key_id
    with pytest.raises(NotesKeyError, match="no key"):
        load_key(None, environ={})
    with pytest.raises(NotesKeyError, match="not a member-notes key"):
        load_key(None, environ={"KIOSK_HQ_NOTES_KEY": "c2hvcnQ="})
    assert "secret" not in repr(read_key_file(key_file)) and read_key_file(key_file).secret.hex() not in repr(
        read_key_file(key_file)
    )


def test_rotation_seals_every_note_again_and_replaces_the_key_file(chain, key_file, hq_url):
    db, member = chain
    old = read_key_file(key_file)
    notes.record_consent(db, member, "s1")
    for n in range(3):
        notes.add_note(db, old, member, f"{WORDS} {n}", TAG, "s1")
    count, old_id, new_id = rotate_key_file(hq_url, key_file)
    assert (count, old_id) == (3, old.key_id) and new_id != old_id
    new = read_key_file(key_file)
    assert new.key_id == new_id and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert [n.text for n in notes.notes_of(db, new, member)] == [f"{WORDS} {n}" for n in (2, 1, 0)]
    with pytest.raises(NotesKeyError):
        notes.notes_of(db, old, member)
    assert not key_file.with_name("notes.key.new").exists()
    assert [e.action for e in audit.entries(db)][0] == "notes.rotate_key"


def test_no_note_without_consent_bad_input_changes_nothing_and_deletion_is_audited(chain, key_file):
    db, member = chain
    key = read_key_file(key_file)
    with pytest.raises(notes.NoteError) as refused:
        notes.add_note(db, key, member, WORDS, "", "s1")
    assert refused.value.code == "no_notes_consent"
    notes.record_consent(db, member, "s1")
    for text, tags, code in (("  ", "", "note_empty"), ("x" * 2001, "", "note_too_long"), ("ok", "a" * 21, "bad_tags")):
        with pytest.raises(notes.NoteError) as bad:
            notes.add_note(db, key, member, text, tags, "s1")
        assert bad.value.code == code
    assert notes.headers(db, member) == []
    note_id = notes.add_note(db, key, member, "x" * 2000, ",".join(f"{n}" * 20 for n in range(8)), "s1")
    assert len(notes.notes_of(db, key, member)[0].tags) == 8  # the limits themselves are allowed
    notes.delete_note(db, member, note_id, "s1", "")
    assert notes.headers(db, member) == []
    entry = audit.entries(db)[0]
    assert (entry.action, entry.username, entry.target) == ("note.delete", "s1", f"member:{member}")
    assert "the member's request" in entry.after and str(note_id) in entry.before
    with pytest.raises(notes.NoteError):
        notes.delete_note(db, member, note_id, "s1", "")


def test_the_sqlite_file_is_what_a_thief_gets(tmp_path, key_file):
    """The same check without the fixtures' engine switch: a plain sqlite3 read of the file."""
    from kiosk.hq.db import open_database
    from kiosk.hq.schema import create_schema

    url = str(tmp_path / "plain.sqlite3")
    db = open_database(url)
    create_schema(db)
    member = seed(db, {"K1a": "S1"}, PEOPLE[:1])["04A1B2C3"]
    notes.record_consent(db, member, "s1")
    notes.add_note(db, read_key_file(key_file), member, WORDS, TAG, "s1")
    db.close()
    raw = sqlite3.connect(url)
    dump = "\n".join(raw.iterdump())
    raw.close()
    assert "member_notes" in dump and "penicillin" not in dump and TAG not in dump


def test_the_notes_command_makes_a_key_refuses_a_readable_one_and_rotates(tmp_path, capsys):
    """The command's answers in-process; the real `kiosk hq notes rotate-key` once, as an operator runs it."""
    import argparse
    import subprocess
    import sys

    from kiosk.hq.console import notes_command
    from kiosk.hq.db import open_database
    from kiosk.hq.schema import create_schema

    url = str(tmp_path / "hq.sqlite3")
    create_schema(open_database(url))
    path = tmp_path / "cli.key"

    def run(command: str, **kw) -> int:
        return notes_command.run(argparse.Namespace(db=kw.pop("db", url), notes_command=command, **kw))

    assert run("new-key", file=path) == 0 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert run("new-key", file=path) == 1 and "never overwritten" in capsys.readouterr().err
    assert run("rotate-key", key_file=path, db=str(tmp_path / "none.sqlite3")) == 1
    assert "no HQ database" in capsys.readouterr().err and not path.with_name("cli.key.new").exists()
    before = read_key_file(path).key_id
    path.chmod(0o640)
    assert run("rotate-key", key_file=path) == 1 and f"chmod 600 {path}" in capsys.readouterr().err
    path.chmod(0o600)
    done = subprocess.run([sys.executable, "-m", "kiosk", "hq", "--db", url, "notes", "rotate-key"],
                          capture_output=True, text=True, env={**os.environ, "KIOSK_HQ_NOTES_KEY_FILE": str(path)},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_key_file(path).key_id != before and "sealed 0 notes again" in done.stdout


_KEY = parse_key(new_key_text(), "test")


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300), st.lists(st.text(min_size=1, max_size=20), max_size=8),
       st.text(min_size=1, max_size=30), st.integers(1, 2**40), st.text(min_size=1, max_size=30))
def test_a_sealed_note_opens_only_as_itself(text, tags, member_id, note_id, other_member):
    sealed = seal_note(_KEY, member_id, note_id, text, tuple(tags))
    assert open_note(_KEY, member_id, note_id, _KEY.key_id, sealed) == (text, tuple(tags))
    for mid, nid in ((other_member, note_id), (member_id, note_id + 1)):
        if (mid, nid) != (member_id, note_id):
            with pytest.raises(NotesKeyError):
                open_note(_KEY, mid, nid, _KEY.key_id, sealed)
