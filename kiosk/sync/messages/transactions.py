"""The transaction stream: a kiosk's `events` batches up, and HQ's `ack` after its own commit down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.ledger.txn import Txn, TxnFormatError, txn_from_dict, txn_to_dict
from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.spec import DEVICE, DOWN, KIB, MIB, UP, Message, MessageSpec, Place, utc_text

MAX_BATCH = 1000  # transactions in one events message
MAX_ACKED = 1_000_000  # sequences one ack may cover


@dataclass(frozen=True)
class Events(Message, spec=MessageSpec("events", UP, 2 * MIB, (Place(DEVICE),))):
    """Kiosk -> HQ: consecutive transactions of one device, in seq order."""

    device: str
    txns: tuple[Txn, ...]
    sent_at: datetime

    @property
    def first_seq(self) -> int:
        return self.txns[0].seq

    @property
    def last_seq(self) -> int:
        return self.txns[-1].seq

    def body(self) -> dict:
        return {"device": self.device, "sent_at": utc_text(self.sent_at), "txns": [txn_to_dict(t) for t in self.txns]}

    @classmethod
    def read(cls, f: Fields) -> Events:
        device = f.ident("device")
        sent_at = f.time("sent_at")
        raw = f.list("txns", MAX_BATCH)
        if not raw:
            raise f.fail("txns", "must hold at least one transaction")
        txns: list[Txn] = []
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
        return cls(device, tuple(txns), sent_at)


@dataclass(frozen=True)
class Ack(Message, spec=MessageSpec("ack", DOWN, 64 * KIB, (Place(DEVICE),))):
    """HQ -> kiosk: HQ has durably committed these sequences of this device (inclusive ranges).

    `expect_seq`, when given, is HQ's applied high water + 1 (informational: HQ may hold later
    seqs committed but not yet applied); resends are driven by the kiosk's ack timeout."""

    device: str
    ranges: tuple[tuple[int, int], ...]
    at: datetime
    expect_seq: int = 0  # 0: not given

    def seqs(self) -> list[int]:
        return [s for lo, hi in self.ranges for s in range(lo, hi + 1)]

    def body(self) -> dict:
        out = {"device": self.device, "ranges": [list(r) for r in self.ranges], "at": utc_text(self.at)}
        if self.expect_seq:
            out["expect_seq"] = self.expect_seq
        return out

    @classmethod
    def read(cls, f: Fields) -> Ack:
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
        return cls(device, tuple(ranges), f.time("at"), expect)


def ranges_of(seqs: list[int] | set[int]) -> tuple[tuple[int, int], ...]:
    """Compress sequences into sorted inclusive ranges: [1,2,3,7] -> ((1,3),(7,7))."""
    out: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return tuple((lo, hi) for lo, hi in out)
