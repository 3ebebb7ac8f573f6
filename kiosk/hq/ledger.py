"""HQ's authoritative ledger in SQL: store every kiosk event once, apply in per-device order.

Two steps, so several receivers can share a fleet and messages may arrive in any order:
1. `store_events`: INSERT ... ON CONFLICT (device_id, seq) DO NOTHING, then commit. Once this
   returns, the events are durable and may be acknowledged to the kiosk.
2. `apply_pending`: per device (claimed by one receiver at a time), take the events right above
   the applied mark, in seq order, and apply them with `LedgerState.apply` itself (on the rows
   they touch, loaded into a small LedgerState and written back). Reading and deciding happen
   outside any transaction; the write is a short transaction that locks the progress row and
   the rows read, and writes only if none changed meanwhile (else the run is read again). A gap
   stops the run: the later events wait in `events` until the missing one arrives, at this
   receiver or another.

Because the same `LedgerState.apply` runs here and in every kiosk, HQ and kiosks agree by
construction; tests/hq/test_hq_ledger_equivalence.py checks it on generated histories."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kiosk.hq.db import Database
from kiosk.hq.events_wire import txn_from_row
from kiosk.hq.rows import Loaded, Writes, load_rows, plan_writes, unchanged
from kiosk.ledger.codec import decode
from kiosk.ledger.kinds import MEMBER_USES
from kiosk.ledger.model import Account, Card, CardStatus, Member
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind, Txn, txn_to_dict
from kiosk.ledger.utc import utc_text

log = logging.getLogger(__name__)

APPLY_BATCH = 500


@dataclass(frozen=True)
class Conflict:
    device_id: str
    seq: int
    member_id: str
    kind: str
    detail: str
    detected_at: str
    resolved_at: str | None = None

    @property
    def txn_id(self) -> str:
        return f"{self.device_id}:{self.seq}"


@dataclass
class ApplyReport:
    applied: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # device -> events stored above a gap
    blocked_changed: bool = False


def now_text() -> str:
    return utc_text(datetime.now(UTC))


# -- step 1: store ---------------------------------------------------------------------------


def store_events(db: Database, txns: Sequence[Txn], received_at: str | None = None) -> None:
    """Write the events durably, each (device, seq) once; a duplicate changes nothing."""
    note_devices(db, (t.device_id for t in txns))
    encoded = encode_events(txns)
    db.run(lambda db: store_rows(db, txns, received_at or now_text(), encoded))


def encode_events(txns: Sequence[Txn]) -> dict[tuple[str, int], str]:
    """Each txn's row text, by (device, seq): worked out before the storing transaction opens."""
    return {(t.device_id, t.seq): json.dumps(txn_to_dict(t), separators=(",", ":"), ensure_ascii=False) for t in txns}


def store_rows(
    db: Database, txns: Sequence[Txn], received_at: str, bodies: dict[tuple[str, int], str] | None = None
) -> set[tuple[str, int]]:
    """store_events inside the caller's transaction (`bodies` from encode_events, or encoded
    here; it may hold more txns than `txns`). A (device, seq) already stored with OTHER content (a kiosk restarted from an old
    backup reuses seqs) is kept in `divergent_events` and reported, never silently dropped.
    Returns those (device, seq): HQ has not applied them, so they must not be acknowledged (the
    kiosk keeps them until someone resolves it). The devices' progress rows are the caller's
    (note_devices, once per device, outside this transaction)."""
    if bodies is None:
        bodies = encode_events(txns)
    divergent = []
    span: dict[str, tuple[int, int]] = {}
    for t in txns:
        device_id, seq = t.device_id, t.seq
        low, high = span.get(device_id, (seq, seq))
        span[device_id] = (min(low, seq), max(high, seq))
    for device_id in sorted(span):
        low, high = span[device_id]
        for seq, body in db.all("SELECT seq, body FROM events WHERE device_id = ? AND seq BETWEEN ? AND ?", (device_id, low, high)):
            mine = bodies.get((device_id, int(seq)))
            if mine is not None and mine != body:
                divergent.append((device_id, int(seq), hashlib.sha256(mine.encode()).hexdigest(), mine, received_at))
    db.insert_many(
        "events",
        ("device_id", "seq", "kind", "member_id", "at", "body", "received_at"),
        [(t.device_id, t.seq, str(t.kind), t.member_id, t.at.isoformat(), bodies[(t.device_id, t.seq)], received_at) for t in txns],
        "(device_id, seq) DO NOTHING",
    )
    db.executemany(
        "INSERT INTO divergent_events (device_id, seq, digest, body, received_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (device_id, seq, digest) DO NOTHING",
        divergent,
    )
    for device_id, seq, *_ in divergent:
        log.error(
            "event %s:%d arrived again with different content: kept aside and not acknowledged, see `kiosk hq conflicts`",
            device_id, seq,
        )
    return {(device_id, seq) for device_id, seq, *_ in divergent}


@dataclass(frozen=True)
class Divergent:
    device_id: str
    seq: int
    body: str
    received_at: str


def list_divergent(db: Database) -> list[Divergent]:
    rows = db.all("SELECT device_id, seq, body, received_at FROM divergent_events ORDER BY received_at, device_id, seq")
    return [Divergent(r[0], int(r[1]), r[2], r[3]) for r in rows]


# -- step 2: apply ---------------------------------------------------------------------------


def lock_progress(db: Database, device_id: str, skip_locked: bool = False) -> int | None:
    """The device's applied mark, its row locked until the transaction ends. With skip_locked
    (PostgreSQL), None when another receiver holds it: that one applies what is stored."""
    lock = db.for_update() + (" SKIP LOCKED" if skip_locked and db.for_update() else "")
    sql = f"SELECT applied_seq FROM progress WHERE device_id = ?{lock}"
    row = db.one(sql, (device_id,))
    if row is None:
        db.execute(
            "INSERT INTO progress (device_id, applied_seq) VALUES (?, 0) ON CONFLICT (device_id) DO NOTHING",
            (device_id,),
        )
        row = db.one(sql, (device_id,))
    return None if row is None else int(row[0])


HQ_DEVICE = "hq"  # HQ's own device id in the ledger (admin operations); no kiosk may use it
HQ_ONLY_KINDS = frozenset({Kind.ADJUSTMENT})  # a free balance change: never on a kiosk's word


def origin_problem(txn: Txn) -> str:
    """Why HQ refuses this txn from its sender ("" when it may send it): a kiosk's
    credentials must not be enough to set a balance, nor to sign a member up on a card said to be
    waiting to be written (a kiosk writes the card it signs up with; only HQ's counter cannot)."""
    if txn.kind in HQ_ONLY_KINDS and txn.device_id != HQ_DEVICE:
        return f"{txn.kind} may only be made at HQ, not by device {txn.device_id}"
    if txn.kind is Kind.SIGN_UP and txn.awaiting_write and txn.device_id != HQ_DEVICE:
        return f"a sign-up on a card waiting to be written is made only at HQ, not by device {txn.device_id}"
    return ""


def card_use_conflict(state: LedgerState, txn: Txn) -> str:
    """HQ's own check, before applying: a card HQ had already blocked, replaced or returned was
    used at a kiosk that did not know yet (offline). The money moved and stays applied, as
    LedgerState.apply does; HQ reports it beside any balance conflict."""
    card = state.cards.get(txn.card_uid)
    if txn.kind in MEMBER_USES and card is not None and card.status is not CardStatus.ACTIVE:
        return f"card {card.uid} was already {card.status} at HQ when this {txn.kind} was made"
    return ""


def decide(loaded: Loaded, txns: Sequence[Txn], device_id: str, applied: int, at: str) -> list[Conflict]:
    """Apply a contiguous run of one device's txns (seq applied+1...) to `loaded.state`, in Python
    only: the conflicts it found (the rows it changed are read off the state by plan_writes)."""
    loaded.state.last_seq[device_id] = applied
    conflicts: list[Conflict] = []
    for txn in txns:
        refused = origin_problem(txn)
        if refused:
            loaded.state.last_seq[txn.device_id] = txn.seq  # its seq is used up; nothing else changes
            conflicts.append(Conflict(txn.device_id, txn.seq, txn.member_id, str(txn.kind), f"not applied: {refused}", at))
            continue
        card_note = card_use_conflict(loaded.state, txn)
        result = loaded.state.apply(txn)
        detail = "; ".join(text for text in (result.conflict, card_note) if text)
        if detail:
            conflicts.append(Conflict(txn.device_id, txn.seq, txn.member_id, str(txn.kind), detail, at))
    return conflicts


def record(
    db: Database, writes: Writes, conflicts: list[Conflict], device_id: str, last: int, at: str, report: ApplyReport
) -> None:
    """Write a decided run in the caller's transaction: the rows, the device's new mark, the conflicts."""
    if writes.execute(db, at):
        report.blocked_changed = True
    db.execute("UPDATE progress SET applied_seq = ? WHERE device_id = ?", (last, device_id))
    db.executemany(
        "INSERT INTO conflicts (device_id, seq, member_id, kind, detail, detected_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, seq) DO NOTHING",
        [(c.device_id, c.seq, c.member_id, c.kind, c.detail, c.detected_at) for c in conflicts],
    )
    report.conflicts += conflicts


def apply_txns(db: Database, txns: Sequence[Txn], device_id: str, applied: int, report: ApplyReport) -> None:
    """Apply a contiguous run of one device's txns inside the caller's transaction, its rows
    locked while it decides (HQ's own operations, which already hold HQ's progress row)."""
    at = now_text()
    loaded = load_rows(db, (t.member_id for t in txns), [u for t in txns for u in (t.card_uid, t.new_card_uid)])
    conflicts = decide(loaded, txns, device_id, applied, at)
    record(db, plan_writes(loaded), conflicts, device_id, txns[-1].seq, at, report)
    report.applied += len(txns)
    _log_conflicts(conflicts)


def _log_conflicts(conflicts: list[Conflict]) -> None:
    for c in conflicts:
        log.warning("conflict %s (%s, member %s): %s", c.txn_id, c.kind, c.member_id, c.detail)


def apply_pending(
    db: Database,
    device_ids: Iterable[str],
    batch: int = APPLY_BATCH,
    wait: bool = True,
    known: dict[tuple[str, int], Txn] | None = None,
) -> ApplyReport:
    """Apply every stored event that is next in line for these devices; leave gaps waiting.
    wait=False: skip a device another receiver has claimed (it re-reads before it lets go, and
    the receivers' sweep catches the rare event committed just as it let go).
    `known`: txns the caller just stored and already checked, to skip decoding them again."""
    known = known or {}
    report = ApplyReport()
    for device_id in sorted(set(device_ids)):
        if not wait and not db.try_claim(device_id):
            continue
        try:
            while _apply_run(db, device_id, batch, known, report):
                pass
        finally:
            if not wait:
                db.release_claim(device_id)
    return report


def _apply_run(db: Database, device_id: str, batch: int, known: dict[tuple[str, int], Txn], report: ApplyReport) -> bool:
    """Read the device's next run and the rows it touches (no transaction, no lock), decide in
    Python, then write in a short transaction, if nothing it read has changed meanwhile (else
    nothing is written and the run is read again). False when nothing is next in line."""
    row = db.one("SELECT applied_seq FROM progress WHERE device_id = ?", (device_id,))
    if row is None:  # events stored without one (by an older HQ): make it, then read on
        note_devices(db, [device_id])
        row = db.one("SELECT applied_seq FROM progress WHERE device_id = ?", (device_id,))
    applied = int(row[0])
    rows = db.all(
        "SELECT seq, body FROM events WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?", (device_id, applied, batch)
    )
    txns = []
    for seq, body in rows:
        if seq != applied + len(txns) + 1:
            break
        txn = known.get((device_id, seq))
        txns.append(txn if txn is not None else txn_from_row(body))
    report.waiting.pop(device_id, None)
    if len(txns) < len(rows):
        report.waiting[device_id] = len(rows) - len(txns)
    if not txns:
        return False
    at = now_text()
    loaded = load_rows(db, (t.member_id for t in txns), [u for t in txns for u in (t.card_uid, t.new_card_uid)], lock=False)
    conflicts = decide(loaded, txns, device_id, applied, at)
    writes = plan_writes(loaded)
    run_report = ApplyReport()

    def write(db: Database) -> bool:
        if lock_progress(db, device_id) != applied or not unchanged(db, loaded):
            return False
        record(db, writes, conflicts, device_id, txns[-1].seq, at, run_report)
        return True

    if db.run(write):
        report.applied += len(txns)
        report.conflicts += run_report.conflicts
        report.blocked_changed |= run_report.blocked_changed
        _log_conflicts(conflicts)
    return True


def devices_with_pending(db: Database) -> list[str]:
    """Devices whose next event is stored but not applied (a crash between the steps, or an
    event committed just as another receiver finished). Cheap: one index probe per device."""
    rows = db.all(
        "SELECT p.device_id FROM progress p JOIN events e ON e.device_id = p.device_id AND e.seq = p.applied_seq + 1"
    )
    return [r[0] for r in rows]


def note_devices(db: Database, device_ids: Iterable[str]) -> None:
    """Give each device a progress row before its first events are stored, so
    devices_with_pending sees it: its own statement, outside the storing transaction (a row
    with nothing stored is harmless; the receiver calls it once per device it has not seen)."""
    db.executemany(
        "INSERT INTO progress (device_id, applied_seq) VALUES (?, 0) ON CONFLICT (device_id) DO NOTHING",
        [(d,) for d in sorted(set(device_ids))],
    )


# -- reading ---------------------------------------------------------------------------------


def load_state(db: Database) -> LedgerState:
    """HQ's whole ledger as a LedgerState (for account snapshots and for checks)."""
    members = {m: decode(Member, json.loads(b)) for m, b in db.all("SELECT member_id, body FROM members ORDER BY member_id")}
    cards = {u: decode(Card, json.loads(b)) for u, b in db.all("SELECT uid, body FROM cards ORDER BY uid")}
    accounts = {m: decode(Account, json.loads(b)) for m, b in db.all("SELECT member_id, body FROM accounts ORDER BY member_id")}
    stock = {r: int(n) for r, n in db.all("SELECT reward_id, units FROM stock")}
    last_seq = {d: int(s) for d, s in db.all("SELECT device_id, applied_seq FROM progress") if s}
    return LedgerState(members, cards, accounts, stock, last_seq)


def list_conflicts(db: Database, include_resolved: bool = False) -> list[Conflict]:
    where = "" if include_resolved else " WHERE resolved_at IS NULL"
    rows = db.all(
        "SELECT device_id, seq, member_id, kind, detail, detected_at, resolved_at FROM conflicts"
        f"{where} ORDER BY detected_at, device_id, seq"
    )
    return [Conflict(r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]


def resolve_conflict(
    db: Database, device_id: str, seq: int, record: Callable[[Database], None] | None = None
) -> bool:
    """Mark an open conflict handled; `record` runs in the same transaction when it was (the
    console's audit entry)."""

    def work(db: Database) -> bool:
        cur = db.execute(
            "UPDATE conflicts SET resolved_at = ? WHERE device_id = ? AND seq = ? AND resolved_at IS NULL",
            (now_text(), device_id, seq),
        )
        done = cur.rowcount == 1
        if done and record is not None:
            record(db)
        return done

    return db.run(work)


def event_counts(db: Database) -> dict[str, tuple[int, int, int]]:
    """device -> (events stored, highest seq stored, applied mark)."""
    stored = {d: (int(n), int(hi)) for d, n, hi in db.all("SELECT device_id, COUNT(*), MAX(seq) FROM events GROUP BY device_id")}
    applied = {d: int(s) for d, s in db.all("SELECT device_id, applied_seq FROM progress")}
    return {d: (n, hi, applied.get(d, 0)) for d, (n, hi) in stored.items()}
