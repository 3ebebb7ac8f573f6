"""A kiosk's `events` payload read in one pass of C (msgspec) when it is in the exact form kiosks
write, with the strict decoder (kiosk.sync.messages.decode) deciding everything else.

Why: reading the kiosks' transactions (strict JSON, then every field checked in Python, then a
51-field frozen dataclass built) and encoding each again for its `events` row were about a third
of a receiver's CPU. msgspec decodes into typed Structs with the same field rules (ranges,
lengths, the kinds, dates, UTC times) in one step, but alone it would let through what the strict
decoder refuses (a duplicate key, last wins; a NUL). So a payload takes this path only when
encoding what was decoded gives back its exact bytes: then it holds no duplicate key, no
whitespace and no escape json.dumps would not write, every field is where txn_to_dict puts it,
and each transaction's row text is its own slice of the payload. No escape of a NUL or a
surrogate at all. Anything else, including everything the strict decoder refuses, gets None
here and goes to the strict decoder, whose errors stay the only ones a kiosk is ever told
(tests/hq/test_hq_events_wire.py holds the two to the same answer)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec

from kiosk.ledger.txn import (
    FIELD_RULES,
    REQUIRED,
    TEXT_MAX,
    Kind,
    Txn,
    TxnFormatError,
    check_txn,
    txn_from_dict,
    txn_of,
)
from kiosk.ledger.utc import parse_utc
from kiosk.sync import messages as m
from kiosk.sync.ids import ID_PATTERN

_FORMS = {"time": datetime, "bool": bool, "date": date, "kind": Kind, "text": Annotated[str, msgspec.Meta(max_length=TEXT_MAX)]}


def _field(rule) -> tuple:
    kind = Annotated[int, msgspec.Meta(ge=rule.low, le=rule.high)] if rule.form == "int" else _FORMS[rule.form]
    # a field whose default is None is typed without None: null is refused, as txn_from_dict does
    return (rule.name, kind) if rule.default is REQUIRED else (rule.name, kind, rule.default)


TxnWire = msgspec.defstruct("TxnWire", [_field(r) for r in FIELD_RULES], forbid_unknown_fields=True, omit_defaults=True)
EventsWire = msgspec.defstruct(
    "EventsWire",
    [("type", str), ("v", int), ("device", str), ("sent_at", str), ("txns", list[TxnWire])],
    forbid_unknown_fields=True,
)
_EVENTS = msgspec.json.Decoder(EventsWire)
_TXN = msgspec.json.Decoder(TxnWire)
_ENCODE = msgspec.json.Encoder().encode
_AS_DICT = msgspec.structs.asdict
_TIMES = tuple(r.name for r in FIELD_RULES if r.form == "time")
_RISKY_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")  # strict_json's, on the bytes
_FAILED = (msgspec.DecodeError, msgspec.ValidationError, TxnFormatError, ValueError)


@dataclass(frozen=True)
class Decoded:
    events: m.Events
    bodies: dict[tuple[str, int], str]  # (device, seq) -> the row text encode_events would give


def _txn(wire) -> Txn | None:
    """The Txn txn_from_dict would build from this record, or None to let it decide."""
    for name in _TIMES:
        value = getattr(wire, name)
        if value is not None and value.tzinfo is not UTC:  # json form of a non-UTC or naive time
            return None
    txn = txn_of(_AS_DICT(wire))
    check_txn(txn)
    return txn


def decode_events(payload: bytes) -> Decoded | None:
    """The Events message and row texts m.decode(payload, "events") and encode_events would give,
    or None: then ask m.decode (it accepts or refuses with its own error)."""
    if type(payload) is not bytes or len(payload) > m.MAX_BYTES["events"] or _RISKY_ESCAPE.search(payload):
        return None
    try:
        wire = _EVENTS.decode(payload)
        if wire.type != "events" or wire.v not in m.VERSIONS["events"] or _ENCODE(wire) != payload:
            return None
        device = wire.device
        if not ID_PATTERN.match(device) or not 1 <= len(wire.txns) <= m.MAX_BATCH:
            return None
        sent_at = parse_utc(wire.sent_at)
        txns = []
        for item in wire.txns:
            txn = _txn(item)
            if txn is None or txn.device_id != device or (txns and txn.seq != txns[-1].seq + 1):
                return None
            txns.append(txn)
    except _FAILED:
        return None
    bodies = {(device, t.seq): _ENCODE(item).decode() for t, item in zip(txns, wire.txns, strict=True)}
    return Decoded(m.Events(device, tuple(txns), sent_at), bodies)


def txn_from_row(body: str) -> Txn:
    """A transaction from its `events` row (HQ wrote it with encode_events): one C pass when the
    text is in that exact form, else what txn_from_dict(json.loads(body)) gives (or raises)."""
    try:
        wire = _TXN.decode(body)
        txn = _txn(wire) if _ENCODE(wire) == body.encode() else None
        if txn is not None:
            return txn
    except _FAILED:
        pass
    return txn_from_dict(json.loads(body))
