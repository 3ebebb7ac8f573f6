"""The MQTT topic layout both ends share (docs/protocol.md is the prose version).

Every topic starts with `kiosk/v1`. A device's own topics sit under its store and its id; store-wide
and chain-wide topics use a segment starting with `_`, which no store or device id can start with,
so a wildcard over devices never catches them."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.sync.ids import ID_PATTERN
from kiosk.sync.messages.registry import CHAIN_DOWN, DEVICE_DOWN, SPECS, STORE_DOWN, UP_TYPES

PREFIX = "kiosk/v1"
CHAIN = "_chain"  # kiosk/v1/_chain/...: every kiosk of the chain reads these
STORE_WIDE = "_store"  # kiosk/v1/{store}/_store/...: every kiosk of one store reads these

# A topic's last segment is the message type it carries; which types go where is each message's
# spec (kiosk/sync/messages/): these are read from the registry, never listed by hand.
UP = UP_TYPES  # kiosk -> HQ, under kiosk/v1/{store}/{device}/
DOWN = DEVICE_DOWN  # HQ -> one kiosk, under kiosk/v1/{store}/{device}/
STORE_TOPICS = STORE_DOWN  # HQ -> every kiosk of a store: kiosk/v1/{store}/_store/NAME
CHAIN_TOPICS = CHAIN_DOWN  # HQ -> every kiosk of the chain: kiosk/v1/_chain/NAME


def qos(name: str) -> int:
    """The QoS a message type is published with."""
    return SPECS[name].qos


def retained(name: str, scope: str) -> bool:
    """Whether a message type is published retained on its topic of `scope` (device/store/chain)."""
    return SPECS[name].retained(scope)


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
        return ParsedTopic("chain", rest[1], rest[1])
    if len(rest) == 3 and rest[1] == STORE_WIDE:
        check_id("store", rest[0])
        if rest[2] not in STORE_TOPICS:
            raise TopicError(topic, "unknown store topic")
        return ParsedTopic("store", rest[2], rest[2], store=rest[0])
    if len(rest) == 3:
        store, device, name = rest
        check_id("store", store)
        check_id("device", device)
        if name in UP:
            return ParsedTopic("device", name, name, store, device, up=True)
        if name in DOWN:
            return ParsedTopic("device", name, name, store, device)
        raise TopicError(topic, "unknown device topic")
    raise TopicError(topic, "wrong number of levels")
