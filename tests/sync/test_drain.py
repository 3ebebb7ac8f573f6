"""The kiosk drains its outbox to HQ through a real Mosquitto, and forgets only on HQ's ack."""

from __future__ import annotations

import time

import pytest

from kiosk.sync import messages as m
from kiosk.sync.client import SyncClient, SyncSettings
from tests.sync.support import AckResponder, make_txns, open_store


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


def start_kiosk(store, broker, **kw) -> SyncClient:
    client = SyncClient(store, settings_for(broker, data_dir=store.data_dir, **kw))
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
        hq = AckResponder(mosquitto)
        assert kiosk.wait_until(lambda: kiosk_store.outbox_depth() == 0, 20), kiosk.status()
        assert_exactly_once_in_order(hq, "D1", 250)
        assert kiosk.counters.acked == 250
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
