"""The offline spend limit's timer (offline.after_hours) runs on the monotonic clock while the
kiosk runs (kiosk/sync/hq_contact.py), so a wall-clock step neither brings the limit early nor
lifts it: the real sync client hears HQ (a real Mosquitto, an HQ that acks), the broker dies,
the wall clock steps as in tests/test_clock_steps.py, and a till charge over the offline limit
is taken or declined by how long HQ has really been away. Across a restart the wall clock is the
only link, taken once at start."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kiosk.session.sync_link import SyncClientLink
from kiosk.sync.client import LAST_ACK_KEY, SyncClient, SyncSettings
from kiosk.sync.hq_contact import UNKNOWN, HqContact
from tests.session_support import DEVICE, make_kiosk, till_charge
from tests.sync.support import AckResponder, ManualClock

T = datetime.fromisoformat("2026-12-07T06:00:00+00:00")
HOUR = timedelta(hours=1)
STEPS = {"back a day": -timedelta(days=1), "forward a year": timedelta(days=365),
         "to 1970": datetime.fromisoformat("1970-01-01T00:00:30+00:00") - T}


@pytest.fixture
def broker(mosquitto_factory):
    return mosquitto_factory(devices=(("S1", DEVICE),))


def _client(kiosk, broker, mono: ManualClock) -> SyncClient:
    settings = SyncSettings(store_id="S1", device_id=DEVICE, host=broker.host, port=broker.port,
                            password=broker.password(DEVICE), data_dir=kiosk.data_dir, backoff_min_s=0.1,
                            backoff_max_s=0.3)
    return SyncClient(kiosk.store, settings, now=kiosk.clock.now, clock=mono)


@pytest.fixture
def away(broker, tmp_path):
    """A kiosk whose sync client heard HQ's ack at mono 1000.0 and then lost the broker."""
    kiosk = make_kiosk(tmp_path)
    mono = ManualClock(1000.0)
    hq = AckResponder(broker)
    chip = kiosk.member(balance_fen=500_000)
    client = _client(kiosk, broker, mono)
    client.start()
    try:
        assert client.wait_until(lambda: kiosk.store.outbox_depth() == 0, 30), client.status()
        broker.kill()
        assert client.wait_until(lambda: not client.connected, 10)
        kiosk.session.sync = SyncClientLink(client)
        yield kiosk, chip, mono
    finally:
        client.stop(timeout=1)
        hq.close()


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS)
def test_a_wall_clock_step_does_not_bring_the_offline_limit(away, step):
    """HQ away for minutes, the wall clock steps: a charge over the offline limit is still
    approved (before: a step forward of a year made it "offline for a year"; a step back made the
    duration negative, read as "not known", and the limit applied too)."""
    kiosk, chip, mono = away
    over = kiosk.ledger.rules.offline.max_spend_fen_per_card + 100
    mono.advance(600)
    kiosk.clock.step(step.total_seconds())
    ticket = till_charge(kiosk, chip, over, "T1:A1")
    assert ticket.outcome.status == "approved", ticket.outcome


def test_the_limit_applies_after_exactly_after_hours_of_monotonic_time_and_not_before(away):
    kiosk, chip, mono = away
    policy = kiosk.ledger.rules.offline
    kiosk.clock.step(-timedelta(days=3).total_seconds())  # the wall clock says nothing here
    mono.advance(policy.after_hours * 3600)
    assert till_charge(kiosk, chip, policy.max_spend_fen_per_card + 100, "T1:A1").outcome.status == "approved"
    mono.advance(1)
    ticket = till_charge(kiosk, chip, policy.max_spend_fen_per_card + 100, "T1:A2")
    assert (ticket.outcome.status, ticket.outcome.reason) == ("declined", "offline_limit")


# -- across a restart: the wall clock, once, at start --------------------------------------------


def test_at_start_the_time_since_hqs_saved_ack_counts_then_the_monotonic_clock_adds():
    mono = ManualClock(50.0)
    contact = HqContact(mono, last_ack_at=T - 2 * HOUR, started_at=T)
    assert contact.unreachable_for() == 2 * HOUR
    mono.advance(30)
    assert contact.unreachable_for() == 2 * HOUR + timedelta(seconds=30)
    contact.heard()
    assert contact.unreachable_for() == timedelta(0)
    mono.advance(7)
    assert contact.unreachable_for() == timedelta(seconds=7)


@pytest.mark.parametrize(("last_ack_at", "started_at"), [(None, T), (T + timedelta(seconds=1), T),
                                                        (T, STEPS["to 1970"] + T)])
def test_never_heard_or_a_start_before_hqs_last_ack_is_not_known_and_the_limit_applies(last_ack_at, started_at):
    contact = HqContact(ManualClock(), last_ack_at=last_ack_at, started_at=started_at)
    assert contact.unreachable_for() >= UNKNOWN


def test_a_start_exactly_at_hqs_last_ack_is_zero():
    assert HqContact(ManualClock(), last_ack_at=T, started_at=T).unreachable_for() == timedelta(0)


def test_a_restart_on_a_clock_before_hqs_saved_ack_keeps_the_offline_limit(tmp_path, broker):
    """HQ's last ack was 'tomorrow' (the clock went back a day across the restart): how long is
    not known, so the limit applies until HQ answers."""
    kiosk = make_kiosk(tmp_path)
    chip = kiosk.member(balance_fen=500_000)
    kiosk.store.meta_put(LAST_ACK_KEY, (kiosk.clock.now() + timedelta(days=1)).isoformat())
    kiosk.session.sync = SyncClientLink(_client(kiosk, broker, ManualClock()))  # not started: offline
    ticket = till_charge(kiosk, chip, kiosk.ledger.rules.offline.max_spend_fen_per_card + 100, "T1:A1")
    assert (ticket.outcome.status, ticket.outcome.reason) == ("declined", "offline_limit")


def test_the_sync_client_takes_the_saved_ack_time_at_start(tmp_path, broker):
    """A restart: the store remembers HQ's last ack; the new client starts counting from it."""
    kiosk = make_kiosk(tmp_path)
    kiosk.store.meta_put(LAST_ACK_KEY, (kiosk.clock.now() - 5 * HOUR).isoformat())
    client = _client(kiosk, broker, ManualClock())
    assert client.hq_contact.unreachable_for() == 5 * HOUR
    assert SyncClientLink(client).offline_for(kiosk.clock.now() + 1000 * HOUR) == 5 * HOUR  # not connected


def test_connected_to_the_broker_counts_as_online_only_while_hq_answers():
    """At exactly `answers_within` since HQ's last answer it is still online; a second later the
    time since that answer is what the limit is judged by, broker connection or not."""
    mono, grace = ManualClock(), timedelta(seconds=150)
    contact = HqContact(mono, last_ack_at=T, started_at=T)
    mono.advance(150)
    assert contact.offline_for(connected=True, answers_within=grace) is None
    assert contact.offline_for(connected=False, answers_within=grace) == grace
    mono.advance(1)
    assert contact.offline_for(connected=True, answers_within=grace) == grace + timedelta(seconds=1)


def test_hqs_answers_are_saved_for_a_restart_at_most_every_ten_minutes():
    mono = ManualClock()
    contact = HqContact(mono, last_ack_at=None, started_at=T)
    assert contact.heard() is True
    mono.advance(599.9)
    assert contact.heard() is False
    mono.advance(0.1)
    assert contact.heard() is True
