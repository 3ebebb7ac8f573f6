"""The kiosk's local store: a durable journal in front of the ledger, plus the outbox.

    data_dir/lock                 flock'd by the one writer; holds its pid
    data_dir/replica.sqlite       the member replica: members, cards, accounts, stock, seqs, and
                                  the journal segment from which it still needs replaying
    data_dir/snapshot.json        TinyDB JSON: rules, meta; which journal segment follows
    data_dir/snapshot.prev.json   the snapshot before it (the last good copy)
    data_dir/journal/NNNNNNNN.jnl segments of checksummed records (txn, ack, meta, rules)
    data_dir/journal/damaged/     a segment with a torn tail, copied whole before the tail is cut

`commit` appends the transaction to the journal and fdatasyncs before it changes anything in
memory, so a member only sees "done" for what survives a power cut. The ledger reads members
from the replica on demand and keeps the rows it changed in memory until the next checkpoint.
`checkpoint` starts a new segment, writes those changed rows to the replica with the new
position (one SQLite transaction), writes the snapshot atomically and deletes the oldest
segments once both kept snapshots and the replica cover them and HQ has acknowledged every
transaction in them. The outbox is the
journal's own-device transactions HQ has not acknowledged, rebuilt from the journal at open."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from kiosk.ledger.pin import DEFAULT_PARAMS, PinHashParams
from kiosk.ledger.rows import Rows
from kiosk.ledger.rules import Rules, parse_rules
from kiosk.ledger.state import ApplyResult, LedgerState, SequenceGap
from kiosk.ledger.txn import Txn, TxnFormatError, txn_from_dict, txn_to_dict
from kiosk.ledger.utc import parse_utc, utc_text
from kiosk.store.errors import (
    ImpossibleSnapshot,
    StaleSnapshot,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreWriteError,
    TxnIdReused,
)
from kiosk.store.files import make_dir
from kiosk.store.health import SNAPSHOT, disk_problems, state_invariant_problems  # noqa: F401 - re-exported
from kiosk.store.hq_rows import HqRows
from kiosk.store.journal import (
    Journal,
    JournalCorrupt,
    JournalWriteError,
    segment_name,
    segment_numbers,
)
from kiosk.store.lock import DirLock
from kiosk.store.rebuild import Rebuild
from kiosk.store.replica import Replica
from kiosk.store.snapshot import Snapshot, SnapshotError, read_snapshot, write_snapshot

__all__ = [
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreCorrupt",
    "StoreWriteError",
    "StaleSnapshot",
    "ImpossibleSnapshot",
    "TxnIdReused",
]

CHECKPOINT_EVERY = 5000  # journal records after which `checkpoint_due()` says it is time
# A safety net if nobody calls checkpoint at idle moments: start-up replays every record since
# the snapshot (~0.1 ms each here, more on a Pi), so never let that grow without bound.
AUTO_CHECKPOINT_AFTER = 4 * CHECKPOINT_EVERY
ACK_IDS_PER_RECORD = 2000
LATEST_AT_KEY = "ledger.latest_at"  # meta: the latest transaction time, kept by each checkpoint
log = logging.getLogger("kiosk.store")


def _serialized(method: Callable) -> Callable:
    """Store methods may be called from the UI thread and the sync thread; one at a time."""

    @functools.wraps(method)
    def wrapper(self: Store, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class Store(Rebuild, HqRows):
    """Open with `Store.open`; one instance per data directory and process."""

    def __init__(self) -> None:  # use Store.open
        raise TypeError("use Store.open(data_dir, device_id, ...)")

    @classmethod
    def open(
        cls,
        data_dir: Path,
        device_id: str,
        rules: Rules | None = None,
        pepper: bytes = b"",
        pin_params: PinHashParams = DEFAULT_PARAMS,
    ) -> Store:
        """Take the lock, load the snapshot, replay the journal (cutting off a torn tail).

        `rules` are used only while the store holds none from HQ (see `put_rules`); without
        either, the package's sample rules apply."""
        self = object.__new__(cls)
        self.data_dir = Path(data_dir)
        self.device_id = device_id
        self._mutex = threading.RLock()  # guards the journal, the state and the outbox
        self._snapshotting = threading.Lock()  # one snapshot writer at a time; taken before _mutex
        try:
            make_dir(self.data_dir)
            self._lock = DirLock(self.data_dir / "lock")
        except OSError as exc:  # e.g. the card was remounted read-only after an error
            raise StoreWriteError(f"{self.data_dir}: cannot open the store for writing: {exc.strerror or exc}") from exc
        try:
            self._load(rules, pepper, pin_params)
        except OSError as exc:
            self._lock.release()
            raise StoreWriteError(f"{self.data_dir}: cannot open the store for writing: {exc.strerror or exc}") from exc
        except BaseException:
            self._lock.release()
            raise
        return self

    def _load(self, rules: Rules | None, pepper: bytes, pin_params: PinHashParams) -> None:
        self._closed = False
        self._latest_at: datetime | None = None
        self._journal_dir = self.data_dir / "journal"
        make_dir(self._journal_dir)
        snap_path = self.data_dir / SNAPSHOT
        try:
            snap = read_snapshot(snap_path)
        except SnapshotError as exc:
            raise StoreCorrupt(exc.path, exc.problem) from None
        try:
            numbers = segment_numbers(self._journal_dir)
        except JournalCorrupt as exc:
            raise StoreCorrupt(exc.path, exc.problem) from None

        if snap is None:
            if numbers and numbers[0] != 1:
                raise StoreCorrupt(snap_path, f"missing, but the journal starts at segment {numbers[0]}")
            snap = Snapshot(device_id=self.device_id, replay_from=1, state=None)
        if snap.device_id != self.device_id:
            raise StoreCorrupt(snap_path, f"belongs to device {snap.device_id!r}, not {self.device_id!r}")
        self._replica = Replica.open(self.data_dir, self.device_id)
        try:
            state, self._txns_from = self._base_state(snap, numbers)
        except BaseException:
            self._replica.close()
            raise
        for needed in {snap.replay_from, self._txns_from}:
            if (numbers or needed > 1) and not (numbers and numbers[0] <= needed <= numbers[-1]):
                self._replica.close()
                missing = segment_name(needed)
                raise StoreCorrupt(self._journal_dir / missing, "journal segment the snapshot needs is missing")
        try:
            self._replay_all(snap, state, numbers, rules, pepper, pin_params)
        except BaseException:
            self._replica.close()
            raise
        self._journal = Journal(self._journal_dir, numbers)
        self._open_loading()
        self._pending.setdefault(self._journal.current, 0)
        try:
            self._saw(parse_utc(self._meta.get(LATEST_AT_KEY)))
        except ValueError:
            pass  # no checkpoint has recorded one yet: the replayed journal's times stand
        if self.checkpoint_due() or not isinstance(self.ledger.state.accounts, Rows):
            self._checkpoint_quietly("long journal replayed, or a whole-state snapshot moved to the replica, at open")

    # -- writing ---------------------------------------------------------------------------------

    def _append(self, records: list[dict]) -> None:
        if self._closed:
            raise StoreError("the store is closed")
        try:
            self._journal.append(records)
        except JournalWriteError as exc:
            raise StoreWriteError(f"{self._journal_dir}: could not save: {exc.strerror or exc}") from exc
        self._since_checkpoint += len(records)

    def commit(self, txn: Txn) -> ApplyResult:
        """Make `txn` durable, then apply it. A duplicate is a no-op; a failed write changes nothing."""
        return self.commit_many([txn])[0]

    @_serialized
    def commit_many(self, txns: Iterable[Txn]) -> list[ApplyResult]:
        """Commit several transactions with one fsync (e.g. a batch pushed by HQ)."""
        state = self.ledger.state
        high = dict(state.last_seq)
        fresh: list[Txn] = []
        records: list[dict] = []
        results: list[ApplyResult | None] = []
        for txn in txns:
            last = high.get(txn.device_id, 0)
            if txn.seq <= last:
                earlier = self._outbox.get(txn.txn_id)
                if isinstance(earlier, Txn) and earlier != txn:
                    raise TxnIdReused(txn.txn_id)
                results.append(ApplyResult(applied=False))
                continue
            if txn.seq != last + 1:
                raise SequenceGap(txn.device_id, last + 1, txn.seq)
            record = txn_to_dict(txn)
            if txn_from_dict(record) != txn:  # what open() will read back must be this very txn
                raise TxnFormatError("-", "does not survive a round trip through the journal")
            high[txn.device_id] = txn.seq
            fresh.append(txn)
            records.append({"t": "txn", "txn": record})
            results.append(None)
        if fresh:
            self._append(records)
        applied = iter([state.apply(t) for t in fresh])
        for txn in fresh:
            self._saw(txn.at)
            if txn.device_id == self.device_id:
                self._outbox[txn.txn_id] = txn
                self._segment_of[txn.txn_id] = self._journal.current
                self._pending[self._journal.current] += 1
        if self._since_checkpoint >= AUTO_CHECKPOINT_AFTER and self._snapshotting.acquire(blocking=False):
            try:  # (if a checkpoint is already under way, it will do)
                self._checkpoint_quietly("nobody called checkpoint() for a long time", locked=True)
            finally:
                self._snapshotting.release()
        return [r if r is not None else next(applied) for r in results]

    def _checkpoint_quietly(self, why: str, locked: bool = False) -> None:
        """A checkpoint the caller did not ask for: its failure must not look like a failed commit."""
        try:
            if locked:
                self._checkpoint()
            else:
                self.checkpoint()
            log.info("checkpoint written (%s)", why)
        except StoreError as exc:
            log.warning("automatic checkpoint failed (%s): %s", why, exc)

    @_serialized
    def ack(self, txn_ids: Iterable[str]) -> int:
        """HQ has committed these; durably forget them. Returns how many were in the outbox."""
        new = [i for i in dict.fromkeys(txn_ids) if i in self._outbox]
        if not new:
            return 0
        chunks = [new[i : i + ACK_IDS_PER_RECORD] for i in range(0, len(new), ACK_IDS_PER_RECORD)]
        self._append([{"t": "ack", "ids": chunk} for chunk in chunks])
        self._forget(new)
        return len(new)

    def _forget(self, txn_ids: Iterable[str]) -> None:
        for txn_id in txn_ids:
            if self._outbox.pop(txn_id, None) is not None:
                self._pending[self._segment_of.pop(txn_id)] -= 1

    @property
    def latest_txn_at(self) -> datetime | None:
        """The latest time of a transaction this store holds, kept as they come (the clock check
        asks it at every tap; the members' own times would mean reading the whole replica)."""
        return self._latest_at

    def _saw(self, at: datetime) -> None:
        if self._latest_at is None or at > self._latest_at:
            self._latest_at = at

    @_serialized
    def meta_put(self, key: str, value: object) -> None:
        """Durably remember a small JSON value (last HQ contact, blocked-list version...)."""
        if not isinstance(key, str) or not key:
            raise ValueError("meta key must be a non-empty string")
        value = json.loads(json.dumps(value))  # refuses what JSON cannot hold; keeps our own copy
        self._append([{"t": "meta", "k": key, "v": value}])
        self._meta[key] = value

    @_serialized
    def meta_get(self, key: str, default: object = None) -> object:
        return copy.deepcopy(self._meta.get(key, default))

    @_serialized
    def put_rules(self, rules_doc: dict) -> Rules:
        """Check HQ's rules document (RulesError, nothing changed), persist it, put it in force."""
        rules = parse_rules(rules_doc, "rules from HQ")
        doc = json.loads(json.dumps(rules_doc))
        self._append([{"t": "rules", "doc": doc}])
        self.ledger.use_rules(rules)
        self._rules_doc = doc
        return rules

    # -- reading ---------------------------------------------------------------------------------

    @_serialized
    def outbox(self, limit: int | None = None) -> list[Txn]:
        """This device's committed transactions HQ has not acknowledged, oldest first."""
        entries = list(itertools.islice(self._outbox.items(), limit))
        out = []
        for txn_id, entry in entries:
            if isinstance(entry, dict):
                entry = self._decode_journalled(txn_id, entry)
            out.append(entry)
        return out

    def _decode_journalled(self, txn_id: str, data: dict) -> Txn:
        try:
            txn = txn_from_dict(data)
        except TxnFormatError as exc:
            path = self._journal_dir / segment_name(self._segment_of[txn_id])
            raise StoreCorrupt(path, f"transaction {txn_id[:80]}: {exc}") from None
        if txn.txn_id != txn_id:
            raise StoreCorrupt(self._journal_dir, f"transaction {txn_id[:80]} changed its id")
        self._outbox[txn_id] = txn
        return txn

    def torn_tail_copies(self) -> list[Path]:
        """Segments as found before a torn tail was cut (at this open or an earlier one)."""
        damaged = self._journal_dir / "damaged"
        return sorted(damaged.iterdir()) if damaged.is_dir() else []

    def outbox_depth(self) -> int:
        return len(self._outbox)

    @property
    def rules_doc(self) -> dict | None:
        return copy.deepcopy(self._rules_doc)

    def journal_segments(self) -> list[int]:
        return list(self._journal.numbers)

    @property
    def records_since_checkpoint(self) -> int:
        """Journal records a start-up would have to replay on top of the snapshot."""
        return self._since_checkpoint

    def checkpoint_due(self) -> bool:
        """True when enough has been journalled since the last snapshot to write a new one."""
        return self._since_checkpoint >= CHECKPOINT_EVERY

    # -- snapshots -------------------------------------------------------------------------------

    def checkpoint(self) -> list[int]:
        """Write the snapshot atomically; delete segments both kept snapshots cover and HQ acked.
        Returns the numbers of the segments deleted.

        Only the start (copy the state, open a new journal segment) and the end hold the store's
        lock: while the snapshot is encoded and written, other threads keep committing."""
        with self._snapshotting:
            return self._checkpoint()

    def checkpoint_in_background(self) -> threading.Thread:
        """Run `checkpoint` on its own thread (e.g. from the UI thread at an idle moment)."""
        thread = threading.Thread(
            target=self._checkpoint_quietly, args=("in the background",), name="store-checkpoint"
        )
        thread.start()
        return thread

    def _checkpoint(self) -> list[int]:
        with self._mutex:  # writing the changed rows costs what changed, not the chain
            new, snap, covered = self._begin_snapshot()
            self._write_replica(self.ledger.state, new)
        self._write(snap)
        with self._mutex:
            return self._end_snapshot(new, covered)

    def _write_replica(self, state: LedgerState, absorbed: int) -> None:
        """The rows `state` changed (all of them for a whole state in memory: an old snapshot
        or HQ's), with the segment from which the journal must still be replayed onto them."""
        whole = not isinstance(state.accounts, Rows)
        try:
            self._replica.write(state, absorbed, whole=whole, feed=self.hq_feed)
        except OSError as exc:
            raise StoreWriteError(f"{self._replica.path}: could not write the member replica: {exc}") from exc
        self._txns_from = absorbed
        if whole:
            self.ledger.state = self._replica.state()

    def _begin_snapshot(self) -> tuple[int, Snapshot, int]:
        """Start a new segment: the snapshot covers exactly the segments before it."""
        if self._closed:
            raise StoreError("the store is closed")
        try:
            new = self._journal.new_segment()
        except OSError as exc:
            raise StoreWriteError(f"{self._journal_dir}: could not start a journal segment: {exc}") from exc
        self._pending[new] = 0
        if self._latest_at is not None:
            self._meta[LATEST_AT_KEY] = utc_text(self._latest_at)
        snap = Snapshot(
            device_id=self.device_id,
            replay_from=new,
            state=None,
            rules_doc=self._rules_doc,
            meta=dict(self._meta),
            prev_replay_from=self._replay_from,
        )
        return new, snap, self._since_checkpoint

    def _write(self, snap: Snapshot) -> None:
        try:
            write_snapshot(self.data_dir / SNAPSHOT, snap)
        except OSError as exc:
            raise StoreWriteError(f"{self.data_dir}: could not write the snapshot: {exc}") from exc

    def _end_snapshot(self, new: int, covered: int) -> list[int]:
        self._prev_replay_from, self._replay_from = self._replay_from, new
        self._since_checkpoint -= covered
        return self._drop_old_segments()

    def _drop_old_segments(self) -> list[int]:
        keep_from = self._prev_replay_from  # the previous snapshot must stay usable
        for number in self._journal.numbers:
            if number >= keep_from or self._pending.get(number, 0):
                keep_from = number
                break
        try:
            gone = self._journal.delete_below(keep_from)
        except OSError as exc:  # the snapshot is written; the next checkpoint deletes them
            raise StoreWriteError(
                f"{self._journal_dir}: snapshot written, but old segments could not be deleted: "
                f"{exc.strerror or exc}"
            ) from exc
        for number in gone:
            self._pending.pop(number, None)
        return gone

    def replace_state_from_hq(self, snapshot_state: LedgerState, own_high_water: int) -> int:
        """Take HQ's account state, re-apply this device's journalled txns above `own_high_water`
        (those HQ has not got yet), and make the result durable as a new snapshot.

        Returns how many own transactions were re-applied. StaleSnapshot (nothing changed) if
        HQ's snapshot misses transactions that are no longer in the journal; ImpossibleSnapshot
        if it claims more of this device's history than the device ever wrote (taking it would
        hand out the same seqs again)."""
        with self._snapshotting, self._mutex:
            return self._replace_state(snapshot_state, own_high_water)

    def _replace_state(self, snapshot_state: LedgerState, own_high_water: int) -> int:
        mine = [t for t in self.outbox() if t.seq > own_high_water]
        ours = self.ledger.state.last_seq.get(self.device_id, 0)
        claimed = snapshot_state.last_seq.get(self.device_id, 0)
        if own_high_water > ours or claimed != own_high_water:
            raise ImpossibleSnapshot(
                f"HQ snapshot says it holds {self.device_id} up to seq {own_high_water} (its state: {claimed}), "
                f"but this kiosk has written only up to seq {ours}; refused, nothing changed"
            )
        if [t.seq for t in mine] != list(range(own_high_water + 1, ours + 1)):
            raise StaleSnapshot(
                f"HQ snapshot covers {self.device_id} up to seq {own_high_water}, this kiosk is at {ours}, "
                f"and the journal no longer holds every transaction in between"
            )
        state = snapshot_state.copy()
        for txn in mine:
            state.apply(txn)
        for reward in self.ledger.rules.rewards:
            state.stock.setdefault(reward.id, reward.stock)
        new, snap, covered = self._begin_snapshot()
        self._write_replica(state, new)  # every row: HQ's state replaces the replica's
        self._write(snap)
        self._end_snapshot(new, covered)
        return len(mine)

    # -- health ----------------------------------------------------------------------------------

    @_serialized
    def check(self) -> list[str]:
        """Problems found by re-reading everything on disk and checking the state's invariants."""
        return disk_problems(
            self.data_dir, self.device_id, self._fallback_rules, self._journal_dir,
            list(self._journal.numbers), self._replay_from, self.ledger.state, self._replica,
        )

    def close(self) -> None:
        with self._snapshotting, self._mutex:  # waits for a checkpoint under way
            self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._journal.close()
            self.loading.shut()
            self._replica.close()
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
