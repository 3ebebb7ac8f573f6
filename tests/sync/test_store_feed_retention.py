"""Protocol v2's deltas past HQ's retention, through the real broker and the real HQ receiver: a kiosk
off longer than HQ keeps its store's deltas comes back, is told `deltas_unavailable`, loads a fresh
store snapshot (its own offline sales kept and sent) and ends equal to HQ; a kiosk whose position is
ahead of HQ's (HQ restored from a backup) does the same instead of taking HQ's new deltas for
repeats."""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.hq.admin import adjust
from kiosk.hq.delta_retention import KEEP_COUNT_KEY, kept_run, prune_deltas
from kiosk.hq.embedded import start_receiver
from kiosk.hq.ledger import load_state
from kiosk.hq.publisher import put_setting
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics
from tests.sync.support import T0, make_txns, open_store
from tests.sync.test_drain import start_kiosk

MEMBERS = 30


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "hq.sqlite3")
    return request.getfixturevalue("postgres_dsn")


def _receiver(url, broker):
    return start_receiver(url, broker.host, broker.port, "hq", broker.password("hq"))


def _uid_of(state, member_id):
    return sorted(c for c, v in state.cards.items() if v.member_id == member_id)[0]


def hq_changes(hq, ids, count):
    """`count` adjustments at HQ on the store's members, each published as a delta of its own."""
    for i in range(count):
        before = kept_run(hq.admin_db, "S1").newest
        adjust(hq.admin_db, _uid_of(load_state(hq.admin_db), ids[i % len(ids)]), 100 + i, 0, "test: a correction")
        deadline = time.monotonic() + 15
        while kept_run(hq.admin_db, "S1").newest == before:
            assert time.monotonic() < deadline, "HQ published no delta"
            time.sleep(0.05)


def session_expires(broker, device):
    """The broker forgets the kiosk's session (its 7-day expiry passed), and the deltas it queued."""
    client = broker.client(device, client_id=device, clean_start=True)
    client.disconnect()
    client.loop_stop()


def _equal_to_hq(kiosk, store, hq, timeout=40):
    def same():
        ids = sorted(store.ledger.state.accounts)
        hq_accounts = load_state(hq.admin_db).accounts
        return store.outbox_depth() == 0 and {i: store.ledger.state.accounts[i] for i in ids} == {
            i: hq_accounts[i] for i in ids}

    assert kiosk.wait_until(same, timeout), kiosk.status()


def _load_first_snapshot(hq, store, broker):
    put_setting(hq.admin_db, "snapshot_chunk_bytes", "2048")  # a few chunks for 30 members
    kiosk = start_kiosk(store, broker, store_replica=True)
    assert kiosk.wait_until(lambda: store.hq_feed.snapshot_id > 0 and store.outbox_depth() == 0, 30), kiosk.status()
    return kiosk


def test_a_kiosk_off_past_the_retention_loads_a_fresh_snapshot_and_ends_equal_to_hq(mosquitto, tmp_path, hq_url):
    store = open_store(tmp_path / "d1")
    store.commit_many(make_txns("D1", MEMBERS, members=MEMBERS))
    with _receiver(hq_url, mosquitto) as hq:
        kiosk = _load_first_snapshot(hq, store, mosquitto)
        ids = sorted(store.ledger.state.accounts)
        hq_changes(hq, ids, 2)
        _equal_to_hq(kiosk, store, hq)
        kiosk.stop()
        first, away_at = store.hq_feed, store.hq_feed.delta_seq

        # off for longer than HQ keeps the deltas: HQ changes members, the kiosk sells offline
        hq_changes(hq, ids, 4)
        own = store.ledger.top_up(_uid_of(store.ledger.state, ids[0]), 3300, "P-offline", T0 + timedelta(days=40))
        store.commit(own)
        session_expires(mosquitto, "D1")
        put_setting(hq.admin_db, KEEP_COUNT_KEY, "2")
        assert prune_deltas(hq.admin_db, datetime.now(UTC)) > 0
        assert kept_run(hq.admin_db, "S1").oldest > away_at + 1  # the deltas it needs are gone

        kiosk = start_kiosk(store, mosquitto, store_replica=True)
        try:
            assert kiosk.wait_until(lambda: store.hq_feed.snapshot_id > first.snapshot_id, 30), kiosk.status()
            _equal_to_hq(kiosk, store, hq)
            assert load_state(hq.admin_db).last_seq["D1"] == own.seq  # its offline sale reached HQ once
            assert store.hq_feed.delta_seq >= kept_run(hq.admin_db, "S1").newest - 1
            assert not kiosk.counters.rejected
        finally:
            kiosk.stop()
    store.close()


def test_a_kiosk_ahead_of_a_restored_hq_loads_a_fresh_snapshot_instead_of_skipping(mosquitto, tmp_path):
    url = tmp_path / "hq.sqlite3"
    backup = tmp_path / "hq-backup.sqlite3"
    store = open_store(tmp_path / "d1")
    store.commit_many(make_txns("D1", MEMBERS, members=MEMBERS))
    with _receiver(url, mosquitto) as hq:
        kiosk = _load_first_snapshot(hq, store, mosquitto)
        ids = sorted(store.ledger.state.accounts)
        source, copy = sqlite3.connect(url), sqlite3.connect(backup)
        source.backup(copy)  # a backup taken while HQ runs (SQLite's online backup)
        source.close()
        copy.close()
        hq_changes(hq, ids, 3)
        _equal_to_hq(kiosk, store, hq)
    ahead_at = store.hq_feed.delta_seq
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"hq.sqlite3{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, url)  # HQ restored from the backup: its deltas stop below the kiosk's position
    try:
        with _receiver(url, mosquitto) as hq:
            assert kept_run(hq.admin_db, "S1").newest < ahead_at
            hq_changes(hq, ids[5:], 1)  # HQ numbers a new delta the kiosk would take for a repeat
            newest = kept_run(hq.admin_db, "S1").newest
            assert newest <= ahead_at
            assert kiosk.wait_until(lambda: store.hq_feed.delta_seq == newest, 30), (store.hq_feed, newest)
            _equal_to_hq(kiosk, store, hq)
    finally:
        kiosk.stop()
        store.close()


def test_an_answer_for_another_store_or_a_position_left_changes_nothing(mosquitto, tmp_path):
    store = open_store(tmp_path / "d1")
    store.commit_many(make_txns("D1", MEMBERS, members=MEMBERS))
    with _receiver(str(tmp_path / "hq.sqlite3"), mosquitto) as hq:
        kiosk = _load_first_snapshot(hq, store, mosquitto)
    feed = store.hq_feed  # HQ is gone now: whatever comes is the test's
    asked: list[m.Message] = []
    hq_client = mosquitto.client("hq")
    hq_client.on_message = lambda _c, _u, msg: asked.append(m.decode(msg.payload, "snapshot_request"))
    hq_client.subscribe(DeviceTopics("S1", "D1").topic("snapshot_request"), qos=1)
    topic = DeviceTopics("S1", "D1").topic("deltas_unavailable")

    def answer(store_id, after):
        msg = m.DeltasUnavailable(store_id, after, after + 5, after + 9, "pruned", datetime.now(UTC))
        hq_client.publish(topic, m.encode(msg), qos=1).wait_for_publish(5)
        kiosk.wait_until(lambda: False, 0.5)  # let the kiosk take it in

    try:
        answer("S2", feed.delta_seq)
        answer("S1", feed.delta_seq + 3)  # an answer to a position the kiosk has left
        assert kiosk.counters.rejected == {m.WRONG_TOPIC: 1}
        assert asked == [] and store.hq_feed == feed and store.loading.progress.chunks == 0
        answer("S1", feed.delta_seq)
        assert kiosk.wait_until(lambda: len(asked) == 1, 5)
        assert (asked[0].snapshot_id, asked[0].first) == (0, 0)  # a fresh snapshot, from its first chunk
    finally:
        kiosk.stop()
        hq_client.loop_stop()
        hq_client.disconnect()
        store.close()
