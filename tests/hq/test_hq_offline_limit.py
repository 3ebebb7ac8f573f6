"""The offline spend limit keys on HQ's answers, not on the broker connection (issue 17): the real
sync client and the real HQ receiver on SQLite, through a real Mosquitto. With HQ stopped and the
broker kept up, nothing answers the kiosk, and after `offline.after_hours` a charge over the
limit is declined (before: connected to the broker counted as reachable, so the limit never
applied). With HQ up and the kiosk idle, HQ answers each heartbeat, and the limit never applies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.hq.embedded import start_receiver
from kiosk.session.sync_link import SyncClientLink
from kiosk.sync.client import LAST_ACK_KEY, SyncClient, SyncSettings
from tests.session_support import DEVICE, make_kiosk, till_charge
from tests.sync.support import ManualClock

pytestmark = pytest.mark.parametrize("hq_url", ["sqlite"], indirect=True)


@pytest.fixture
def broker(mosquitto_factory):
    return mosquitto_factory(devices=(("S1", DEVICE),))


@pytest.fixture
def synced(broker, hq_url, tmp_path):
    """A kiosk whose member's sign-up HQ has acknowledged, HQ still running; the sync client's
    monotonic clock stands still until the test moves it."""
    kiosk, mono = make_kiosk(tmp_path), ManualClock(1000.0)
    chip = kiosk.member(balance_fen=500_000)
    settings = SyncSettings(store_id="S1", device_id=DEVICE, host=broker.host, port=broker.port,
                            password=broker.password(DEVICE), data_dir=kiosk.data_dir, backoff_min_s=0.1,
                            backoff_max_s=0.3)
    client = SyncClient(kiosk.store, settings, now=kiosk.clock.now, clock=mono)
    with start_receiver(hq_url, broker.host, broker.port, "hq", broker.password("hq")) as hq:
        client.start()
        try:
            assert client.wait_until(lambda: kiosk.store.outbox_depth() == 0, 30), client.status()
            kiosk.session.sync = SyncClientLink(client)
            yield kiosk, chip, mono, client, hq
        finally:
            client.stop(timeout=1)


def test_hq_down_behind_a_live_broker_brings_the_offline_limit_after_exactly_after_hours(synced):
    kiosk, chip, mono, client, hq = synced
    hq.stop()
    policy = kiosk.ledger.rules.offline
    over = policy.max_spend_fen_per_card + 100
    mono.advance(policy.after_hours * 3600)
    client.wait_until(lambda: False, 0.5)  # heartbeats go out; nobody answers them
    assert client.connected, "the broker is kept up: only HQ is away"
    assert till_charge(kiosk, chip, over, "T1:A1").outcome.status == "approved"  # exactly after_hours: not yet
    mono.advance(1)
    client.wait_until(lambda: False, 0.2)
    assert client.connected
    ticket = till_charge(kiosk, chip, over, "T1:A2")
    assert (ticket.outcome.status, ticket.outcome.reason) == ("declined", "offline_limit")


def test_an_idle_kiosk_hears_hq_answer_its_heartbeat_and_the_limit_never_applies(synced):
    kiosk, chip, mono, client, _ = synced
    policy = kiosk.ledger.rules.offline
    idle = timedelta(hours=policy.after_hours, seconds=1)
    mono.advance(idle.total_seconds())
    kiosk.clock.step(idle.total_seconds())
    assert client.hq_contact.unreachable_for() == idle  # nothing to send: no ack to hear
    assert client.wait_until(lambda: client.hq_contact.unreachable_for() == timedelta(0), 10), \
        "HQ did not answer the heartbeat"
    assert kiosk.store.meta_get(LAST_ACK_KEY) == kiosk.clock.now().isoformat()  # for the count after a restart
    ticket = till_charge(kiosk, chip, policy.max_spend_fen_per_card + 100, "T1:A1")
    assert ticket.outcome.status == "approved", ticket.outcome
