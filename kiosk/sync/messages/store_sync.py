"""Protocol v2's member replica: a store's snapshot in bounded chunks the kiosk asks for, and the
account rows that changed since, per store (docs/protocol.md "Per-store replica").

Rows travel as the ledger codec writes them (kiosk.ledger.codec), so whatever the account model
grows (vouchers, points lots) travels with it, checked field by field on the way in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kiosk.ledger.codec import CodecError, decode, encode
from kiosk.ledger.model import Account, Card, Member
from kiosk.ledger.uid import is_card_uid
from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.spec import DEVICE, DOWN, KIB, MIB, STORE, UP, Message, MessageSpec, Place, utc_text

CHUNK_BYTES = MIB  # one snapshot chunk, and one delta, at most
MAX_ROWS = 20_000  # rows of one table in one chunk or delta
MAX_WINDOW = 64  # chunks one request may ask for
MAX_DEVICES = 1000  # entries of a delta's `applied` (the kiosks of one store)
ROW_TABLES = (("members", Member), ("cards", Card), ("accounts", Account))


@dataclass(frozen=True)
class MemberRows:
    """Members with their cards and accounts, as HQ holds them (whole rows, never increments)."""

    members: tuple[Member, ...] = ()
    cards: tuple[Card, ...] = ()
    accounts: tuple[Account, ...] = ()
    # the rows as read from the message (each decoded strictly into the row beside it): a store
    # keeps their JSON text instead of encoding the decoded rows again (kiosk/store/loading.py)
    items: dict[str, tuple] | None = field(default=None, compare=False, repr=False)

    def body(self) -> dict:
        return {name: [encode(row) for row in getattr(self, name)] for name, _ in ROW_TABLES}

    @classmethod
    def read(cls, f: Fields) -> MemberRows:
        tables, raw = {}, {}
        for name, row_type in ROW_TABLES:
            raw[name] = tuple(f.list(name, MAX_ROWS))
            try:
                tables[name] = tuple(decode(row_type, item, f"{name}[{i}]") for i, item in enumerate(raw[name]))
            except CodecError as exc:
                raise f.fail(exc.path.removeprefix("$"), exc.problem) from None
        f.done()
        return cls(**tables, items=raw)

    @property
    def member_ids(self) -> frozenset[str]:
        return frozenset(m.member_id for m in self.members) | {a.member_id for a in self.accounts}

    def __len__(self) -> int:
        return len(self.members) + len(self.cards) + len(self.accounts)


@dataclass(frozen=True)
class SnapshotRequest(Message, spec=MessageSpec("snapshot_request", UP, 4 * KIB, (Place(DEVICE),))):
    """Kiosk -> HQ: chunks `first`..`first + count - 1` of snapshot `snapshot_id` (0: build a new
    one of this kiosk's store). A kiosk asks for a window and asks again as it stores them, so a
    restart resumes from the last chunk it stored and the broker never queues a whole chain."""

    device: str
    snapshot_id: int
    first: int
    count: int
    at: datetime

    def body(self) -> dict:
        return {"device": self.device, "snapshot_id": self.snapshot_id, "first": self.first,
                "count": self.count, "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> SnapshotRequest:
        return cls(f.ident("device"), f.int("snapshot_id", 0, 2**62), f.int("first", 0, 2**31),
                   f.int("count", 1, MAX_WINDOW), f.time("at"))


@dataclass(frozen=True)
class SnapshotChunk(Message, spec=MessageSpec("snapshot_chunk", DOWN, CHUNK_BYTES, (Place(DEVICE),))):
    """HQ -> one kiosk: chunk `index` of `chunks` of its store's snapshot. Every chunk repeats the
    snapshot's point: `own_high_water` (this device's seqs HQ had applied) and `delta_seq` (the
    store's last account delta the rows include); chunk 0 also carries the reward stock."""

    snapshot_id: int
    index: int
    chunks: int
    own_high_water: int
    delta_seq: int
    rows: MemberRows
    stock: dict
    at: datetime

    def body(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id, "index": self.index, "chunks": self.chunks,
            "own_high_water": self.own_high_water, "delta_seq": self.delta_seq,
            "rows": self.rows.body(), "stock": dict(self.stock), "at": utc_text(self.at),
        }

    @classmethod
    def read(cls, f: Fields) -> SnapshotChunk:
        snapshot_id = f.int("snapshot_id", 1, 2**62)
        chunks = f.int("chunks", 1, 2**31)
        index = f.int("index", 0, chunks - 1)
        high = f.int("own_high_water", 0, 2**62)
        delta_seq = f.int("delta_seq", 0, 2**62)
        rows = MemberRows.read(Fields(f.msg_type, f.raw("rows"), "rows"))
        stock = f.raw("stock")
        if not isinstance(stock, dict) or len(stock) > MAX_ROWS or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in stock.items()
        ):
            raise f.fail("stock", "must map reward ids to units (integers >= 0)")
        return cls(snapshot_id, index, chunks, high, delta_seq, rows, stock, f.time("at"))


@dataclass(frozen=True)
class AccountDelta(
    Message, spec=MessageSpec("account_delta", DOWN, CHUNK_BYTES, (Place(STORE), Place(DEVICE)))
):
    """HQ -> the kiosks of one store: the rows of members they hold that changed anywhere in the
    chain. `seq` counts the store's deltas (a kiosk takes seq = its last + 1, and asks for the
    missing ones on a gap); `applied` is each of the store's kiosks' seqs HQ had applied before
    reading the rows, so a kiosk keeps its own row while it has a transaction HQ did not have."""

    store: str
    seq: int
    applied: dict
    rows: MemberRows
    at: datetime

    def body(self) -> dict:
        return {"store": self.store, "seq": self.seq, "applied": dict(self.applied),
                "rows": self.rows.body(), "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> AccountDelta:
        store = f.ident("store")
        seq = f.int("seq", 1, 2**62)
        applied = f.raw("applied")
        if not isinstance(applied, dict) or len(applied) > MAX_DEVICES or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**62
            for k, v in applied.items()
        ):
            raise f.fail("applied", f"must map at most {MAX_DEVICES} device ids to seqs")
        rows = MemberRows.read(Fields(f.msg_type, f.raw("rows"), "rows"))
        return cls(store, seq, applied, rows, f.time("at"))


DELTAS_GONE_REASONS = ("pruned", "ahead")


@dataclass(frozen=True)
class DeltasUnavailable(Message, spec=MessageSpec("deltas_unavailable", DOWN, 4 * KIB, (Place(DEVICE),))):
    """HQ -> one kiosk, instead of the deltas after `after` it asked for: "pruned" (HQ keeps only
    `oldest`..`newest`, past its retention) or "ahead" (`after` is beyond HQ's `newest`: HQ was
    restored from a backup and would number new deltas the kiosk takes for repeats). Either way
    the kiosk loads a fresh store snapshot and follows the deltas from there."""

    store: str
    after: int
    oldest: int
    newest: int
    reason: str
    at: datetime

    def body(self) -> dict:
        return {"store": self.store, "after": self.after, "oldest": self.oldest, "newest": self.newest,
                "reason": self.reason, "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> DeltasUnavailable:
        return cls(f.ident("store"), f.int("after", 0, 2**62), f.int("oldest", 0, 2**62), f.int("newest", 0, 2**62),
                   f.str("reason", choices=DELTAS_GONE_REASONS), f.time("at"))


@dataclass(frozen=True)
class MemberRequest(Message, spec=MessageSpec("member_request", UP, 4 * KIB, (Place(DEVICE),))):
    """Kiosk -> HQ: the member whose card this is, tapped here and not in the replica. Sent with
    MQTT 5 properties: the response topic (the kiosk's own `member` topic) and correlation data."""

    device: str
    card_uid: str
    at: datetime

    def body(self) -> dict:
        return {"device": self.device, "card_uid": self.card_uid, "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> MemberRequest:
        return cls(f.ident("device"), _uid(f), f.time("at"))


@dataclass(frozen=True)
class MemberAnswer(Message, spec=MessageSpec("member", DOWN, 256 * KIB, (Place(DEVICE),))):
    """HQ -> the kiosk that asked (on the request's response topic, with its correlation data): the
    member's rows, none when HQ knows no such card; `applied`: the kiosk's seqs HQ had applied."""

    card_uid: str
    applied: int
    rows: MemberRows
    at: datetime

    def body(self) -> dict:
        return {"card_uid": self.card_uid, "applied": self.applied, "rows": self.rows.body(), "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> MemberAnswer:
        uid = _uid(f)
        applied = f.int("applied", 0, 2**62)
        return cls(uid, applied, MemberRows.read(Fields(f.msg_type, f.raw("rows"), "rows")), f.time("at"))


def _uid(f: Fields) -> str:
    uid = f.raw("card_uid")
    if not is_card_uid(uid):
        raise f.fail("card_uid", "must be a 4, 7 or 10 byte UID in upper-case hex")
    return uid
