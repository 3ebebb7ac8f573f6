"""Member notes go from HQ's database to the kiosks of the member's home store only, through
the real broker and its ACL: a kiosk of another store never receives them."""

from __future__ import annotations

import pytest

from kiosk.hq.console import notes
from kiosk.hq.console.sample import NewMember, seed
from kiosk.hq.db import open_database
from kiosk.hq.notes_key import new_key_text, parse_key
from kiosk.hq.publisher import Publisher
from kiosk.hq.schema import create_schema
from kiosk.sync.topics import store_topic
from tests.sync.support import open_store
from tests.sync.test_drain import start_kiosk

WORDS = "青霉素过敏 penicillin"


@pytest.fixture
def hq(tmp_path, monkeypatch):
    key_text = new_key_text().strip()
    monkeypatch.setenv("KIOSK_HQ_NOTES_KEY", key_text)
    monkeypatch.delenv("KIOSK_HQ_NOTES_KEY_FILE", raising=False)
    db = open_database(str(tmp_path / "hq.sqlite3"))
    create_schema(db)
    members = seed(db, {"D1": "S1", "D3": "S2"}, [NewMember("D1", "04A1B2C3", "13800000001", "张三"),
                                                  NewMember("D3", "04B1B2C3", "13900000001", "李四")])
    yield db, members, parse_key(key_text, "test")
    db.close()


def test_notes_reach_the_home_stores_kiosks_and_no_other(hq, mosquitto, tmp_path):
    db, members, key = hq
    s1_member, s2_member = members["04A1B2C3"], members["04B1B2C3"]
    kiosks = {}
    for device in ("D1", "D2", "D3"):  # D1 and D2 in S1, D3 in S2
        store = open_store(tmp_path / device, device)
        kiosks[device] = (start_kiosk(store, mosquitto, device), store)
    client = mosquitto.client("hq")
    try:
        for kiosk, _ in kiosks.values():
            assert kiosk.wait_until(lambda k=kiosk: k.connected and k._subscribed.is_set(), 10)
        notes.record_consent(db, s1_member, "s1")
        notes.add_note(db, key, s1_member, WORDS, "过敏", "s1")
        notes.record_consent(db, s2_member, "s2")
        notes.add_note(db, key, s2_member, "S2 的备注", "", "s2")
        due = {r[0] for r in db.all("SELECT key FROM settings WHERE key LIKE 'notes_due:%'")}
        assert due == {"notes_due:S1", "notes_due:S2"}
        assert Publisher(db, client).publish_pending() == 2
        for device in ("D1", "D2"):
            kiosk = kiosks[device][0]
            assert kiosk.wait_until(lambda k=kiosk: bool(k.notes.notes), 5), device
            assert [(n.member_id, n.text, n.tags) for n in kiosk.notes.notes] == [(s1_member, WORDS, ("过敏",))]
        other = kiosks["D3"][0]
        assert other.wait_until(lambda: bool(other.notes.notes), 5)
        assert [n.member_id for n in other.notes.notes] == [s2_member]  # its own store's only
        # and nothing of S1's reaches it, even published on S1's topic once more while it waits
        client.publish(store_topic("S1", "member_notes"), b"{}", qos=1).wait_for_publish(5)
        other.wait_until(lambda: False, 1.0)
        assert other.notes.of(s1_member) == ()
        assert sum(other.counters.rejected.values()) == 0  # it never even saw the bad one
        notes.delete_note(db, s1_member, notes.headers(db, s1_member)[0].id, "s1", "")
        assert Publisher(db, client).publish_pending() == 1
        kiosk = kiosks["D1"][0]
        assert kiosk.wait_until(lambda: kiosk.notes.notes == (), 5)  # deleted at HQ: gone at the kiosk too
        assert s2_member not in {n.member_id for d in ("D1", "D2") for n in kiosks[d][0].notes.notes}
    finally:
        for kiosk, store in kiosks.values():
            kiosk.stop()
            store.close()


def test_a_kiosk_that_starts_later_gets_the_retained_notes_and_stores_none_of_them(hq, mosquitto, tmp_path):
    db, members, key = hq
    member = members["04A1B2C3"]
    notes.record_consent(db, member, "s1")
    notes.add_note(db, key, member, WORDS, "", "s1")
    Publisher(db, mosquitto.client("hq")).publish_pending()
    store = open_store(tmp_path / "D1", "D1")
    kiosk = start_kiosk(store, mosquitto, "D1")
    try:
        assert kiosk.wait_until(lambda: bool(kiosk.notes.notes), 10)
        kiosk.poll()
    finally:
        kiosk.stop()
        store.close()
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "D1").rglob("*") if p.is_file())
    assert b"penicillin" not in on_disk and "青霉素".encode() not in on_disk
