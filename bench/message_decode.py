"""Decode + validate one MQTT payload: today's hand-written decoders vs msgspec Structs (issue 11 finding 3).

    .venv/bin/pip install -e ".[hq]"     # msgspec came in with HQ's events read (below)
    .venv/bin/python bench/message_decode.py          # --n 2000 for more loops

For each message type, the same payload (built by kiosk.sync.messages.encode) is decoded by
  today      kiosk.sync.messages.decode(payload, type): strict JSON, then every field checked
  msgspec    a msgspec Struct with the same field rules (Meta constraints, forbid_unknown_fields,
             __post_init__ for the cross-field rules) decoding the bytes in one step
  strict+ms  kiosk.ledger.strict_json.loads, then msgspec.convert of the dict: what keeping our
             promises would cost, since msgspec's JSON takes the last of duplicate keys and lets
             a NUL ("\\u0000") through, both of which docs/protocol.md promises to refuse.
`events` keeps the ledger's own txn codec (txn_from_dict) per transaction in every column: a
Struct for each transaction kind would be a second definition of the transaction.
Ratios are today's time over the other's (above 1: faster than today), measured in the same run.

Measured 2026-12-07 (msgspec 0.23, this 2-core machine under load ~11, two runs): small messages
(ack, status, payment) 7-37x faster with msgspec alone but only 1.3-3x once strict_json keeps the
promises; the big ones that matter (events at HQ: 100 txns 0.9-1.5x, dominated by the ledger's
txn codec; blocked: 10,000 uids 0.8-1.4x, dominated by the per-uid pattern) no faster in either
column. Decision: not adopted for the sync room (no speed where the volume is, two promises to
re-add by hand, a second dependency and a second spelling of each schema).
Later (issue 16, HQ receiver CPU): HQ reads `events` payloads with msgspec after all
(kiosk/hq/events_wire.py), keeping both promises another way: a payload is taken only when
encoding what was decoded gives back its exact bytes (so no duplicate key), with no NUL or
surrogate escape; everything else goes to the strict decoder. The txn Struct is built from the
ledger's own field table, and the Txn without its frozen __init__: about 4 us a transaction
against 28 us for decoding and encoding its row text again (tests/hq/test_hq_events_wire.py)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:
    import msgspec
    from msgspec import Meta, Struct
except ImportError:  # pragma: no cover - the script says what to do
    sys.exit("msgspec is not installed: .venv/bin/pip install msgspec")

from kiosk.ledger import strict_json  # noqa: E402
from kiosk.ledger.rules import MAX_FEN  # noqa: E402
from kiosk.ledger.txn import txn_from_dict  # noqa: E402
from kiosk.sync import messages as m  # noqa: E402
from tests.sync.support import make_txns  # noqa: E402

Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")]
Big = Annotated[int, Meta(ge=0, le=2**62)]
Seq = Annotated[int, Meta(ge=1, le=2**62)]
Text = Annotated[str, Meta(max_length=200)]
Uid = Annotated[str, Meta(pattern=r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})\Z")]


def _utc(value: datetime | None, name: str) -> None:
    if value is not None and value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be a UTC time")


class AckS(Struct, forbid_unknown_fields=True, tag_field="type", tag="ack"):
    v: Literal[1]
    device: Id
    ranges: Annotated[list[tuple[Seq, Seq]], Meta(max_length=1000)]
    at: Annotated[datetime, Meta(tz=True)]
    expect_seq: Big = 0

    def __post_init__(self) -> None:
        _utc(self.at, "at")
        last = 0
        for lo, hi in self.ranges:
            if lo > hi or lo <= last:
                raise ValueError("ranges must be sorted [first, last] and not overlap")
            last = hi
        if sum(hi - lo + 1 for lo, hi in self.ranges) > m.MAX_ACKED or not (self.ranges or self.expect_seq):
            raise ValueError("ranges")


class StatusS(Struct, forbid_unknown_fields=True, tag_field="type", tag="status"):
    v: Literal[1]
    device: Id
    store: Id
    state: Literal["online", "offline"]
    software: Annotated[str, Meta(max_length=64)]
    outbox_depth: Big
    at: Annotated[datetime, Meta(tz=True)]
    last_error: Text = ""
    money_paused: Text = ""
    rejected: Annotated[dict[Annotated[str, Meta(max_length=40)], Big], Meta(max_length=20)] = {}
    rules_version: Annotated[int, Meta(ge=0, le=2**31)] = 0
    blocked_version: Big = 0
    last_ack_at: Annotated[datetime, Meta(tz=True)] | None = None

    def __post_init__(self) -> None:
        _utc(self.at, "at")
        _utc(self.last_ack_at, "last_ack_at")


class PaymentS(Struct, forbid_unknown_fields=True, tag_field="type", tag="payment"):
    v: Literal[1]
    payment_ref: Annotated[str, Meta(min_length=1, max_length=64)]
    amount_fen: Annotated[int, Meta(ge=0, le=MAX_FEN)]
    outcome: Literal["paid", "failed", "cancelled"]
    at: Annotated[datetime, Meta(tz=True)]
    detail: Text = ""

    def __post_init__(self) -> None:
        _utc(self.at, "at")


class BlockedS(Struct, forbid_unknown_fields=True, tag_field="type", tag="blocked"):
    v: Literal[1]
    version: Seq
    uids: Annotated[list[Uid], Meta(max_length=m.MAX_BLOCKED)]
    at: Annotated[datetime, Meta(tz=True)]

    def __post_init__(self) -> None:
        _utc(self.at, "at")


class EventsS(Struct, forbid_unknown_fields=True, tag_field="type", tag="events"):
    v: Literal[1]
    device: Id
    sent_at: Annotated[datetime, Meta(tz=True)]
    txns: Annotated[list[dict], Meta(min_length=1, max_length=m.MAX_BATCH)]

    def __post_init__(self) -> None:
        _utc(self.sent_at, "sent_at")
        prev = None
        for item in self.txns:  # the ledger's codec, as today
            txn = txn_from_dict(item)
            if txn.device_id != self.device or (prev is not None and txn.seq != prev + 1):
                raise ValueError("txns")
            prev = txn.seq


STRUCTS = {"ack": AckS, "status": StatusS, "payment": PaymentS, "blocked": BlockedS, "events": EventsS}


def payloads() -> dict[str, bytes]:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    txns = make_txns("D1", 100)
    return {
        "ack": m.encode(m.Ack("D1", ((1, 40), (42, 100)), now, expect_seq=101)),
        "status": m.encode(m.Status("D1", "S1", "online", "0.9.0", 12, now, "", "", {"malformed": 2}, 3, 7, now)),
        "payment": m.encode(m.PaymentConfirmation("hq:r1", 5000, "paid", now, "WX 42")),
        "blocked": m.encode(m.BlockedList(9, frozenset(f"04{i:06X}" for i in range(10_000)), now)),
        "events": m.encode(m.Events("D1", tuple(txns), now)),
    }


def per_call_us(fn, payload: bytes, n: int) -> float:
    """Median over 5 rounds of the mean time per call, in microseconds."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            fn(payload)
        rounds.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(rounds)


def check_the_promises() -> list[str]:
    """What msgspec alone lets through that today's decoder refuses."""
    cases = {
        "duplicate key": b'{"type":"ack","v":1,"device":"D1","ranges":[[1,2]],"at":"2026-11-23T10:00:00Z","device":"D2"}',
        "NUL in a string": b'{"type":"payment","v":1,"payment_ref":"P\\u0000","amount_fen":5,"outcome":"paid",'
        b'"at":"2026-01-01T00:00:00Z","detail":""}',
    }
    out = []
    for name, payload in cases.items():
        kind = "payment" if b'"payment"' in payload else "ack"
        try:
            m.decode(payload, kind)
            today = "accepted"
        except m.MessageError:
            today = "refused"
        try:
            msgspec.json.decode(payload, type=STRUCTS[kind])
            alone = "accepted"
        except (msgspec.ValidationError, msgspec.DecodeError):
            alone = "refused"
        out.append(f"{name}: today {today}, msgspec alone {alone}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="calls per round (blocked and events: a tenth)")
    args = parser.parse_args()
    print(f"msgspec {msgspec.__version__}; median of 5 rounds; microseconds per decode+validate")
    print(f"{'type':<9}{'bytes':>8}{'today':>10}{'msgspec':>10}{'strict+ms':>11}{'x msgspec':>11}{'x strict+ms':>13}")
    for kind, payload in payloads().items():
        struct = STRUCTS[kind]
        decoder = msgspec.json.Decoder(struct)
        n = max(3, args.n // 10) if kind in ("blocked", "events") else args.n
        assert msgspec.convert(strict_json.loads(payload), struct) is not None  # the same payload passes both
        today = per_call_us(lambda p, k=kind: m.decode(p, k), payload, n)
        alone = per_call_us(decoder.decode, payload, n)
        both = per_call_us(lambda p, s=struct: msgspec.convert(strict_json.loads(p), s), payload, n)
        print(f"{kind:<9}{len(payload):>8}{today:>10.1f}{alone:>10.1f}{both:>11.1f}{today / alone:>11.1f}{today / both:>13.1f}")
    print("promises:", "; ".join(check_the_promises()))


if __name__ == "__main__":
    main()
