"""Opening the store: what the journal replays onto (the member replica, or the whole state of
an old-format snapshot) and the replay itself, with the checks that no committed transaction is
dropped or applied twice and no seq is handed out again. A mixin of `Store` (kiosk/store/store.py),
kept apart because it is the one part that runs before the store is usable."""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import PinHashParams
from kiosk.ledger.rules import Rules, RulesError, parse_rules
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState, SequenceGap
from kiosk.ledger.txn import Txn, TxnFormatError, txn_from_dict
from kiosk.store.errors import StoreCorrupt
from kiosk.store.health import SNAPSHOT
from kiosk.store.journal import JournalCorrupt, cut_torn_tail, read_segment, segment_name
from kiosk.store.snapshot import Snapshot

log = logging.getLogger("kiosk.store")


class Rebuild:
    """Store's start-up steps; the attributes they set are the store's."""

    def _base_state(self, snap: Snapshot, numbers: list[int]) -> tuple[LedgerState, int]:
        """What the journal replays onto, and from which segment its transactions are new: the
        replica, or the whole state of an old-format snapshot newer than the replica."""
        replica = self._replica
        if snap.state is not None and (replica.fresh or replica.absorbed < snap.replay_from):
            return snap.state, snap.replay_from
        written = (self.data_dir / SNAPSHOT).exists()
        if replica.fresh and (written or (numbers and numbers[0] != 1)):
            # A checkpoint wrote the replica before this snapshot, and it may hold rows the journal
            # never did (HQ's snapshot): rebuilding from the journal alone would lose them.
            raise StoreCorrupt(
                replica.path,
                "missing or empty, but a checkpoint wrote it (or the journal no longer starts at segment 1), "
                "so the members cannot be rebuilt here: put back the data directory's replica.sqlite, "
                "or reload this kiosk from HQ",
            )
        return replica.state(), replica.absorbed

    def _replay_all(
        self, snap: Snapshot, state: LedgerState, numbers: list[int], rules: Rules | None,
        pepper: bytes, pin_params: PinHashParams,
    ) -> None:
        snap_path = self.data_dir / SNAPSHOT
        self._replay_from = snap.replay_from
        self._prev_replay_from = snap.prev_replay_from
        self._rules_doc = snap.rules_doc
        self.hq_feed = self._replica.feed()  # HQ's per-store feed; "rows" records move it on
        self._meta: dict = dict(snap.meta)
        self._fallback_rules = rules or default_rules()
        if snap.rules_doc is not None:
            try:
                rules = parse_rules(snap.rules_doc, f"{snap_path} (rules table)")
            except RulesError as exc:
                raise StoreCorrupt(snap_path, str(exc)) from None
        self.ledger = Ledger(state, rules or self._fallback_rules, self.device_id, pepper, pin_params)
        self._outbox: dict[str, Txn | dict] = {}  # dict: journalled, decoded on first read
        self._segment_of: dict[str, int] = {}
        self._pending: dict[int, int] = {n: 0 for n in numbers}
        self._since_checkpoint = 0
        self._snapshot_seq = dict(state.last_seq)  # what the replica (or old snapshot) covers, per device
        self._own_high = 0  # the highest own seq found anywhere in the journal
        self.repaired: list[Path] = []  # torn tails cut off during this open (copies kept here)
        for number in numbers:
            path = self._journal_dir / segment_name(number)
            try:
                segment = read_segment(path, number, last=number == numbers[-1])
            except JournalCorrupt as exc:
                raise StoreCorrupt(exc.path, f"at byte {exc.offset}: {exc.problem}") from None
            for index, record in enumerate(segment.records):
                try:
                    self._replay(record, number)
                except (TxnFormatError, RulesError, SequenceGap, KeyError, TypeError, ValueError) as exc:
                    raise StoreCorrupt(path, f"record {index + 1}: {type(exc).__name__}: {exc}") from None
            if segment.torn is not None:
                aside = cut_torn_tail(segment, self._journal_dir / "damaged")
                self.repaired.append(aside)
                log.warning(
                    "%s: an append a power cut interrupted was cut at byte %d (%s); nothing committed "
                    "is lost; the segment as found is kept in %s",
                    path, segment.torn.good_end, segment.torn.problem, aside,
                )
        if self._own_high > self.ledger.state.last_seq.get(self.device_id, 0):
            raise StoreCorrupt(
                snap_path,
                f"the journal holds {self.device_id}:{self._own_high}, but the state rebuilt from the snapshot "
                f"and the journal stops at seq {self.ledger.state.last_seq.get(self.device_id, 0)}",
            )

    def _replay(self, record: dict, segment: int) -> None:
        kind = record["t"]
        covered = segment < self._replay_from  # rules and meta: in the snapshot
        if kind == "txn":
            covered = segment < self._txns_from  # in the replica (or the old snapshot's state)
            data = record["txn"]
            if covered:
                # The snapshot holds its effect; only the outbox needs it. Decoding waits until
                # outbox() is read, which keeps start-up short with a long offline backlog.
                if not isinstance(data, dict) or not isinstance(data.get("txn_id"), str):
                    raise TypeError("txn record without a txn_id")
                own = data.get("device_id") == self.device_id
                txn_id, entry = data["txn_id"], data
            else:
                txn = txn_from_dict(data)
                self.ledger.state.apply(txn)
                self._saw(txn.at)
                self._since_checkpoint += 1
                own = txn.device_id == self.device_id
                txn_id, entry = txn.txn_id, txn
            self._check_continuity(data if covered else txn, covered, own)
            if own and txn_id not in self._segment_of:
                self._outbox[txn_id] = entry
                self._segment_of[txn_id] = segment
                self._pending[segment] += 1
        elif kind == "ack":
            ids = record["ids"]
            if not isinstance(ids, list):
                raise TypeError("ack ids must be a list")
            self._forget(ids)
        elif kind == "meta":
            if not covered:
                self._meta[str(record["k"])] = record["v"]
        elif kind == "rules":
            if not covered:
                self.ledger.use_rules(parse_rules(record["doc"], "journal rules record"))
                self._rules_doc = record["doc"]
        elif kind == "rows":
            if segment >= self._txns_from:  # else the replica holds them (and the feed position)
                self._replay_rows(record)
        else:
            raise ValueError(f"unknown record type {str(kind)[:20]!r}")

    def _check_continuity(self, txn: Txn | dict, covered: bool, own: bool) -> None:
        """A record in a segment the snapshot claims to cover must be in the snapshot: if not,
        the snapshot's journal position is wrong and trusting it would drop committed money and
        hand out its seq again. Never issue a seq below the highest ever written."""
        device, seq = (txn["device_id"], txn["seq"]) if isinstance(txn, dict) else (txn.device_id, txn.seq)
        if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(device, str):
            raise TypeError("txn record without a device_id and an integer seq")
        if own:
            self._own_high = max(self._own_high, seq)
        if covered and seq > self._snapshot_seq.get(device, 0):
            raise ValueError(
                f"{device}:{seq} is in a segment the replica says it has absorbed (up to segment "
                f"{self._txns_from}), but the replica stops at seq {self._snapshot_seq.get(device, 0)}"
            )
