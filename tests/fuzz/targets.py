"""Every parser of outside bytes, as a fuzz target: a function of bytes and the typed errors it
may raise. Anything else it raises is a defect (a traceback where a clear refusal belongs).

Each target also has seeds: valid inputs, so a coverage-guided fuzzer starts from the shapes
that reach deep into the parser instead of from nothing."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from kiosk.app.config import ConfigError, load_config
from kiosk.hq.events_wire import decode_events
from kiosk.hq.ledger import encode_events
from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.rules import RulesError, parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import TxnFormatError, txn_from_dict, txn_to_dict
from kiosk.reader.card_format import (
    KIND_CLASSIC,
    KIND_NTAG,
    CardFormatError,
    PurseHint,
    encode_identity,
    encode_slot,
    parse_classic_image,
    parse_ntag_token,
)
from kiosk.store.journal import MAGIC, JournalCorrupt, encode_append, encode_record, read_segment
from kiosk.store.snapshot import Snapshot, SnapshotError, read_snapshot, write_snapshot
from kiosk.sync import messages as m
from kiosk.till import openapi
from kiosk.till.api import parse_body
from kiosk.till.service import TillError
from tests.card_helpers import SITE
from tests.fixtures.histories import many_top_ups

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MESSAGE_TYPES = sorted(m.MAX_BYTES)
_SHM = Path("/dev/shm")  # file parsers read real files; in memory they run 10x faster
_TMP = Path(tempfile.mkdtemp(prefix="kiosk-fuzz-", dir=_SHM if _SHM.is_dir() else None))


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]


def _mqtt(data: bytes) -> object:
    """First byte: which topic's type the payload arrives on; the rest: the payload."""
    if not data:
        return None
    return m.decode(data[1:], MESSAGE_TYPES[data[0] % len(MESSAGE_TYPES)])


def _mqtt_seeds() -> list[bytes]:
    txns = many_top_ups("D1", 6, members=2)
    state = LedgerState()
    for t in txns:
        state.apply(t)
    rules_doc = json.loads(Path("kiosk/data/rules.default.json").read_text())
    samples = [
        m.Events("D1", tuple(txns), AT),
        m.Ack("D1", ((1, 6),), AT, expect_seq=7),
        m.BlockedList(3, frozenset({"04AAAA01"}), AT),
        m.BlockedDelta(4, ("04AAAA03",), ("04AAAA01",), AT),
        m.RulesUpdate(rules_doc, parse_rules(rules_doc, "seed"), AT),
        m.Snapshot(5, 6, state, AT),
        m.IncidentsAck("D1", 3, AT),
        m.ConfigUpdate(2, 30, 25, 7, AT),
    ]
    out = []
    for msg in samples:
        payload = m.encode(msg)
        kind = json.loads(payload)["type"]
        out.append(bytes([MESSAGE_TYPES.index(kind)]) + payload)
    return out


def _hq_events(data: bytes) -> object:
    """HQ's fast read of an events payload: the strict decoder's answer or none (AssertionError,
    untyped, when they differ)."""
    fast = decode_events(data)
    try:
        slow = m.decode(data, "events")
    except m.MessageError:
        if fast is not None:
            raise AssertionError("read fast, refused by the strict decoder") from None
        raise
    if fast is not None and (fast.events != slow or fast.bodies != encode_events(slow.txns)):
        raise AssertionError("read fast otherwise than by the strict decoder")
    return slow


def _hq_events_seeds() -> list[bytes]:
    return [m.encode(m.Events("D1", tuple(many_top_ups("D1", n, members=2)), AT)) for n in (1, 4)]


def _txn(data: bytes) -> object:
    return txn_from_dict(m.parse_json(data))


def _txn_seeds() -> list[bytes]:
    return [json.dumps(txn_to_dict(t)).encode() for t in many_top_ups("D1", 4, members=1)]


def _rules(data: bytes) -> object:
    return parse_rules(m.parse_json(data), "fuzz")


def _rules_seeds() -> list[bytes]:
    return [Path("kiosk/data/rules.default.json").read_bytes()]


def _config(data: bytes) -> object:
    path = _TMP / "kiosk.toml"
    path.write_bytes(data)
    return load_config(path)


def _config_seeds() -> list[bytes]:
    return [p.read_bytes() for p in Path("provisioning").rglob("*.toml")][:4]


_UID = bytes.fromhex("0A0B0C0D")
_NTAG_UID = bytes.fromhex("04010203040506")
_KEYS = [SITE.for_card(_UID)]
_NTAG_KEYS = [SITE.for_card(_NTAG_UID)]


def _classic(data: bytes) -> object:
    return parse_classic_image(_UID, _KEYS, data)


def _classic_seeds() -> list[bytes]:
    ident = encode_identity(_KEYS[0], KIND_CLASSIC, "M-fuzz-1", 3, date(2026, 5, 1))
    return [ident + encode_slot(_KEYS[0], ident[:40], PurseHint(100, 1, 6, 7)) * 2]


def _ntag(data: bytes) -> object:
    return parse_ntag_token(_NTAG_UID, _NTAG_KEYS, data)


def _ntag_seeds() -> list[bytes]:
    return [encode_identity(_NTAG_KEYS[0], KIND_NTAG, "M-fuzz-2", 1, date(2026, 5, 1))]


def _journal(data: bytes) -> object:
    path = _TMP / "00000001.jnl"
    path.write_bytes(data)
    return read_segment(path, 1, last=True)


def _journal_seeds() -> list[bytes]:
    records = [{"t": "txn", "txn": txn_to_dict(t)} for t in many_top_ups("D1", 3, members=1)]
    return [MAGIC + b"".join(encode_record(r) for r in records), MAGIC + encode_append(records)]


def _snapshot(data: bytes) -> object:
    path = _TMP / "snapshot.json"
    path.write_bytes(data)
    return read_snapshot(path)


def _snapshot_seeds() -> list[bytes]:
    state = LedgerState()
    for t in many_top_ups("D1", 4, members=1):
        state.apply(t)
    path = _TMP / "seed" / "snapshot.json"
    path.parent.mkdir(exist_ok=True)
    write_snapshot(path, Snapshot(device_id="D1", replay_from=2, state=state))
    assert state_to_dict(read_snapshot(path).state) == state_to_dict(state)
    return [path.read_bytes()]


_TILL_SCHEMAS = (openapi.CHARGE_REQUEST, openapi.REFUND_REQUEST, openapi.VOID_REQUEST)


def _till(data: bytes) -> object:
    """First byte: which request body (charge, refund, void); the rest: the body the till sent."""
    if not data:
        return None
    return parse_body(data[1:], _TILL_SCHEMAS[data[0] % len(_TILL_SCHEMAS)])


def _till_seeds() -> list[bytes]:
    bodies = (
        {"order_id": "A1", "amount_fen": 12800, "apply_discount": True, "currency": "CNY", "timeout_s": 60,
         "locale": "en"},
        {"order_id": "A1", "refund_id": "R1", "amount_fen": 500, "locale": "zh_CN"},
        {"order_id": "A1"},
    )
    return [bytes([i]) + json.dumps(body).encode() for i, body in enumerate(bodies)]


TARGETS = {
    t.name: t
    for t in (
        Target("mqtt", _mqtt, (m.MessageError,), _mqtt_seeds),
        Target("hq_events", _hq_events, (m.MessageError,), _hq_events_seeds),
        Target("txn", _txn, (m.MessageError, TxnFormatError), _txn_seeds),
        Target("rules", _rules, (m.MessageError, RulesError), _rules_seeds),
        Target("config", _config, (ConfigError,), _config_seeds),
        Target("card_classic", _classic, (CardFormatError,), _classic_seeds),
        Target("card_ntag", _ntag, (CardFormatError,), _ntag_seeds),
        Target("journal", _journal, (JournalCorrupt,), _journal_seeds),
        Target("snapshot", _snapshot, (SnapshotError,), _snapshot_seeds),
        Target("till_request", _till, (TillError,), _till_seeds),
    )
}
