"""The kiosk drains its outbox to HQ through a real Mosquitto, and forgets only on HQ's ack."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from kiosk.sync import messages as m
from kiosk.sync.client import SyncClient, SyncSettings
from kiosk.sync.topics import DeviceTopics
from tests.sync.support import AckResponder, ManualClock, make_txns, open_store


def settings_for(broker, device="D1", **kw) -> SyncSettings:
    values = dict(
        store_id=broker.store_of(device),
        device_id=device,
        host=broker.host,
        port=broker.port,
        password=broker.password(device),
        backoff_min_s=0.1,
        backoff_max_s=0.5,
        ack_timeout_s=2.0,
        heartbeat_s=1.0,
    )
    if broker.tls:
        cert, key = broker.tls.client_certs[device]
        values.update(tls_ca=broker.tls.ca, tls_cert=cert, tls_key=key)
    values.update(kw)
    return SyncSettings(**values)


@pytest.fixture
def kiosk_store(tmp_path):
    store = open_store(tmp_path / "kiosk")
    yield store
    store.close()


def start_kiosk(store, broker, device="D1", clock=None, **kw) -> SyncClient:
    extra = {"clock": clock} if clock else {}
    client = SyncClient(store, settings_for(broker, device, data_dir=store.data_dir, **kw), **extra)
    client.start()
    return client


def assert_exactly_once_in_order(hq: AckResponder, device: str, n: int) -> None:
    assert hq.seqs(device) == list(range(1, n + 1))


def test_drains_in_order_and_forgets_only_on_ack(mosquitto, kiosk_store):
    kiosk_store.commit_many(make_txns("D1", 250))
    kiosk = start_kiosk(kiosk_store, mosquitto, batch_size=40)
    try:
        # no HQ yet: the broker PUBACKs every batch, yet nothing may be forgotten
        assert kiosk.wait_until(lambda: kiosk.counters.published_batches >= 7, 10)
        time.sleep(0.5)
        kiosk.poll()
        assert kiosk_store.outbox_depth() == 250
        assert kiosk_store.meta_get("sync.last_ack_at") is None
        hq = AckResponder(mosquitto)
        assert kiosk.wait_until(lambda: kiosk_store.outbox_depth() == 0, 20), kiosk.status()
        assert_exactly_once_in_order(hq, "D1", 250)
        assert kiosk.counters.acked == 250
        # the last HQ contact is durable, for `kiosk doctor` and the staff menu after a restart
        assert kiosk_store.meta_get("sync.last_ack_at") == kiosk.last_ack_at.isoformat()
    finally:
        kiosk.stop()


def test_status_is_retained_and_says_offline_after_stop(mosquitto, kiosk_store):
    import queue

    kiosk_store.commit_many(make_txns("D1", 3))
    kiosk = start_kiosk(kiosk_store, mosquitto)
    assert kiosk.wait_until(lambda: kiosk.counters.published_batches >= 1, 10)
    time.sleep(1.2)
    kiosk.poll()
    seen: queue.Queue = queue.Queue()
    hq = mosquitto.client("hq")
    hq.on_message = lambda c, u, msg: seen.put(m.decode(msg.payload, "status"))
    hq.subscribe("kiosk/v1/+/+/status", qos=1)
    first = seen.get(timeout=5)
    assert (first.state, first.device, first.outbox_depth) == ("online", "D1", 3)
    kiosk.stop()
    last = seen.get(timeout=5)
    assert last.state == "offline"


def test_tls_with_client_certificate_drains(mosquitto_factory, kiosk_store):
    broker = mosquitto_factory(tls=True)
    kiosk_store.commit_many(make_txns("D1", 30))
    hq = AckResponder(broker)
    kiosk = start_kiosk(kiosk_store, broker)
    try:
        assert kiosk.wait_until(lambda: kiosk_store.outbox_depth() == 0, 20)
        assert_exactly_once_in_order(hq, "D1", 30)
    finally:
        kiosk.stop()


def test_persistent_session_keeps_acks_sent_while_the_kiosk_was_away(mosquitto, kiosk_store):
    kiosk_store.commit_many(make_txns("D1", 5))
    kiosk = start_kiosk(kiosk_store, mosquitto, ack_timeout_s=60)
    assert kiosk.wait_until(lambda: kiosk.counters.published_batches >= 1, 10)
    kiosk.stop()  # clean DISCONNECT: the broker keeps the session (expiry 7 days)
    hq = mosquitto.client("hq")
    ack = m.Ack("D1", ((1, 5),), datetime.now(UTC))
    hq.publish(DeviceTopics("S1", "D1").ack, m.encode(ack), qos=1).wait_for_publish(5)
    again = start_kiosk(kiosk_store, mosquitto, ack_timeout_s=60)  # no HQ listening: only the queued ack can help
    try:
        assert again.wait_until(lambda: kiosk_store.outbox_depth() == 0, 10)
    finally:
        again.stop()


def test_heartbeat_republishes_status(mosquitto, kiosk_store):
    import queue

    seen: queue.Queue = queue.Queue()
    hq = mosquitto.client("hq")
    hq.on_message = lambda c, u, msg: seen.put(m.decode(msg.payload, "status"))
    hq.subscribe(DeviceTopics("S1", "D1").status, qos=1)
    clock = ManualClock()
    kiosk = start_kiosk(kiosk_store, mosquitto, heartbeat_s=30, clock=clock)
    try:
        assert kiosk.wait_until(lambda: kiosk.status_published, 10)
        clock.advance(29)
        kiosk.wait_until(lambda: False, 0.3)
        assert seen.qsize() <= 1  # no beat before heartbeat_s on the kiosk's clock
        for _ in range(3):
            clock.advance(30)
            kiosk.wait_until(lambda: False, 0.1)
        assert kiosk.wait_until(lambda: seen.qsize() >= 4, 5)
        beats = [seen.get_nowait() for _ in range(seen.qsize())]
        assert len(beats) == 4 and all(b.state == "online" for b in beats)
        assert beats[-1].at > beats[0].at
    finally:
        kiosk.stop()


def test_online_status_is_back_at_once_after_a_broker_restart(mosquitto, kiosk_store):
    import queue

    kiosk = start_kiosk(kiosk_store, mosquitto, heartbeat_s=600)
    try:
        assert kiosk.wait_until(lambda: kiosk.connected and kiosk.status_published, 10)
        mosquitto.kill()  # no persistence: the retained status is gone with it
        assert kiosk.wait_until(lambda: not kiosk.connected, 5)
        mosquitto.start()
        assert kiosk.wait_until(lambda: kiosk.connected, 10)
        kiosk.wait_until(lambda: False, 1.5)
        seen: queue.Queue = queue.Queue()
        hq = mosquitto.client("hq")
        hq.on_message = lambda c, u, msg: seen.put(m.decode(msg.payload, "status"))
        hq.subscribe(DeviceTopics("S1", "D1").status, qos=1)
        assert seen.get(timeout=5).state == "online"
    finally:
        kiosk.stop()


def test_certificate_identity_is_the_user_name(mosquitto_factory, kiosk_store):
    """Production set-up: no passwords; each kiosk's certificate CN is its user name, so the ACL
    binds a certificate to that kiosk's topics."""
    broker = mosquitto_factory(identity_as_username=True)
    kiosk_store.commit_many(make_txns("D1", 20))
    hq = AckResponder(broker)
    kiosk = start_kiosk(kiosk_store, broker, password="")
    try:
        assert kiosk.wait_until(lambda: kiosk_store.outbox_depth() == 0, 20)
        assert_exactly_once_in_order(hq, "D1", 20)
        import queue

        seen: queue.Queue = queue.Queue()
        watcher = broker.client("hq")
        watcher.on_message = lambda c, u, msg: seen.put(msg.topic)
        watcher.subscribe("kiosk/v1/+/+/events", qos=1)
        time.sleep(0.2)
        d2 = broker.client("D2")  # D2's certificate trying to speak as D1
        d2.publish(DeviceTopics("S1", "D1").events, b"forged", qos=1).wait_for_publish(5)
        d2.publish(DeviceTopics("S1", "D2").events, b"own", qos=1).wait_for_publish(5)
        time.sleep(0.5)
        topics = [seen.get_nowait() for _ in range(seen.qsize())]
        assert topics == ["kiosk/v1/S1/D2/events"]
    finally:
        kiosk.stop()


def test_status_carries_the_reader_and_printer_states_and_goes_out_without_them(mosquitto, kiosk_store):
    import queue

    seen: queue.Queue = queue.Queue()
    hq = mosquitto.client("hq")
    hq.on_message = lambda c, u, msg: seen.put(m.decode(msg.payload, "status"))
    hq.subscribe(DeviceTopics("S1", "D1").status, qos=1)
    kiosk = SyncClient(kiosk_store, settings_for(mosquitto, "D1", data_dir=kiosk_store.data_dir))
    kiosk.device_state = lambda: ("ok", "escpos usb: 5 printed, 0 failed")
    kiosk.start()
    try:
        assert kiosk.wait_until(lambda: seen.qsize() >= 1, 10)
        first = seen.get_nowait()
        assert (first.reader, first.printer) == ("ok", "escpos usb: 5 printed, 0 failed")
        kiosk.device_state = lambda: 1 / 0  # a broken callback never holds the status up
        assert kiosk.wait_until(lambda: seen.qsize() >= 1 and seen.queue[-1].reader == "", 10)
    finally:
        kiosk.stop()
