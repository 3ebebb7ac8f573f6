"""The one list of message types, and the encoder and decoder built from it.

Adding a message type: write its class in the family module it belongs to (or a new one) and
add it to MESSAGES below; its topics, size limit, versions, ACL lines and the fuzz targets follow
from its spec (tests/sync/test_message_registry.py checks the rest: a sample, docs rows, handlers)."""

from __future__ import annotations

import json

from kiosk.ledger import strict_json
from kiosk.ledger.strict_json import JsonError
from kiosk.sync.messages.device import ConfigUpdate, Resync, Status
from kiosk.sync.messages.errors import (
    MALFORMED,
    NOT_JSON,
    OVERSIZED,
    UNKNOWN_TYPE,
    UNSUPPORTED_VERSION,
    WRONG_TOPIC,
    MessageError,
)
from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.holdings import BlockedDelta, BlockedList, RulesUpdate, Snapshot
from kiosk.sync.messages.incidents import Incidents, IncidentsAck
from kiosk.sync.messages.notes import StoreNotes
from kiosk.sync.messages.payments import HqPaymentRequest, PaymentConfirmation
from kiosk.sync.messages.spec import CHAIN, DEVICE, DOWN, STORE, UP, Message, MessageSpec
from kiosk.sync.messages.store_sync import (
    AccountDelta,
    DeltasUnavailable,
    MemberAnswer,
    MemberRequest,
    SnapshotChunk,
    SnapshotRequest,
)
from kiosk.sync.messages.transactions import Ack, Events

MESSAGES: tuple[type[Message], ...] = (
    Events,
    Status,
    Resync,
    HqPaymentRequest,
    Incidents,
    Ack,
    Snapshot,
    PaymentConfirmation,
    ConfigUpdate,
    BlockedList,
    IncidentsAck,
    RulesUpdate,
    BlockedDelta,
    StoreNotes,
    SnapshotRequest,
    SnapshotChunk,
    AccountDelta,
    MemberRequest,
    MemberAnswer,
    DeltasUnavailable,
)
REGISTRY: dict[str, type[Message]] = {cls.TYPE: cls for cls in MESSAGES}
assert len(REGISTRY) == len(MESSAGES), "two message classes declare the same type"

SPECS: dict[str, MessageSpec] = {name: cls.SPEC for name, cls in REGISTRY.items()}
MAX_BYTES = {name: spec.max_bytes for name, spec in SPECS.items()}
MAX_ANY = max(MAX_BYTES.values())
VERSIONS = {name: spec.versions for name, spec in SPECS.items()}


def names(direction: str, scope: str = DEVICE) -> tuple[str, ...]:
    """The message types (= topic names) travelling `direction` on topics of `scope`, in registry order."""
    return tuple(n for n, s in SPECS.items() if s.direction == direction and scope in s.scopes)


UP_TYPES = names(UP)
DOWN_TYPES = tuple(n for n, s in SPECS.items() if s.direction == DOWN)
DEVICE_DOWN = names(DOWN)
STORE_DOWN = names(DOWN, STORE)
CHAIN_DOWN = names(DOWN, CHAIN)


def to_dict(msg: Message) -> dict:
    """The JSON object of a message (with its type and schema version)."""
    spec = getattr(type(msg), "SPEC", None)
    if spec is None or REGISTRY.get(spec.type) is not type(msg):
        raise TypeError(f"not a message: {type(msg).__name__}")
    return {"type": spec.type, "v": spec.version} | msg.body()


def encode(msg: Message) -> bytes:
    """The payload bytes of a message (compact UTF-8 JSON)."""
    return json.dumps(to_dict(msg), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_json(payload: bytes, expect: str | None = None) -> dict:
    """Size check, then strict JSON (kiosk.ledger.strict_json): an object, no NaN/Infinity, no
    duplicate keys, well-formed Unicode in every string."""
    limit = MAX_BYTES.get(expect, MAX_ANY) if expect else MAX_ANY
    label = expect or ""
    if not isinstance(payload, bytes | bytearray):
        raise MessageError(label, "-", "payload must be bytes", NOT_JSON)
    if len(payload) > limit:
        raise MessageError(label, "-", f"payload of {len(payload)} bytes exceeds {limit}", OVERSIZED)
    try:
        data = strict_json.loads(payload)
    except JsonError as exc:
        raise MessageError(label, exc.path[:80] or "-", f"not valid JSON: {str(exc)[:120]}", NOT_JSON) from None
    if not isinstance(data, dict):
        raise MessageError(label, "-", "must be a JSON object", MALFORMED)
    return data


def decode(payload: bytes, expect: str | None = None) -> Message:
    """Decode and check one payload. `expect` is the type the topic carries (topics.parse_topic);
    a payload of another type is rejected as wrong_topic."""
    if expect is not None and expect not in REGISTRY:
        raise MessageError(expect, "type", "unknown message type", UNKNOWN_TYPE)
    data = parse_json(payload, expect)
    msg_type = data.get("type")
    if not isinstance(msg_type, str) or msg_type not in REGISTRY:
        raise MessageError(expect or "", "type", f"unknown message type {str(msg_type)[:40]!r}", UNKNOWN_TYPE)
    if expect is not None and msg_type != expect:
        raise MessageError(expect, "type", f"a {msg_type} message on a {expect} topic", WRONG_TOPIC)
    spec = SPECS[msg_type]
    if len(payload) > spec.max_bytes:
        raise MessageError(msg_type, "-", f"payload exceeds {spec.max_bytes} bytes", OVERSIZED)
    version = data.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MessageError(msg_type, "v", "must be an integer schema version")
    if version not in spec.versions:
        raise MessageError(
            msg_type, "v", f"schema version {version} not supported (reads {spec.versions})", UNSUPPORTED_VERSION
        )
    fields_ = Fields(msg_type, data)
    fields_.seen.update({"type", "v"})
    msg = REGISTRY[msg_type].read(fields_)
    fields_.done()
    return msg
