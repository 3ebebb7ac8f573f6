"""HQ's ledger rows: the fast row encoder writes exactly the codec's text, and a receiver that
read rows without a lock never writes over a change another writer made meanwhile."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hq import admin, rows
from kiosk.hq import ledger as hq
from kiosk.hq.db import open_database
from kiosk.hq.devices import Contacts, WrongStore, list_devices
from kiosk.hq.schema import create_schema
from kiosk.ledger.codec import decode, encode
from kiosk.ledger.model import (
    Account,
    Activity,
    Card,
    CardStatus,
    Member,
    MemberStatus,
    PointsLot,
    TopUpRecord,
)
from tests.fixtures.histories import many_top_ups

times = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
texts = st.text(max_size=12)  # any characters: quotes, backslashes, controls, CJK, astral
money = st.integers(-(10**9), 10**9)
accounts = st.builds(
    Account,
    member_id=texts,
    balance_fen=money,
    bonus_fen=money,
    lots=st.lists(st.builds(PointsLot, st.dates(), st.integers(0, 10**6)), max_size=4).map(tuple),
    lifetime_topup_fen=money,
    recent_topups=st.lists(st.builds(TopUpRecord, times, money), max_size=6).map(tuple),
    birthday_gift_years=st.lists(st.integers(1900, 2100), max_size=3).map(tuple),
    new_member_gift_given=st.booleans(),
    last_visit=st.none() | times,
    recent=st.lists(st.builds(Activity, times, texts, money, money, texts), max_size=5).map(tuple),
    last_checkin_on=st.none() | st.dates(),
    checkin_streak=st.integers(0, 400),
)
members = st.builds(
    Member,
    member_id=texts,
    name=texts,
    phone=texts,
    birthday=st.none() | st.dates(),
    joined_at=times,
    pin_hash=texts,
    status=st.sampled_from(MemberStatus),
    pin_failures=st.integers(0, 9),
    pin_locked_until=st.none() | times,
)
cards = st.builds(Card, texts, texts, st.integers(0, 65535), st.sampled_from(CardStatus), st.integers(0, 2**32 - 1))


def _codec_text(value: object) -> str:
    return json.dumps(encode(value), separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(st.one_of(accounts, members, cards))
def test_dump_is_the_codecs_text(value):
    assert rows.dump(value) == _codec_text(value)
    assert decode(type(value), json.loads(rows.dump(value))) == value


@settings(max_examples=150, deadline=None)
@given(accounts, st.builds(TopUpRecord, times, money), st.builds(Activity, times, texts, money, money, texts))
def test_dump_of_a_next_version_stays_exact(account, topup, line):
    first = rows.dump(account)
    later = replace(account, recent_topups=account.recent_topups[1:] + (topup,), recent=((line,) + account.recent)[:5])
    assert rows.dump(later) == _codec_text(later)
    assert rows.dump(account) == first


@pytest.mark.parametrize("offset", [timedelta(hours=8), timedelta(hours=-5), timedelta(0)])
def test_a_time_in_another_offset_is_written_as_the_codec_writes_it(offset):
    """The codec writes every time in UTC ending in Z; msgspec would keep the offset."""
    at = datetime(2026, 11, 2, 10, 0, 7, 120_000, tzinfo=timezone(offset))
    account = Account("M1", last_visit=at, recent_topups=(TopUpRecord(at, 500),), recent=(Activity(at, "top_up", 500, 0),))
    assert rows.dump(account) == _codec_text(account)
    assert '"last_visit":"2026-11-02T' in rows.dump(account) and "+08:00" not in rows.dump(account)


def test_a_naive_time_is_refused_as_the_codec_refuses_it():
    with pytest.raises(ValueError, match="timezone-aware"):
        rows.dump(Account("M1", last_visit=datetime(2026, 11, 2, 10, 0, 7)))


@pytest.mark.parametrize("name", ["T12:30:45-x", 'at T09:15:00"', "T07:59:59.5+", "T10:00:00Z", "T10:00:00.25Z"])
def test_texts_that_look_like_times_are_written_exactly(name):
    member = Member("M1", name, "13800000000", None, datetime(2026, 1, 1, tzinfo=UTC), "h")
    assert rows.dump(member) == _codec_text(member)


def _sign_up_and_top_up(db) -> tuple[str, str]:
    """K1 signs a member up (applied) and tops up (stored only): (member id, card uid)."""
    txns = many_top_ups("K1", 2, members=1)
    hq.store_events(db, txns[:1])
    hq.apply_pending(db, ["K1"])
    hq.store_events(db, txns[1:])
    return txns[0].member_id, txns[0].card_uid


def test_a_change_made_while_the_receiver_decides_is_kept(hq_url, monkeypatch):
    """Another writer (here HQ staff adjusting the balance, over another connection) commits
    while the receiver decides K1's top-up from rows it read without a lock: the receiver must
    notice and decide again, so both the adjustment and the top-up are in the balance."""
    db, other = open_database(hq_url), open_database(hq_url)
    create_schema(db)
    member_id, uid = _sign_up_and_top_up(db)
    decide, calls = hq.decide, []

    def decide_while_staff_adjusts(loaded, txns, device_id, *args):
        if device_id == "K1":
            calls.append(device_id)
            if len(calls) == 1:
                admin.adjust(other, uid, 700, 0, "till error", now=datetime(2026, 11, 3, tzinfo=UTC))
        return decide(loaded, txns, device_id, *args)

    monkeypatch.setattr(hq, "decide", decide_while_staff_adjusts)
    report = hq.apply_pending(db, ["K1"], wait=False)
    balance = db.one("SELECT balance_fen FROM accounts WHERE member_id = ?", (member_id,))[0]
    assert (report.applied, len(calls), balance) == (1, 2, 5000 + 700)
    assert [c.seq for c in hq.list_conflicts(db)] == [2]  # its "before" is older than the adjustment
    db.close()
    other.close()


def test_unchanged_sees_changed_and_new_rows(hq_db):
    member_id, uid = _sign_up_and_top_up(hq_db)
    loaded = rows.load_rows(hq_db, [member_id], [uid], lock=False)
    with hq_db.transaction():
        assert rows.unchanged(hq_db, loaded)
    hq_db.execute("INSERT INTO stock (reward_id, units) VALUES ('mug', 3)")
    with hq_db.transaction():
        assert not rows.unchanged(hq_db, loaded)
    loaded = rows.load_rows(hq_db, [member_id], [uid], lock=False)
    card = replace(loaded.cards[uid], uid="04AABBCC")  # a second card of the member, made elsewhere
    hq_db.execute(
        "INSERT INTO cards (uid, member_id, status, body) VALUES (?, ?, 'active', ?)", (card.uid, member_id, rows.dump(card))
    )
    with hq_db.transaction():
        assert not rows.unchanged(hq_db, loaded)


def test_contact_is_written_at_most_once_per_interval(hq_db):
    every_s, now = 5.0, [100.0]
    contacts = Contacts(every_s, clock=lambda: now[0])
    at = (datetime(2026, 11, 2, tzinfo=UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    contacts.admit(hq_db, "K1", "S1", at)  # first sight: registered at once
    assert [(d.device_id, d.store, d.last_contact) for d in list_devices(hq_db)] == [("K1", "S1", at)]
    contacts.touch_due(hq_db, [("K1", "S1")], "2026-11-02T00:00:03Z")
    assert list_devices(hq_db)[0].last_contact == at  # written 0 s ago: not again
    now[0] += every_s
    contacts.touch_due(hq_db, [("K1", "S1")], "2026-11-02T00:00:09Z")
    assert list_devices(hq_db)[0].last_contact == "2026-11-02T00:00:09Z"
    with pytest.raises(WrongStore, match="belongs to store S1, not S2"):
        contacts.admit(hq_db, "K1", "S2", at)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")), min_size=1, max_size=5))
def test_insert_many_keeps_every_character(hq_db, values):
    """PostgreSQL's insert_many goes through COPY's text format: backslashes, tabs, newlines
    and carriage returns must arrive as they were (NUL is refused by PostgreSQL text itself)."""
    hq_db.execute("DELETE FROM settings WHERE key LIKE 't-%'")
    with hq_db.transaction():
        hq_db.insert_many("settings", ("key", "value"), [(f"t-{i}", v) for i, v in enumerate(values)], "(key) DO NOTHING")
        hq_db.insert_many("settings", ("key", "value"), [("t-0", "not this")], "(key) DO NOTHING")
    stored = dict(hq_db.all("SELECT key, value FROM settings WHERE key LIKE 't-%'"))
    assert stored == {f"t-{i}": v for i, v in enumerate(values)}


def test_insert_many_after_a_rolled_back_first_use(hq_db):
    """The staging table made in a transaction that rolls back is gone: the next use makes it again."""
    with pytest.raises(RuntimeError), hq_db.transaction():
        hq_db.insert_many("settings", ("key", "value"), [("t-a", "1")], "(key) DO NOTHING")
        raise RuntimeError("rolled back")
    with hq_db.transaction():
        hq_db.insert_many("settings", ("key", "value"), [("t-b", "2")], "(key) DO NOTHING")
    assert hq_db.all("SELECT key, value FROM settings WHERE key LIKE 't-%' ORDER BY key") == [("t-b", "2")]
