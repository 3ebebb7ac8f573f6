"""Whatever bytes arrive on whatever topic, the receiver's validation either yields a checked
message for the topic's own device or rejects it with a reason: it never raises, never lets a
payload speak for another device."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hq.broker import BrokerSettings
from kiosk.hq.receiver import Receiver
from kiosk.sync import messages as m
from tests.fixtures.histories import many_top_ups

GOOD = m.encode(m.Events("D1", tuple(many_top_ups("D1", 3)), datetime.now(UTC)))
STATUS = m.encode(m.Status("D1", "S1", "online", "k", 1, datetime.now(UTC)))
TOPICS = [
    "kiosk/v1/S1/D1/events", "kiosk/v1/S1/D2/events", "kiosk/v1/S1/D1/status", "kiosk/v1/S1/D1/resync",
    "kiosk/v1/S1/D1/ack", "kiosk/v1/S1/hq/events", "kiosk/v1/_chain/blocked", "kiosk/v1/S1/D1/events/x",
    "kiosk/v2/S1/D1/events", "", "kiosk/v1/S1/-D1/events",
]


@dataclass
class FakeMessage:  # what paho hands on_message: a topic, bytes, flags
    topic: str
    payload: bytes
    retain: bool = False
    mid: int = 1
    qos: int = 1


def _mutations(draw_bytes: bytes, base: bytes, cut: int) -> list[bytes]:
    doc = json.loads(base)
    doc["device"] = "D2"
    return [draw_bytes, base[:cut], base[cut:], json.dumps(doc).encode(), base.replace(b'"seq":2', b'"seq":5')]


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(TOPICS),
    raw=st.binary(max_size=300),
    cut=st.integers(0, 400),
    which=st.integers(0, 6),
    retain=st.booleans(),
)
def test_any_message_is_parsed_for_its_own_device_or_rejected(topic, raw, cut, which, retain):
    receiver = Receiver(":memory:", BrokerSettings("localhost"))
    payloads = _mutations(raw, GOOD, cut) + [GOOD, STATUS]
    payload = payloads[which % len(payloads)]
    parsed = receiver._parse([FakeMessage(topic, payload, retain)])
    accepted = parsed.events + parsed.statuses + parsed.resyncs + parsed.payments + parsed.incidents
    assert len(accepted) + sum(receiver.stats.rejected.values()) == 1
    for store, events in parsed.events:
        assert topic == f"kiosk/v1/{store}/{events.device}/events"
        assert all(t.device_id == events.device for t in events.txns)
    for store, status, was_retained in parsed.statuses:
        assert topic == f"kiosk/v1/{store}/{status.device}/status" and was_retained == retain
