"""HQ's rows coming into the kiosk's store (protocol v2): account deltas taken one at a time, and a
store snapshot loaded beside the replica and switched in whole. A mixin of `Store`.

A delta's rows go through the journal (a "rows" record, fsync'd, replayed in order with the
kiosk's own transactions), so a restart rebuilds exactly what the kiosk showed, and a
checkpoint writes them to the replica with the feed position (`HqFeed`) in one transaction. A
member with an own transaction HQ had not applied when it read the rows keeps the kiosk's row:
HQ's next delta for that member (after it applies the transaction) brings the row with it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from kiosk.ledger.codec import decode, encode
from kiosk.ledger.model import Account, Card, Member
from kiosk.ledger.txn import Txn, txn_from_dict
from kiosk.store.errors import ImpossibleSnapshot, StaleSnapshot, StoreError
from kiosk.store.journal import JournalCorrupt, read_segment, segment_name
from kiosk.store.loading import Chunk, Loading
from kiosk.store.replica import HqFeed

RECORD_BUDGET = 512 * 1024  # bytes of rows in one journal record (the journal's limit is 1 MiB)
_TYPES = {"members": Member, "cards": Card, "accounts": Account}


class HqRows:
    """Store's side of HQ's per-store feed; the attributes it uses are the store's."""

    hq_feed: HqFeed
    loading: Loading

    def _open_loading(self) -> None:
        self.loading = Loading(self.data_dir, self.device_id)

    def take_hq_rows(
        self, delta_seq: int, members: Sequence[Member], cards: Sequence[Card], accounts: Sequence[Account],
        own_applied: int,
    ) -> frozenset[str]:
        """Make HQ's rows of account delta `delta_seq` durable, then the state's. `own_applied`:
        this device's seqs HQ had applied when it read them. Returns the members kept as the
        kiosk has them (an own transaction on them is newer than HQ's row)."""
        with self._mutex:
            newer = frozenset(t.member_id for t in self.outbox() if t.seq > own_applied)
            rows = {
                "members": [m for m in members if m.member_id not in newer],
                "cards": [c for c in cards if c.member_id not in newer],
                "accounts": [a for a in accounts if a.member_id not in newer],
            }
            feed = HqFeed(self.hq_feed.snapshot_id, delta_seq)
            self._append(list(_records(rows, feed)))
            self._put_hq_rows(rows, feed)
            return newer

    def _put_hq_rows(self, rows: dict[str, Sequence], feed: HqFeed) -> None:
        state = self.ledger.state
        for m in rows["members"]:
            state.members[m.member_id] = m
        for c in rows["cards"]:
            state.cards[c.uid] = c
        for a in rows["accounts"]:
            state.accounts[a.member_id] = a
        self.hq_feed = feed

    def _replay_rows(self, record: dict) -> None:
        """A journal "rows" record the replica has not absorbed (rebuild.py)."""
        feed = record["feed"]
        rows = {name: [decode(cls, item, f"rows.{name}") for item in record[name]] for name, cls in _TYPES.items()}
        self._put_hq_rows(rows, HqFeed(int(feed[0]), int(feed[1])))

    # -- a store snapshot in chunks ----------------------------------------------------------

    def store_chunk(self, chunk: Chunk) -> bool:
        """Keep the next chunk of the snapshot being loaded (beside the replica, which keeps
        serving); True when kept. OSError for a disk that cannot take it (nothing kept).
        Any thread: only the staging file's lock is held (a tap never waits for a chunk)."""
        return self.loading.store(chunk)

    def install_loaded(self) -> int:
        """The complete snapshot becomes the replica: the kiosk's own transactions HQ had not
        applied are applied to it, then it is renamed over replica.sqlite (one atomic rename;
        until then the old replica serves). Returns how many own transactions were re-applied.
        StaleSnapshot when the journal no longer holds them all (the load is dropped: ask again)."""
        with self._snapshotting, self._mutex, self.loading.lock:
            progress = self.loading.progress
            if not progress.complete:
                raise StoreError(f"the snapshot being loaded is not complete ({progress.line})")
            try:
                mine = self._own_since(progress.own_high_water)
            except (StaleSnapshot, ImpossibleSnapshot):
                self.loading.discard()
                raise
            staged = self.loading.staged()
            state = staged.state()
            state.last_seq = {**self.ledger.state.last_seq, self.device_id: progress.own_high_water}
            for txn in mine:
                state.apply(txn)
            for reward in self.ledger.rules.rewards:
                state.stock.setdefault(reward.id, reward.stock)
            feed = HqFeed(progress.snapshot_id, progress.delta_seq)
            new, snap, covered = self._begin_snapshot()
            try:
                staged.write(state, new, feed=feed, also=(("DELETE FROM loading", ()),))
                staged.fold_wal()
                self.loading.close()
                self._replica.swap_in(self.loading.path)
            except OSError as exc:
                raise StoreError(f"{self.loading.path}: could not switch to HQ's snapshot: {exc}") from exc
            self.loading.finished()
            self.hq_feed = feed
            self._txns_from = new
            self.ledger.state = self._replica.state()
            self._write(snap)
            self._end_snapshot(new, covered)
            return len(mine)

    def _own_since(self, high: int) -> list[Txn]:
        """This device's transactions above `high`, in order: from the outbox, and from the journal
        for those HQ acknowledged meanwhile (a load takes a while; the kiosk keeps selling)."""
        ours = self.ledger.state.last_seq.get(self.device_id, 0)
        if high > ours:
            raise ImpossibleSnapshot(f"HQ's snapshot holds {self.device_id} up to seq {high}, this kiosk wrote {ours}")
        found = {t.seq: t for t in self.outbox() if t.seq > high}
        wanted = set(range(high + 1, ours + 1)) - set(found)
        if wanted:
            found.update(self._journalled_own(wanted))
        if missing := sorted(set(range(high + 1, ours + 1)) - set(found)):
            raise StaleSnapshot(
                f"HQ's snapshot covers {self.device_id} up to seq {high}, this kiosk is at {ours}, and the "
                f"journal no longer holds seq {missing[0]}"
            )
        return [found[s] for s in range(high + 1, ours + 1)]

    def _journalled_own(self, seqs: set[int]) -> dict[int, Txn]:
        numbers = list(self._journal.numbers)
        out: dict[int, Txn] = {}
        for number in numbers:
            try:
                segment = read_segment(self._journal_dir / segment_name(number), number, last=number == numbers[-1])
            except JournalCorrupt:
                continue
            for record in segment.records:
                data = record.get("txn") if record.get("t") == "txn" else None
                if isinstance(data, dict) and data.get("device_id") == self.device_id and data.get("seq") in seqs:
                    out[data["seq"]] = txn_from_dict(data)
        return out


def _records(rows: dict[str, Sequence], feed: HqFeed) -> Iterable[dict]:
    """The rows as journal records of at most RECORD_BUDGET bytes each (at least one record)."""
    record: dict = {"t": "rows", "feed": list(feed), "members": [], "cards": [], "accounts": []}
    size = 0
    for name in _TYPES:
        for row in rows[name]:
            item = encode(row)
            length = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
            if size and size + length > RECORD_BUDGET:
                yield record
                record, size = {"t": "rows", "feed": list(feed), "members": [], "cards": [], "accounts": []}, 0
            record[name].append(item)
            size += length
    yield record
