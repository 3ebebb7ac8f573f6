"""HQ's retention of store deltas, on both engines: what is pruned at its boundaries (exactly the
count, exactly the age, the newest always kept, never a seq given twice after pruning), a bad
setting falling back to its default, and the answer to a resync HQ cannot serve."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.hq.delta_retention import (
    DEFAULT_KEEP_COUNT,
    DEFAULT_KEEP_DAYS,
    KEEP_COUNT_KEY,
    KEEP_DAYS_KEY,
    KeptRun,
    Retention,
    kept_run,
    prune_deltas,
    retention,
)
from kiosk.hq.publisher import Publisher, put_setting, request_snapshots
from kiosk.hq.store_feed import _keep_delta, resend_deltas
from kiosk.sync import messages as m

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Sent:
    """Stands in for the paho client: what HQ published, decoded."""

    def __init__(self):
        self.messages: list[tuple[str, m.Message]] = []

    def publish(self, topic, payload, qos=0, retain=False):
        self.messages.append((topic, m.decode(payload, topic.rsplit("/", 1)[-1])))
        return self

    def wait_for_publish(self, timeout=None):
        """(as paho's MQTTMessageInfo: published at once here)"""


def _deltas(db, store, days_ago):
    """One delta per entry, made `days_ago` days before NOW (the store's next seq each), for the
    store of a kiosk HQ knows."""
    db.run(lambda db: db.execute(
        "INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
        "VALUES (?, ?, 0, '', 0, '', '') ON CONFLICT DO NOTHING", (f"K-{store}", store)))
    for ago in days_ago:
        _keep_delta(db, store, {"D1": 0}, '{"members":[],"cards":[],"accounts":[]}', NOW - timedelta(days=ago))


def _seqs(db, store):
    return [int(s) for (s,) in db.all("SELECT seq FROM store_deltas WHERE store = ? ORDER BY seq", (store,))]


def test_the_last_count_are_kept_exactly(hq_db):
    _deltas(hq_db, "S1", [0] * 10)
    _deltas(hq_db, "S2", [0] * 3)
    assert prune_deltas(hq_db, NOW, Retention(days=30, count=3)) == 7
    assert _seqs(hq_db, "S1") == [8, 9, 10]
    assert _seqs(hq_db, "S2") == [1, 2, 3]  # exactly the count: nothing goes
    assert prune_deltas(hq_db, NOW, Retention(days=30, count=3)) == 0


def test_age_prunes_strictly_older_and_the_newest_is_always_kept(hq_db):
    _deltas(hq_db, "S1", [9, 8, 7, 7, 6])
    assert prune_deltas(hq_db, NOW, Retention(days=7, count=100)) == 2
    assert _seqs(hq_db, "S1") == [3, 4, 5]  # exactly 7 days old stays
    assert prune_deltas(hq_db, NOW + timedelta(days=30), Retention(days=7, count=100)) == 2
    assert _seqs(hq_db, "S1") == [5]  # all past the age, the newest kept
    _deltas(hq_db, "S1", [0])
    assert _seqs(hq_db, "S1") == [5, 6]  # the next seq follows it: none given twice


def test_a_round_is_bounded_and_the_next_round_goes_on(hq_db):
    _deltas(hq_db, "S1", [0] * 30)
    assert prune_deltas(hq_db, NOW, Retention(days=30, count=1), budget=12) == 12
    assert kept_run(hq_db, "S1").oldest == 13
    assert prune_deltas(hq_db, NOW, Retention(days=30, count=1), budget=100) == 17
    assert _seqs(hq_db, "S1") == [30]


@pytest.mark.parametrize(("days", "count"), [("x", "0"), ("0", "-5"), ("3651", "1e3")])
def test_a_bad_setting_is_named_and_the_default_used(hq_db, caplog, days, count):
    hq_db.run(lambda db: (put_setting(db, KEEP_DAYS_KEY, days), put_setting(db, KEEP_COUNT_KEY, count)))
    with caplog.at_level(logging.WARNING):
        assert retention(hq_db) == Retention(DEFAULT_KEEP_DAYS, DEFAULT_KEEP_COUNT)
    assert KEEP_DAYS_KEY in caplog.text and KEEP_COUNT_KEY in caplog.text


def test_good_settings_are_taken_at_their_bounds(hq_db):
    hq_db.run(lambda db: (put_setting(db, KEEP_DAYS_KEY, "1"), put_setting(db, KEEP_COUNT_KEY, "10000000")))
    assert retention(hq_db) == Retention(1, 10_000_000)


def test_one_process_prunes_per_window(hq_db):
    hq_db.run(lambda db: put_setting(db, KEEP_COUNT_KEY, "2"))
    _deltas(hq_db, "S1", [0] * 5)
    first, second = Publisher(hq_db, None), Publisher(hq_db, None)
    assert first.prune_deltas(NOW) == 3
    _deltas(hq_db, "S1", [0] * 2)
    assert second.prune_deltas(NOW) == 0  # the same minute: claimed by the first
    assert second.prune_deltas(NOW + timedelta(minutes=1)) == 2
    assert _seqs(hq_db, "S1") == [6, 7]


def test_a_resync_hq_cannot_serve_gets_deltas_unavailable(hq_db):
    _deltas(hq_db, "S1", [0] * 10)
    prune_deltas(hq_db, NOW, Retention(days=30, count=4))  # keeps 7..10

    def answer(after):
        sent = Sent()
        resend_deltas(hq_db, sent, "S1", "D1", after)
        return sent.messages

    assert [msg.seq for _, msg in answer(6)] == [7, 8, 9, 10]  # exactly the oldest next: served
    assert answer(10) == []  # up to date
    (topic, gone), = answer(5)
    assert topic.endswith("/S1/D1/deltas_unavailable")
    assert (gone.reason, gone.after, gone.oldest, gone.newest) == ("pruned", 5, 7, 10)
    (_, ahead), = answer(11)
    assert (ahead.reason, ahead.after, ahead.newest) == ("ahead", 11, 10)
    assert answer(0)[0][1].reason == "pruned"


def test_a_store_without_deltas_serves_position_zero_and_calls_any_other_ahead(hq_db):
    sent = Sent()
    resend_deltas(hq_db, sent, "S9", "D9", 0)
    assert sent.messages == []
    resend_deltas(hq_db, sent, "S9", "D9", 1)
    assert sent.messages[0][1].reason == "ahead" and kept_run(hq_db, "S9") == KeptRun(0, 0)


def test_an_hq_operation_sends_the_whole_chain_only_to_kiosks_without_a_store_feed(hq_db):
    for device in ("V1", "V2"):
        hq_db.run(lambda db, d=device: db.execute(
            "INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
            "VALUES (?, 'S1', 0, '', 0, '', '')", (d,)))
    hq_db.run(lambda db: db.execute("INSERT INTO store_snapshots (device_id, snapshot_id, idx, chunks, body) "
                                    "VALUES ('V2', 1, 0, 1, '{}')"))  # V2 loads its store's snapshot: v2
    hq_db.run(request_snapshots)
    sent = Sent()
    Publisher(hq_db, sent).publish_pending()
    assert [(topic.split("/")[3], msg.TYPE) for topic, msg in sent.messages if msg.TYPE == "snapshot"] == [("V1", "snapshot")]
