"""The MQTT topic layout both ends share (docs/protocol.md is the prose version).

Every topic starts with `kiosk/v1`. A device's own topics sit under its store and its id; store-wide
and chain-wide topics use a segment starting with `_`, which no store or device id can start with,
so a wildcard over devices never catches them."""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "kiosk/v1"
CHAIN = "_chain"  # kiosk/v1/_chain/...: every kiosk of the chain reads these
STORE_WIDE = "_store"  # kiosk/v1/{store}/_store/...: every kiosk of one store reads these
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")

# Kiosk -> HQ, under kiosk/v1/{store}/{device}/: topic name -> message type
UP = {
    "events": "events",  # batches of transactions, QoS 1
    "status": "status",  # retained, QoS 1; also the last will; republished as the heartbeat
    "resync": "resync",  # "send me the full blocked list / a snapshot / the rules again", QoS 1
    "payment_request": "payment_request",  # ask the payment bridge to collect money, QoS 1
    "incidents": "incidents",  # the kiosk's incident log (blocked card seen, payment abandoned...), QoS 1
}
# HQ -> one kiosk, under kiosk/v1/{store}/{device}/
DOWN = {
    "ack": "ack",  # HQ committed these sequences, QoS 1
    "snapshot": "snapshot",  # account snapshot, QoS 1
    "payment": "payment",  # payment confirmation, QoS 1
    "config": "config",  # retained, QoS 1
    "blocked": "blocked",  # full blocked list sent to one kiosk (answer to a resync), QoS 1
    "incidents_ack": "incidents_ack",  # HQ committed the incidents before an offset, QoS 1
}
# HQ -> every kiosk of a store (kiosk/v1/{store}/_store/NAME) or of the chain (kiosk/v1/_chain/NAME)
STORE_TOPICS = {"rules": "rules"}  # retained
CHAIN_TOPICS = {
    "rules": "rules",  # retained
    "blocked": "blocked",  # retained: the full list, versioned
    "blocked_delta": "blocked_delta",  # not retained: one version step
}
RETAINED = frozenset({"status", "config", "rules", "blocked"})  # names; "blocked" only on _chain
QOS = 1  # every message type; heartbeats are status republishes and may be dropped while offline


class TopicError(ValueError):
    """A topic outside the layout; says which part is wrong."""

    def __init__(self, topic: str, problem: str):
        self.topic, self.problem = topic, problem
        super().__init__(f"topic {topic[:120]!r}: {problem}")


def check_id(kind: str, value: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise TopicError(str(value), f"{kind} id must be 1-64 letters, digits, '-' or '_' (not first)")
    return value


@dataclass(frozen=True)
class DeviceTopics:
    """All topics of one kiosk, as strings."""

    store: str
    device: str

    def __post_init__(self) -> None:
        check_id("store", self.store)
        check_id("device", self.device)

    @property
    def base(self) -> str:
        return f"{PREFIX}/{self.store}/{self.device}"

    def topic(self, name: str) -> str:
        if name not in UP and name not in DOWN:
            raise TopicError(name, "not a device topic name")
        return f"{self.base}/{name}"

    @property
    def events(self) -> str:
        return self.topic("events")

    @property
    def status(self) -> str:
        return self.topic("status")

    @property
    def resync(self) -> str:
        return self.topic("resync")

    @property
    def payment_request(self) -> str:
        return self.topic("payment_request")

    @property
    def ack(self) -> str:
        return self.topic("ack")

    @property
    def store_rules(self) -> str:
        return f"{PREFIX}/{self.store}/{STORE_WIDE}/rules"

    def kiosk_subscriptions(self) -> list[str]:
        """What a kiosk subscribes to: its own HQ->kiosk topics, its store's and the chain's."""
        own = [f"{self.base}/{name}" for name in DOWN]
        store = [f"{PREFIX}/{self.store}/{STORE_WIDE}/{name}" for name in STORE_TOPICS]
        chain = [f"{PREFIX}/{CHAIN}/{name}" for name in CHAIN_TOPICS]
        return own + store + chain


def chain_topic(name: str) -> str:
    if name not in CHAIN_TOPICS:
        raise TopicError(name, "not a chain topic name")
    return f"{PREFIX}/{CHAIN}/{name}"


def store_topic(store: str, name: str) -> str:
    if name not in STORE_TOPICS:
        raise TopicError(name, "not a store topic name")
    return f"{PREFIX}/{check_id('store', store)}/{STORE_WIDE}/{name}"


def hq_subscription(name: str, group: str = "hq") -> str:
    """The shared subscription HQ receivers use for one kiosk->HQ topic name, e.g. events."""
    if name not in UP:
        raise TopicError(name, "not a kiosk->HQ topic name")
    check_id("share group", group)
    return f"$share/{group}/{PREFIX}/+/+/{name}"


@dataclass(frozen=True)
class ParsedTopic:
    scope: str  # "device", "store" or "chain"
    name: str  # the last segment: events, ack, rules...
    message_type: str  # the message type this topic carries
    store: str = ""
    device: str = ""
    up: bool = False  # kiosk -> HQ


def parse_topic(topic: str) -> ParsedTopic:
    """Split a received topic and name the message type it must carry; TopicError otherwise."""
    if not isinstance(topic, str) or len(topic) > 300:
        raise TopicError(str(topic)[:120], "not a topic string of at most 300 characters")
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != PREFIX:
        raise TopicError(topic, f"must start with {PREFIX}/")
    rest = parts[2:]
    if len(rest) == 2 and rest[0] == CHAIN:
        if rest[1] not in CHAIN_TOPICS:
            raise TopicError(topic, "unknown chain topic")
        return ParsedTopic("chain", rest[1], CHAIN_TOPICS[rest[1]])
    if len(rest) == 3 and rest[1] == STORE_WIDE:
        check_id("store", rest[0])
        if rest[2] not in STORE_TOPICS:
            raise TopicError(topic, "unknown store topic")
        return ParsedTopic("store", rest[2], STORE_TOPICS[rest[2]], store=rest[0])
    if len(rest) == 3:
        store, device, name = rest
        check_id("store", store)
        check_id("device", device)
        if name in UP:
            return ParsedTopic("device", name, UP[name], store, device, up=True)
        if name in DOWN:
            return ParsedTopic("device", name, DOWN[name], store, device)
        raise TopicError(topic, "unknown device topic")
    raise TopicError(topic, "wrong number of levels")
