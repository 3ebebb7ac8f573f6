"""docs/protocol.md's checklist for a message type, as a test over the registry: every registered
message has a sample that round-trips, a size limit that is enforced, its rows in the protocol's
tables, topics that parse back to it, the ACL and subscriptions, and a handler at the end that
receives it. Adding a message class to the registry without the rest fails here."""

from __future__ import annotations

import queue
import re
from pathlib import Path

import pytest

from kiosk.hq.broker import publish_message
from kiosk.hq.receiver import LANES
from kiosk.sync import messages as m
from kiosk.sync.client import SyncClient
from kiosk.sync.local_broker import device_acl
from kiosk.sync.messages.registry import DOWN_TYPES, UP_TYPES
from kiosk.sync.messages.spec import CHAIN, DEVICE, STORE, UP
from kiosk.sync.topics import DeviceTopics, chain_topic, hq_subscription, parse_topic, store_topic
from tests.fuzz.targets import MESSAGE_TYPES
from tests.sync.support import open_store
from tests.sync.test_drain import settings_for
from tests.sync.test_messages import samples

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
OWN = DeviceTopics("S1", "D1")
SAMPLES = {msg.TYPE: msg for msg in samples()}
TYPES = sorted(m.REGISTRY)


def _size_text(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


def _topic(name: str, scope: str, docs: bool = False) -> str:
    if scope == DEVICE:
        return f"kiosk/v1/{{s}}/{{d}}/{name}" if docs else OWN.topic(name)
    if scope == STORE:
        return f"kiosk/v1/{{s}}/_store/{name}" if docs else store_topic("S1", name)
    return f"kiosk/v1/_chain/{name}" if docs else chain_topic(name)


def _table_rows(first_cell: str) -> dict[str, list[str]]:
    """Rows of the protocol's tables whose first cell matches `first_cell`, keyed by that cell."""
    rows = {}
    for line in PROTOCOL.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_message_class_is_registered_once_with_a_spec():
    assert len(m.MESSAGES) == len(m.REGISTRY) == len(set(m.MESSAGES))
    for name, cls in m.REGISTRY.items():
        assert cls.TYPE == cls.SPEC.type == name
        assert issubclass(cls, m.Message) and cls.__dataclass_params__.frozen
    assert set(UP_TYPES) | set(DOWN_TYPES) == set(TYPES) and not set(UP_TYPES) & set(DOWN_TYPES)
    with pytest.raises(TypeError, match="spec"):
        type("Unspecified", (m.Message,), {})


@pytest.mark.parametrize("name", TYPES)
def test_has_a_sample_that_round_trips_within_its_size_limit(name):
    assert name in SAMPLES, f"add a sample {name} message to tests/sync/test_messages.py samples()"
    payload = m.encode(SAMPLES[name])
    assert len(payload) <= m.MAX_BYTES[name]
    assert m.decode(payload, name).TYPE == name
    assert m.to_dict(SAMPLES[name])["v"] == max(m.VERSIONS[name])


@pytest.mark.parametrize("name", TYPES)
def test_size_limit_is_enforced_before_parsing(name):
    limit = m.SPECS[name].max_bytes
    with pytest.raises(m.MessageError) as err:
        m.decode(b" " * (limit + 1), name)
    assert err.value.reason == m.OVERSIZED


@pytest.mark.parametrize("name", TYPES)
def test_documented_in_the_message_table_with_its_size(name):
    rows = _table_rows(r"`[a-z_]+`")
    assert name in rows, f"docs/protocol.md: add a row for `{name}` to the Messages table"
    assert rows[name][1] == _size_text(m.SPECS[name].max_bytes), f"docs/protocol.md: size of `{name}`"


@pytest.mark.parametrize("name", TYPES)
def test_documented_in_the_topic_table_where_it_is_published(name):
    spec = m.SPECS[name]
    rows = _table_rows(r"`kiosk/v1/[^`]+`")
    for place in spec.places:
        topic = _topic(name, place.scope, docs=True)
        assert topic in rows, f"docs/protocol.md: add a row for `{topic}` to the Topics table"
        _, direction, doc_type, doc_retained, *_ = rows[topic]
        assert doc_type == f"`{name}`"
        assert direction.startswith("kiosk") == (spec.direction == UP), topic
        assert doc_retained == ("yes" if place.retained else "no"), topic


def test_topic_table_has_no_unregistered_rows():
    documented = set(_table_rows(r"`kiosk/v1/[^`]+`"))
    real = {_topic(n, p.scope, docs=True) for n, s in m.SPECS.items() for p in s.places}
    assert documented == real


@pytest.mark.parametrize("name", TYPES)
def test_topics_parse_back_and_are_subscribed_and_allowed(name):
    spec = m.SPECS[name]
    subscriptions = set(OWN.kiosk_subscriptions())
    acl = device_acl("S1", "D1")
    for place in spec.places:
        topic = _topic(name, place.scope)
        parsed = parse_topic(topic)
        assert (parsed.message_type, parsed.scope, parsed.up) == (name, place.scope, spec.direction == UP)
        if spec.direction == UP:
            assert f"topic write {topic}\n" in acl
            assert hq_subscription(name).endswith(f"/+/+/{name}")
            assert topic not in subscriptions
        else:
            assert topic in subscriptions
            assert f"topic write {topic}\n" not in acl
    assert (spec.scopes == (DEVICE,)) or spec.direction != UP
    assert CHAIN in spec.scopes or STORE in spec.scopes or DEVICE in spec.scopes


def test_every_message_has_a_handler_at_its_receiving_end(tmp_path, mosquitto):
    store = open_store(tmp_path / "kiosk")
    try:
        kiosk = SyncClient(store, settings_for(mosquitto, data_dir=store.data_dir))
        assert kiosk.handled_types() == set(DOWN_TYPES), "kiosk/sync/client.py: a handler for each HQ -> kiosk type"
    finally:
        store.close()
    assert {cls.TYPE for cls in LANES} == set(UP_TYPES), "kiosk/hq/receiver.py LANES: a lane for each kiosk -> HQ type"


def test_every_message_is_a_fuzz_target():
    assert MESSAGE_TYPES == TYPES


def test_hq_publishes_with_the_specs_flags_and_only_on_the_right_topic(mosquitto):
    hq = mosquitto.client("hq")
    with pytest.raises(ValueError, match="cannot go on"):
        publish_message(hq, chain_topic("rules"), SAMPLES["blocked"])
    with pytest.raises(ValueError, match="cannot go on"):
        publish_message(hq, OWN.events, SAMPLES["events"])  # kiosk -> HQ topics are not HQ's to write
    publish_message(hq, chain_topic("blocked"), SAMPLES["blocked"])  # retained on the chain topic
    publish_message(hq, OWN.topic("blocked"), SAMPLES["blocked"])  # not retained on a device topic
    seen: queue.Queue = queue.Queue()
    late = mosquitto.client("hq")
    late.on_message = lambda c, u, msg: seen.put((msg.topic, msg.retain))
    late.subscribe([(chain_topic("blocked"), 1), (OWN.topic("blocked"), 1)])
    assert seen.get(timeout=5) == (chain_topic("blocked"), True)
    with pytest.raises(queue.Empty):
        seen.get(timeout=0.5)
