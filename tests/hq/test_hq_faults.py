"""HQ faults with real parts: receivers as real processes killed with SIGKILL mid-drain, several
receivers sharing the fleet, HQ away while a kiosk queues 10,000 transactions. In every case:
every transaction at HQ exactly once, applied in per-kiosk order, nothing left in the outbox."""

from __future__ import annotations

import signal
import threading
import time

from kiosk.hq import ledger as hq
from kiosk.hq.embedded import start_receiver
from kiosk.ledger.state import LedgerState
from tests.fixtures.histories import many_top_ups
from tests.fixtures.hq_process import spawn_receiver
from tests.fixtures.kiosk_sender import KioskSender

OFFLINE_COUNT = 10_000


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def drain_in_background(sender: KioskSender, timeout: float):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("ok", sender.drain(timeout)), daemon=True)
    thread.start()
    return thread, result


def assert_exactly_once_in_order(db, device: str, txns) -> None:
    n = len(txns)
    assert hq.event_counts(db)[device] == (n, n, n)  # stored once each, highest n, all applied
    rows = db.all("SELECT seq FROM events WHERE device_id = ? ORDER BY seq", (device,))
    assert [r[0] for r in rows] == list(range(1, n + 1))
    reference = LedgerState()
    for t in txns:
        reference.apply(t)
    state = hq.load_state(db)
    # recent_topups and recent activity keep their order only if HQ applied in seq order.
    assert {m: state.accounts[m] for m in reference.accounts} == reference.accounts
    assert {u: state.cards[u] for u in reference.cards} == reference.cards


def test_receiver_killed_mid_batch_loses_and_doubles_nothing(mosquitto, hq_url, hq_db, tmp_path):
    txns = many_top_ups("D1", 3000, members=40)
    first = spawn_receiver(mosquitto, hq_url, tmp_path, "hq-a")
    sender = KioskSender(mosquitto, "S1", "D1", txns, batch=100, ack_timeout=2.0)
    try:
        thread, result = drain_in_background(sender, 120)
        assert wait_for(lambda: hq.event_counts(hq_db).get("D1", (0, 0, 0))[0] >= 300, 60), (tmp_path / "hq-a.log").read_text()[-2000:]
        first.send_signal(signal.SIGKILL)  # mid-drain: batches in flight, some committed, some not
        first.wait()
        killed_at = hq.event_counts(hq_db)["D1"][0]
        assert killed_at < len(txns), "the kill came too late to test anything"
        second = spawn_receiver(mosquitto, hq_url, tmp_path, "hq-b")
        thread.join(150)
        assert result.get("ok"), f"{len(sender.pending)} transactions never acknowledged"
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        sender.close()
        for proc in (first, locals().get("second")):
            if proc and proc.poll() is None:
                proc.kill()
    assert not sender.pending
    assert_exactly_once_in_order(hq_db, "D1", txns)


def test_two_receivers_share_a_fleet_and_one_is_killed(mosquitto, hq_url, hq_db, tmp_path):
    fleets = {"D1": many_top_ups("D1", 1500, members=20), "D2": many_top_ups("D2", 1500, members=20)}
    procs = [spawn_receiver(mosquitto, hq_url, tmp_path, name) for name in ("hq-a", "hq-b")]
    senders = {d: KioskSender(mosquitto, "S1", d, t, batch=50, ack_timeout=2.0) for d, t in fleets.items()}
    try:
        time.sleep(1.0)  # both subscribed: the broker now alternates batches between them
        runs = {d: drain_in_background(s, 120) for d, s in senders.items()}
        assert wait_for(lambda: sum(c[0] for c in hq.event_counts(hq_db).values()) >= 500, 60)
        procs[0].send_signal(signal.SIGKILL)
        for device, (thread, result) in runs.items():
            thread.join(150)
            assert result.get("ok"), f"{device}: {len(senders[device].pending)} never acknowledged"
    finally:
        for s in senders.values():
            s.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for device, txns in fleets.items():
        assert_exactly_once_in_order(hq_db, device, txns)


def test_hq_offline_for_10000_transactions_then_back(mosquitto, hq_url, hq_db):
    txns = many_top_ups("D1", OFFLINE_COUNT, members=100)
    sender = KioskSender(mosquitto, "S1", "D1", txns, batch=200, window=10, ack_timeout=2.0)
    thread, result = drain_in_background(sender, 240)
    time.sleep(3.0)  # HQ is away: the kiosk sends, nobody acknowledges, the outbox keeps it all
    assert len(sender.pending) == OFFLINE_COUNT and hq.event_counts(hq_db) == {}
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        thread.join(240)
    sender.close()
    assert result.get("ok"), f"{len(sender.pending)} transactions never acknowledged"
    assert_exactly_once_in_order(hq_db, "D1", txns)


def test_postgresql_crash_mid_drain_then_back(mosquitto, tmp_path):
    """The database server dies under a running receiver and stays down for seconds (many failed
    batches): the receiver reconnects when it is back, the kiosk's unacknowledged batches come
    again, and nothing is lost or doubled."""
    from kiosk.hq.db import open_database
    from kiosk.hq.schema import create_schema
    from tests.fixtures.postgres import PostgresServer

    txns = many_top_ups("D1", 2000, members=30)
    with PostgresServer() as pg:
        url = pg.create_database("crash")
        with start_receiver(url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
            sender = KioskSender(mosquitto, "S1", "D1", txns, batch=50, ack_timeout=2.0)
            thread, result = drain_in_background(sender, 120)
            assert wait_for(lambda: len(sender.pending) < 1500, 60)
            pg.restart(kill=True, down_s=6.0)
            thread.join(150)
            sender.close()
            assert receiver.error is not None  # the receiver did feel the crash
        assert result.get("ok"), f"{len(sender.pending)} never acknowledged"
        db = open_database(url)
        create_schema(db)
        assert_exactly_once_in_order(db, "D1", txns)
        db.close()
