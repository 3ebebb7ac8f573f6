"""HQ's retention of the kiosks' store snapshots, on both engines: kept exactly its days (the
deltas' retention setting) and dropped a microsecond older, chunk 0 first, in bounded rounds; a
kiosk whose snapshot went still counts as following its store's feed (no whole-chain snapshot
after an HQ operation) and, asking for the rest of it, gets a new snapshot from chunk 0; the
once-a-minute housekeeping does it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.hq.delta_retention import KEEP_DAYS_KEY
from kiosk.hq.publisher import Publisher, follows_store_feed, put_setting, request_snapshots
from kiosk.hq.snapshot_retention import built_micros, prune_snapshots
from kiosk.hq.store_snapshots import answer_request
from kiosk.sync import messages as m
from tests.hq.test_hq_delta_retention import Sent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _snapshot(db, device: str, built: datetime, chunks: int = 3) -> int:
    """A kept snapshot of `chunks` chunks for a kiosk of store S1, built at `built`."""
    snapshot_id = built_micros(built)

    def keep(db):
        db.execute("INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
                   "VALUES (?, 'S1', 0, '', 0, '', '') ON CONFLICT DO NOTHING", (device,))
        db.executemany("INSERT INTO store_snapshots (device_id, snapshot_id, idx, chunks, body) VALUES (?, ?, ?, ?, ?)",
                       [(device, snapshot_id, i, chunks, "{}") for i in range(chunks)])

    db.run(keep)
    return snapshot_id


def _kept(db, device: str) -> list[int]:
    return [int(i) for (i,) in db.all("SELECT idx FROM store_snapshots WHERE device_id = ? ORDER BY idx", (device,))]


def test_a_snapshot_is_kept_exactly_its_days_and_dropped_a_microsecond_older(hq_db):
    _snapshot(hq_db, "D1", NOW - timedelta(days=7))
    _snapshot(hq_db, "D2", NOW - timedelta(days=7, microseconds=1))
    _snapshot(hq_db, "D3", NOW)
    assert prune_snapshots(hq_db, NOW, days=7) == 3
    assert (_kept(hq_db, "D1"), _kept(hq_db, "D2"), _kept(hq_db, "D3")) == ([0, 1, 2], [], [0, 1, 2])
    assert prune_snapshots(hq_db, NOW, days=7) == 0


def test_the_days_are_the_deltas_retention_setting(hq_db):
    hq_db.run(lambda db: put_setting(db, KEEP_DAYS_KEY, "2"))
    _snapshot(hq_db, "D1", NOW - timedelta(days=2, seconds=1))
    _snapshot(hq_db, "D2", NOW - timedelta(days=1))
    assert prune_snapshots(hq_db, NOW) == 3
    assert (_kept(hq_db, "D1"), _kept(hq_db, "D2")) == ([], [0, 1, 2])


def test_a_round_is_bounded_chunk_zero_goes_first_and_the_next_round_goes_on(hq_db):
    _snapshot(hq_db, "D1", NOW - timedelta(days=30), chunks=40)
    assert prune_snapshots(hq_db, NOW, days=7, budget=20) == 20
    assert _kept(hq_db, "D1") == list(range(20, 40))
    assert follows_store_feed(hq_db, "D1")
    assert prune_snapshots(hq_db, NOW, days=7, budget=20) == 20
    assert _kept(hq_db, "D1") == []


def test_a_kiosk_whose_snapshot_went_still_follows_its_store_feed_and_gets_a_new_one(hq_db):
    old = _snapshot(hq_db, "D2", NOW - timedelta(days=8), chunks=6)
    _snapshot(hq_db, "D1", NOW - timedelta(days=8))
    hq_db.run(lambda db: db.execute("INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, "
                                    "software, last_error) VALUES ('V1', 'S1', 0, '', 0, '', '')"))
    prune_snapshots(hq_db, NOW, days=7)
    assert not follows_store_feed(hq_db, "V1")
    assert follows_store_feed(hq_db, "D1") and follows_store_feed(hq_db, "D2")
    hq_db.run(request_snapshots)
    sent = Sent()
    Publisher(hq_db, sent).publish_pending()  # an HQ operation: the whole chain goes to the v1 kiosk only
    assert sorted(t.split("/")[3] for t, msg in sent.messages if msg.TYPE == "snapshot") == ["V1"]

    sent = Sent()  # D2 had stored 3 of 6 chunks and asks for the rest
    answer_request(hq_db, sent, "S1", m.SnapshotRequest("D2", old, 3, 8, NOW))
    (topic, chunk), = sent.messages
    assert topic.endswith("/S1/D2/snapshot_chunk")
    assert chunk.snapshot_id > old and chunk.index == 0  # a new load, from chunk 0


def test_the_minutes_housekeeping_prunes_the_snapshots(hq_db):
    _snapshot(hq_db, "D1", NOW - timedelta(days=8))
    assert Publisher(hq_db, None).prune_deltas(NOW) == 3
    assert _kept(hq_db, "D1") == []
