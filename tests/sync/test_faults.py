"""Faults with a real broker: killed and restarted mid-drain, duplicate and out-of-order acks,
a kiosk killed with a pending outbox, HQ away for 10,000 transactions. In every case: each
transaction at HQ exactly once, in order, and nothing left in the outbox."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics
from tests.sync.support import AckResponder, ManualClock, make_txns, open_store, until_moving_time
from tests.sync.test_drain import assert_exactly_once_in_order, start_kiosk

FULL = os.environ.get("KIOSK_FULL") == "1"  # bigger drains in the broker-loss tests


@pytest.mark.parametrize(
    "how,persistence",
    [("kill", False), ("kill", True), ("stop", True)],
    ids=["killed-no-persistence", "killed-persistence-autosave", "stopped-persistence"],
)
def test_broker_lost_mid_drain(mosquitto_factory, tmp_path, how, persistence):
    broker = mosquitto_factory(persistence=persistence, extra_config="autosave_interval 1" if persistence else "")
    store = open_store(tmp_path / "kiosk")
    n = 10_000 if FULL else 3000
    store.commit_many(make_txns("D1", n))
    hq = AckResponder(broker)
    kiosk = start_kiosk(store, broker, batch_size=50)
    try:
        assert kiosk.wait_until(lambda: len(hq.seqs("D1")) >= 600, 30)
        assert 0 < store.outbox_depth() < n, "the fault must strike mid-drain"
        broker.kill() if how == "kill" else broker.stop()
        time.sleep(0.5)
        kiosk.wait_until(lambda: False, 0.5)  # the kiosk keeps polling while the broker is down
        assert not kiosk.connected
        broker.start()
        assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 60), kiosk.status()
        assert_exactly_once_in_order(hq, "D1", n)
        assert kiosk.counters.resends >= 1
    finally:
        kiosk.stop()
        hq.close()
        store.close()


def test_duplicate_dropped_and_out_of_order_acks(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 600))
    hq = AckResponder(mosquitto, duplicate_acks=True, shuffle_acks=True, drop_first_acks=2)
    clock = ManualClock()
    kiosk = start_kiosk(store, mosquitto, batch_size=25, clock=clock)
    try:
        # the ack timeout (2 s on the kiosk's clock) passes whenever the drain stalls, not in real time
        assert until_moving_time(kiosk, lambda: store.outbox_depth() == 0, clock, 2.5), kiosk.status()
        assert_exactly_once_in_order(hq, "D1", 600)
        assert hq.duplicates > 0 and kiosk.counters.resends >= 1  # the dropped acks made the kiosk resend
        assert kiosk.counters.acked == 600
        assert not kiosk.counters.rejected  # duplicates and reordering are normal, not errors
    finally:
        kiosk.stop()
        hq.close()
        store.close()


def test_acks_in_any_order_forget_exactly_what_they_name(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 30))
    kiosk = start_kiosk(store, mosquitto)
    hq = mosquitto.client("hq")
    topic = DeviceTopics("S1", "D1").ack
    now = datetime.now(UTC)
    try:
        assert kiosk.wait_until(lambda: kiosk.connected and kiosk._subscribed.is_set(), 10)
        for ranges in ([(20, 25)], [(1, 3), (7, 7)], [(20, 25)], [(2, 4)]):
            hq.publish(topic, m.encode(m.Ack("D1", tuple(ranges), now)), qos=1).wait_for_publish(5)
        hq.publish(topic, m.encode(m.Ack("D1", ((29, 31),), now)), qos=1)  # 31 was never committed
        hq.publish(topic, b'{"type":"ack","v":1,"device":"D1","ranges":[[1,"2"]]}', qos=1)
        assert kiosk.wait_until(lambda: sum(kiosk.counters.rejected.values()) == 2, 10)
        left = [t.seq for t in store.outbox()]
        assert left == [5, 6] + list(range(8, 20)) + list(range(26, 31))
        assert kiosk.counters.rejected == {"out_of_date": 1, "malformed": 1}
    finally:
        kiosk.stop()
        store.close()


def test_kiosk_killed_with_pending_outbox_carries_on(mosquitto, tmp_path):
    data = tmp_path / "kiosk"
    store = open_store(data)
    n = 2000
    store.commit_many(make_txns("D1", n))
    store.close()
    hq = AckResponder(mosquitto)
    statuses: queue.Queue = queue.Queue()
    watcher = mosquitto.client("hq")
    watcher.on_message = lambda c, u, msg: statuses.put(m.decode(msg.payload, "status"))
    watcher.subscribe(DeviceTopics("S1", "D1").status, qos=1)
    cmd = [sys.executable, "-m", "tests.sync.kiosk_proc", str(data), mosquitto.host, str(mosquitto.port),
           mosquitto.password("D1"), "S1", "20"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 30
        while len(hq.seqs("D1")) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # power cut mid-drain
        proc.wait()
    finally:
        proc.kill()
    done_before = len(hq.seqs("D1"))
    assert 300 <= done_before < n
    # the broker publishes the kiosk's last will: it is offline
    deadline = time.monotonic() + 10
    last = None
    while time.monotonic() < deadline:
        try:
            last = statuses.get(timeout=0.5)
        except queue.Empty:
            continue
        if last.state == "offline":
            break
    assert last is not None and last.state == "offline"

    store = open_store(data)  # the restarted kiosk reads its outbox back from disk
    assert store.outbox_depth() <= n - done_before + 400  # acks up to the kill were kept
    kiosk = start_kiosk(store, mosquitto, batch_size=100)
    try:
        assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 60), kiosk.status()
        assert_exactly_once_in_order(hq, "D1", n)
    finally:
        kiosk.stop()
        store.close()


def test_hq_offline_for_10000_transactions_then_back(mosquitto, tmp_path):
    n = 10_000
    store = open_store(tmp_path / "kiosk")
    kiosk = start_kiosk(store, mosquitto, batch_size=100)
    try:
        txns = make_txns("D1", n)
        for start in range(0, n, 500):  # the store takes transactions while HQ is away
            store.commit_many(txns[start : start + 500])
            kiosk.poll()
        kiosk.wait_until(lambda: False, 1.0)
        assert store.outbox_depth() == n
        hq = AckResponder(mosquitto)
        started = time.monotonic()
        assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 120), kiosk.status()
        took = time.monotonic() - started
        assert_exactly_once_in_order(hq, "D1", n)
        print(f"10,000 transactions drained in {took:.1f} s")
    finally:
        kiosk.stop()
        store.close()


def test_kiosk_started_while_the_broker_is_down_connects_when_it_comes_up(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 300))
    mosquitto.kill()
    kiosk = start_kiosk(store, mosquitto, batch_size=50)
    try:
        kiosk.wait_until(lambda: False, 1.0)
        assert not kiosk.connected and "connect" in kiosk.last_error
        assert store.outbox_depth() == 300
        mosquitto.start()
        hq = AckResponder(mosquitto)
        assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 30), kiosk.status()
        assert_exactly_once_in_order(hq, "D1", 300)
    finally:
        kiosk.stop()
        store.close()


def test_store_write_failure_on_ack_is_reported_and_recovered(mosquitto, tmp_path):
    """A failed durable write (disk full) while taking HQ's ack: the kiosk keeps running,
    reports it, forgets nothing, and the resend after the ack timeout completes the drain."""
    from kiosk.store.errors import StoreWriteError

    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 120))
    real_ack = store.ack
    failures = [3]

    def flaky_ack(txn_ids):
        if failures[0] > 0:
            failures[0] -= 1
            raise StoreWriteError("journal: No space left on device")
        return real_ack(txn_ids)

    store.ack = flaky_ack
    hq = AckResponder(mosquitto)
    clock = ManualClock()
    kiosk = start_kiosk(store, mosquitto, batch_size=40, clock=clock)
    try:
        assert until_moving_time(kiosk, lambda: store.outbox_depth() == 0, clock, 2.5, timeout=30), kiosk.status()
        assert failures[0] == 0 and kiosk.counters.resends >= 1
        assert_exactly_once_in_order(hq, "D1", 120)
        assert "No space left" in kiosk.last_error
    finally:
        kiosk.stop()
        store.close()
