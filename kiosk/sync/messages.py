"""Every MQTT message type, its schema version, its encoder and its strict decoder.

A payload is a UTF-8 JSON object {"type": ..., "v": ..., ...fields}. Decoding checks the size
first, then the JSON (no NaN, no duplicate keys), then every field; any problem raises
MessageError naming the message type, the field and the reason, and builds nothing. Both ends
(kiosk and HQ) use these functions, so a message one side accepts the other side produced."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kiosk.ledger import strict_json
from kiosk.ledger.codec import CodecError, state_from_dict, state_to_dict
from kiosk.ledger.rules import MAX_FEN, Rules, RulesError, parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.strict_json import JsonError
from kiosk.ledger.txn import Txn, TxnFormatError, txn_from_dict, txn_to_dict
from kiosk.ledger.uid import is_card_uid
from kiosk.sync.topics import ID_PATTERN

MAX_BATCH = 1000  # transactions in one events message
MAX_BLOCKED = 500_000  # uids in one full blocked list
MAX_ACKED = 1_000_000  # sequences one ack may cover
MAX_TEXT = 200
# Largest payload accepted per message type (bytes); anything bigger is rejected unread.
MAX_BYTES = {
    "events": 2 * 1024 * 1024,
    "status": 16 * 1024,
    "resync": 4 * 1024,
    "payment_request": 4 * 1024,
    "ack": 64 * 1024,
    "rules": 1024 * 1024,
    "snapshot": 64 * 1024 * 1024,
    "blocked": 16 * 1024 * 1024,
    "blocked_delta": 1024 * 1024,
    "payment": 4 * 1024,
    "config": 4 * 1024,
    "incidents": 512 * 1024,
    "incidents_ack": 4 * 1024,
}
MAX_ANY = max(MAX_BYTES.values())
# The schema versions this code reads; it writes the highest.
VERSIONS = {name: (1,) for name in MAX_BYTES}

# Reasons a message is rejected; the kiosk counts them in its status under these names.
OVERSIZED = "oversized"
NOT_JSON = "not_json"
MALFORMED = "malformed"
UNKNOWN_TYPE = "unknown_type"
UNSUPPORTED_VERSION = "unsupported_version"
WRONG_TOPIC = "wrong_topic"
OUT_OF_DATE = "out_of_date"  # decided by the receiver (versions, sequences), not the decoder
REASONS = (OVERSIZED, NOT_JSON, MALFORMED, UNKNOWN_TYPE, UNSUPPORTED_VERSION, WRONG_TOPIC, OUT_OF_DATE)


class MessageError(ValueError):
    """A message that does not follow its schema. `field` is a dotted path, e.g. txns[3].seq."""

    def __init__(self, msg_type: str, field_name: str, problem: str, reason: str = MALFORMED):
        self.msg_type, self.field, self.problem, self.reason = msg_type, field_name, problem, reason
        super().__init__(f"{msg_type or 'message'}: {field_name}: {problem}")


# ---------------------------------------------------------------- the message values


@dataclass(frozen=True)
class Events:
    """Kiosk -> HQ: consecutive transactions of one device, in seq order."""

    device: str
    txns: tuple[Txn, ...]
    sent_at: datetime
    TYPE = "events"

    @property
    def first_seq(self) -> int:
        return self.txns[0].seq

    @property
    def last_seq(self) -> int:
        return self.txns[-1].seq


@dataclass(frozen=True)
class Status:
    """Kiosk -> HQ, retained: how the kiosk is. The last will carries state "offline"."""

    device: str
    store: str
    state: str  # "online" | "offline"
    software: str
    outbox_depth: int
    at: datetime
    last_error: str = ""
    money_paused: str = ""  # why new money transactions are refused ("" when they are not)
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> messages rejected since start
    rules_version: int = 0
    blocked_version: int = 0
    last_ack_at: datetime | None = None
    TYPE = "status"


STATES = ("online", "offline")


@dataclass(frozen=True)
class Resync:
    """Kiosk -> HQ: please send the full `what` again (after a gap or a rejected update)."""

    device: str
    what: str  # "blocked" | "snapshot" | "rules" | "config"
    have_version: int
    reason: str
    at: datetime
    TYPE = "resync"


RESYNC_WHAT = ("blocked", "snapshot", "rules", "config")


@dataclass(frozen=True)
class PaymentRequest:
    """Kiosk -> HQ's payment bridge: collect `amount_fen` for `payment_ref`."""

    device: str
    payment_ref: str
    amount_fen: int
    method: str  # e.g. "qr", "card_terminal"
    at: datetime
    TYPE = "payment_request"


@dataclass(frozen=True)
class Ack:
    """HQ -> kiosk: HQ has durably committed these sequences of this device (inclusive ranges).

    `expect_seq`, when given, is HQ's applied high water + 1 (informational: HQ may hold later
    seqs committed but not yet applied); resends are driven by the kiosk's ack timeout."""

    device: str
    ranges: tuple[tuple[int, int], ...]
    at: datetime
    expect_seq: int = 0  # 0: not given
    TYPE = "ack"

    def seqs(self) -> list[int]:
        return [s for lo, hi in self.ranges for s in range(lo, hi + 1)]


@dataclass(frozen=True)
class RulesUpdate:
    """HQ -> kiosks, retained: the whole rules and catalogue document. Newest version wins."""

    doc: dict
    rules: Rules
    at: datetime
    TYPE = "rules"

    @property
    def version(self) -> int:
        return self.rules.version


@dataclass(frozen=True)
class Snapshot:
    """HQ -> one kiosk: HQ's accounts, then the kiosk re-applies its own txns above own_high_water."""

    snapshot_id: int  # increases with every snapshot HQ sends this device
    own_high_water: int  # the highest seq of this device HQ's state includes
    state: LedgerState
    at: datetime
    TYPE = "snapshot"


@dataclass(frozen=True)
class BlockedList:
    """HQ -> kiosks: every blocked card uid, at `version`."""

    version: int
    uids: frozenset[str]
    at: datetime
    TYPE = "blocked"


@dataclass(frozen=True)
class BlockedDelta:
    """HQ -> kiosks: the change from `version - 1` to `version`."""

    version: int
    block: tuple[str, ...]
    unblock: tuple[str, ...]
    at: datetime
    TYPE = "blocked_delta"


@dataclass(frozen=True)
class PaymentConfirmation:
    """HQ's payment bridge -> kiosk: the outcome of a payment request."""

    payment_ref: str
    amount_fen: int
    outcome: str  # "paid" | "failed" | "cancelled"
    at: datetime
    detail: str = ""
    TYPE = "payment"


OUTCOMES = ("paid", "failed", "cancelled")


@dataclass(frozen=True)
class ConfigUpdate:
    """HQ -> one kiosk, retained: the few sync settings HQ may change remotely."""

    version: int
    heartbeat_s: int
    batch_size: int
    ack_timeout_s: int
    at: datetime
    TYPE = "config"


CONFIG_LIMITS = {"heartbeat_s": (5, 3600), "batch_size": (1, MAX_BATCH), "ack_timeout_s": (2, 600)}

MAX_INCIDENTS = 200  # items in one incidents message
MAX_DETAIL_KEYS = 20


@dataclass(frozen=True)
class Incident:
    """One line of the kiosk's incident log (kiosk/session/incidents.py): not money, but HQ must know."""

    offset: int  # byte offset of the line in the kiosk's log: the id HQ dedupes by, with the device
    at: datetime
    kind: str  # blocked_card_presented, payment_abandoned, paid_not_credited, card_suspect, ...
    card_uid: str = ""
    detail: dict = field(default_factory=dict)  # flat: str / int / bool / null values only


@dataclass(frozen=True)
class Incidents:
    """Kiosk -> HQ: incidents in log order; `next_offset` is where the log continues after them."""

    device: str
    items: tuple[Incident, ...]
    next_offset: int
    at: datetime
    TYPE = "incidents"


@dataclass(frozen=True)
class IncidentsAck:
    """HQ -> kiosk: HQ has committed every incident before byte offset `through`."""

    device: str
    through: int
    at: datetime
    TYPE = "incidents_ack"

Message = (
    Events
    | Status
    | Resync
    | PaymentRequest
    | Ack
    | RulesUpdate
    | Snapshot
    | BlockedList
    | BlockedDelta
    | PaymentConfirmation
    | ConfigUpdate
    | Incidents
    | IncidentsAck
)


# ---------------------------------------------------------------- encoding


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_dict(msg: Message) -> dict:
    """The JSON object of a message (with its type and schema version)."""
    head = {"type": msg.TYPE, "v": max(VERSIONS[msg.TYPE])}
    if isinstance(msg, Events):
        body = {"device": msg.device, "sent_at": _time(msg.sent_at), "txns": [txn_to_dict(t) for t in msg.txns]}
    elif isinstance(msg, Status):
        body = {
            "device": msg.device,
            "store": msg.store,
            "state": msg.state,
            "software": msg.software,
            "outbox_depth": msg.outbox_depth,
            "at": _time(msg.at),
            "last_error": msg.last_error,
            "money_paused": msg.money_paused,
            "rejected": dict(msg.rejected),
            "rules_version": msg.rules_version,
            "blocked_version": msg.blocked_version,
            "last_ack_at": _time(msg.last_ack_at) if msg.last_ack_at else None,
        }
    elif isinstance(msg, Resync):
        body = {
            "device": msg.device,
            "what": msg.what,
            "have_version": msg.have_version,
            "reason": msg.reason,
            "at": _time(msg.at),
        }
    elif isinstance(msg, PaymentRequest):
        body = {
            "device": msg.device,
            "payment_ref": msg.payment_ref,
            "amount_fen": msg.amount_fen,
            "method": msg.method,
            "at": _time(msg.at),
        }
    elif isinstance(msg, Ack):
        body = {"device": msg.device, "ranges": [list(r) for r in msg.ranges], "at": _time(msg.at)}
        if msg.expect_seq:
            body["expect_seq"] = msg.expect_seq
    elif isinstance(msg, RulesUpdate):
        body = {"rules": msg.doc, "at": _time(msg.at)}
    elif isinstance(msg, Snapshot):
        body = {
            "snapshot_id": msg.snapshot_id,
            "own_high_water": msg.own_high_water,
            "state": state_to_dict(msg.state),
            "at": _time(msg.at),
        }
    elif isinstance(msg, BlockedList):
        body = {"version": msg.version, "uids": sorted(msg.uids), "at": _time(msg.at)}
    elif isinstance(msg, BlockedDelta):
        body = {
            "version": msg.version,
            "block": list(msg.block),
            "unblock": list(msg.unblock),
            "at": _time(msg.at),
        }
    elif isinstance(msg, PaymentConfirmation):
        body = {
            "payment_ref": msg.payment_ref,
            "amount_fen": msg.amount_fen,
            "outcome": msg.outcome,
            "at": _time(msg.at),
            "detail": msg.detail,
        }
    elif isinstance(msg, ConfigUpdate):
        body = {
            "version": msg.version,
            "heartbeat_s": msg.heartbeat_s,
            "batch_size": msg.batch_size,
            "ack_timeout_s": msg.ack_timeout_s,
            "at": _time(msg.at),
        }
    elif isinstance(msg, Incidents):
        body = {
            "device": msg.device,
            "items": [
                {"offset": i.offset, "at": _time(i.at), "kind": i.kind, "card_uid": i.card_uid, "detail": i.detail}
                for i in msg.items
            ],
            "next_offset": msg.next_offset,
            "at": _time(msg.at),
        }
    elif isinstance(msg, IncidentsAck):
        body = {"device": msg.device, "through": msg.through, "at": _time(msg.at)}
    else:
        raise TypeError(f"not a message: {type(msg).__name__}")
    return head | body


def encode(msg: Message) -> bytes:
    """The payload bytes of a message (compact UTF-8 JSON)."""
    return json.dumps(to_dict(msg), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def ranges_of(seqs: list[int] | set[int]) -> tuple[tuple[int, int], ...]:
    """Compress sequences into sorted inclusive ranges: [1,2,3,7] -> ((1,3),(7,7))."""
    out: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return tuple((lo, hi) for lo, hi in out)


# ---------------------------------------------------------------- decoding


class _Fields:
    """Reads one JSON object's fields, naming the exact path on error; refuses unknown keys."""

    def __init__(self, msg_type: str, data: object, path: str = ""):
        if not isinstance(data, dict):
            raise MessageError(msg_type, path or "-", "must be an object")
        self.msg_type, self.data, self.path, self.seen = msg_type, data, path, set()

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> MessageError:
        return MessageError(self.msg_type, self._name(key), problem)

    def raw(self, key: str, default: object = ...) -> object:
        self.seen.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        return self.data[key]

    def int(self, key: str, lo: int, hi: int, default: object = ...) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, f"must be an integer in {lo}..{hi}")
        return value

    def str(self, key: str, max_len: int = MAX_TEXT, default: object = ..., choices: tuple = ()) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or len(value) > max_len:
            raise self.fail(key, f"must be a string of at most {max_len} characters")
        if choices and value not in choices:
            raise self.fail(key, f"must be one of {list(choices)}")
        return value

    def ident(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise self.fail(key, "must be 1-64 letters, digits, '-' or '_'")
        return value

    def time(self, key: str, default: object = ...) -> datetime | None:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or len(value) > 40:
            raise self.fail(key, "must be an ISO 8601 UTC time")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(key, "must be an ISO 8601 UTC time") from None
        if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
            raise self.fail(key, "must be a UTC time (ending in Z or +00:00)")
        return parsed.astimezone(UTC)

    def list(self, key: str, max_len: int) -> list:
        value = self.raw(key)
        if not isinstance(value, list) or len(value) > max_len:
            raise self.fail(key, f"must be a list of at most {max_len} items")
        return value

    def uids(self, key: str, max_len: int) -> tuple[str, ...]:
        values = self.list(key, max_len)
        for i, uid in enumerate(values):
            if not is_uid(uid):
                raise self.fail(f"{key}[{i}]", "must be a 4, 7 or 10 byte UID in upper-case hex")
        return tuple(values)

    def done(self) -> None:
        for key in self.data:
            if key not in self.seen:
                raise self.fail(str(key)[:40], "unknown field")


def is_uid(value: object) -> bool:
    return is_card_uid(value)


def _decode_events(f: _Fields) -> Events:
    device = f.ident("device")
    sent_at = f.time("sent_at")
    raw = f.list("txns", MAX_BATCH)
    if not raw:
        raise f.fail("txns", "must hold at least one transaction")
    txns = []
    for i, item in enumerate(raw):
        try:
            txn = txn_from_dict(item)
        except TxnFormatError as exc:
            raise f.fail(f"txns[{i}].{exc.field}", exc.problem) from None
        if txn.device_id != device:
            raise f.fail(f"txns[{i}].device_id", "must be the sending device")
        if txns and txn.seq != txns[-1].seq + 1:
            raise f.fail(f"txns[{i}].seq", "must follow the previous transaction's seq by one")
        txns.append(txn)
    return Events(device, tuple(txns), sent_at)


def _decode_status(f: _Fields) -> Status:
    rejected_raw = f.raw("rejected", {})
    if not isinstance(rejected_raw, dict) or len(rejected_raw) > 20:
        raise f.fail("rejected", "must be an object of at most 20 counters")
    rejected = {}
    for key, count in rejected_raw.items():
        if not isinstance(key, str) or len(key) > 40:
            raise f.fail("rejected", "keys must be short strings")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 2**62:
            raise f.fail(f"rejected.{key}", "must be a count")
        rejected[key] = count
    return Status(
        device=f.ident("device"),
        store=f.ident("store"),
        state=f.str("state", choices=STATES),
        software=f.str("software", 64),
        outbox_depth=f.int("outbox_depth", 0, 2**62),
        at=f.time("at"),
        last_error=f.str("last_error", default=""),
        money_paused=f.str("money_paused", default=""),
        rejected=rejected,
        rules_version=f.int("rules_version", 0, 2**31, 0),
        blocked_version=f.int("blocked_version", 0, 2**62, 0),
        last_ack_at=f.time("last_ack_at", None),
    )


def _decode_resync(f: _Fields) -> Resync:
    return Resync(
        device=f.ident("device"),
        what=f.str("what", choices=RESYNC_WHAT),
        have_version=f.int("have_version", 0, 2**62),
        reason=f.str("reason"),
        at=f.time("at"),
    )


def _decode_payment_request(f: _Fields) -> PaymentRequest:
    return PaymentRequest(
        device=f.ident("device"),
        payment_ref=_payment_ref(f),
        amount_fen=f.int("amount_fen", 1, MAX_FEN),
        method=f.str("method", 32),
        at=f.time("at"),
    )


def _payment_ref(f: _Fields) -> str:
    ref = f.str("payment_ref", 64)
    if not ref:
        raise f.fail("payment_ref", "must not be empty")
    return ref


def _decode_ack(f: _Fields) -> Ack:
    device = f.ident("device")
    raw = f.list("ranges", 1000)
    ranges: list[tuple[int, int]] = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) for x in item)
            or not 1 <= item[0] <= item[1] <= 2**62
        ):
            raise f.fail(f"ranges[{i}]", "must be [first, last] sequences with 1 <= first <= last")
        if ranges and item[0] <= ranges[-1][1]:
            raise f.fail(f"ranges[{i}]", "must be sorted and not overlap")
        ranges.append((item[0], item[1]))
    if sum(hi - lo + 1 for lo, hi in ranges) > MAX_ACKED:
        raise f.fail("ranges", f"must cover at most {MAX_ACKED} sequences")
    expect = f.int("expect_seq", 0, 2**62, 0)
    if not ranges and not expect:
        raise f.fail("ranges", "must not be empty unless expect_seq is given")
    return Ack(device, tuple(ranges), f.time("at"), expect)


def _decode_rules(f: _Fields) -> RulesUpdate:
    doc = f.raw("rules")
    try:
        rules = parse_rules(doc, "mqtt")
    except RulesError as exc:
        raise f.fail(f"rules.{exc.field}", exc.problem) from None
    return RulesUpdate(doc, rules, f.time("at"))


def _decode_snapshot(f: _Fields) -> Snapshot:
    snapshot_id = f.int("snapshot_id", 1, 2**62)
    high = f.int("own_high_water", 0, 2**62)
    try:
        state = state_from_dict(f.raw("state"))
    except CodecError as exc:
        raise f.fail("state" + exc.path.removeprefix("$"), exc.problem) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise f.fail("state", f"does not describe a ledger state ({type(exc).__name__})") from None
    return Snapshot(snapshot_id, high, state, f.time("at"))


def _decode_blocked(f: _Fields) -> BlockedList:
    version = f.int("version", 1, 2**62)
    uids = f.uids("uids", MAX_BLOCKED)
    return BlockedList(version, frozenset(uids), f.time("at"))


def _decode_blocked_delta(f: _Fields) -> BlockedDelta:
    version = f.int("version", 1, 2**62)
    block = f.uids("block", 10_000)
    unblock = f.uids("unblock", 10_000)
    if set(block) & set(unblock):
        raise f.fail("unblock", "a uid cannot be blocked and unblocked in one step")
    return BlockedDelta(version, block, unblock, f.time("at"))


def _decode_payment(f: _Fields) -> PaymentConfirmation:
    return PaymentConfirmation(
        payment_ref=_payment_ref(f),
        amount_fen=f.int("amount_fen", 0, MAX_FEN),
        outcome=f.str("outcome", choices=OUTCOMES),
        at=f.time("at"),
        detail=f.str("detail", default=""),
    )


def _decode_config(f: _Fields) -> ConfigUpdate:
    version = f.int("version", 1, 2**62)
    values = {key: f.int(key, lo, hi) for key, (lo, hi) in CONFIG_LIMITS.items()}
    return ConfigUpdate(version=version, at=f.time("at"), **values)


def decode_incident(data: object, path: str = "", msg_type: str = "incidents") -> Incident:
    """One incident (also used by the kiosk to read its own log lines, with offset added)."""
    f = _Fields(msg_type, data, path)
    offset = f.int("offset", 0, 2**62)
    at = f.time("at")
    kind = f.str("kind", 40)
    if not kind:
        raise f.fail("kind", "must not be empty")
    card_uid = f.str("card_uid", 20, default="")
    detail = f.raw("detail", {})
    if not isinstance(detail, dict) or len(detail) > MAX_DETAIL_KEYS:
        raise f.fail("detail", f"must be an object of at most {MAX_DETAIL_KEYS} fields")
    for key, value in detail.items():
        if len(key) > 40:
            raise f.fail("detail", "keys must be at most 40 characters")
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise f.fail(f"detail.{key}", f"must be at most {MAX_TEXT} characters")
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > 2**62:
                raise f.fail(f"detail.{key}", "integer out of range")
        elif value is not None and not isinstance(value, bool):
            raise f.fail(f"detail.{key}", "must be a string, integer, boolean or null")
    f.done()
    return Incident(offset, at, kind, card_uid, dict(detail))


def _decode_incidents(f: _Fields) -> Incidents:
    device = f.ident("device")
    raw = f.list("items", MAX_INCIDENTS)
    items = tuple(decode_incident(item, f"items[{i}]") for i, item in enumerate(raw))
    for i in range(1, len(items)):
        if items[i].offset <= items[i - 1].offset:
            raise f.fail(f"items[{i}].offset", "must increase")
    next_offset = f.int("next_offset", 0, 2**62)
    if items and next_offset <= items[-1].offset:
        raise f.fail("next_offset", "must be after the last item's offset")
    return Incidents(device, items, next_offset, f.time("at"))


def _decode_incidents_ack(f: _Fields) -> IncidentsAck:
    return IncidentsAck(f.ident("device"), f.int("through", 0, 2**62), f.time("at"))


_DECODERS: dict[str, Callable[[_Fields], Message]] = {
    "events": _decode_events,
    "status": _decode_status,
    "resync": _decode_resync,
    "payment_request": _decode_payment_request,
    "ack": _decode_ack,
    "rules": _decode_rules,
    "snapshot": _decode_snapshot,
    "blocked": _decode_blocked,
    "blocked_delta": _decode_blocked_delta,
    "payment": _decode_payment,
    "config": _decode_config,
    "incidents": _decode_incidents,
    "incidents_ack": _decode_incidents_ack,
}
assert set(_DECODERS) == set(MAX_BYTES) == set(VERSIONS)


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
    if expect is not None and expect not in _DECODERS:
        raise MessageError(expect, "type", "unknown message type", UNKNOWN_TYPE)
    data = parse_json(payload, expect)
    msg_type = data.get("type")
    if not isinstance(msg_type, str) or msg_type not in _DECODERS:
        raise MessageError(expect or "", "type", f"unknown message type {str(msg_type)[:40]!r}", UNKNOWN_TYPE)
    if expect is not None and msg_type != expect:
        raise MessageError(expect, "type", f"a {msg_type} message on a {expect} topic", WRONG_TOPIC)
    if len(payload) > MAX_BYTES[msg_type]:
        raise MessageError(msg_type, "-", f"payload exceeds {MAX_BYTES[msg_type]} bytes", OVERSIZED)
    version = data.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MessageError(msg_type, "v", "must be an integer schema version")
    if version not in VERSIONS[msg_type]:
        raise MessageError(
            msg_type, "v", f"schema version {version} not supported (reads {VERSIONS[msg_type]})", UNSUPPORTED_VERSION
        )
    fields_ = _Fields(msg_type, data)
    fields_.seen.update({"type", "v"})
    msg = _DECODERS[msg_type](fields_)
    fields_.done()
    return msg
