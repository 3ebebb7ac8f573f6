"""The kiosk's side of protocol v2's per-store replica: load the store's snapshot in chunks (asking
for a window at a time, resuming after a restart from the last chunk stored), then follow the
store's account deltas in order, asking HQ for any it missed.

Runs inside SyncClient.poll (the store's owner thread), except the chunks' writes: those go to
the chunk writer's thread (chunk_writer.py), whose results each poll takes back. Only with
`SyncSettings.store_replica`: a kiosk configured without it keeps protocol v1's whole-chain
`snapshot`."""

from __future__ import annotations

import logging
from typing import Any

from kiosk.store.errors import ImpossibleSnapshot, StaleSnapshot, StoreError
from kiosk.store.loading import Chunk
from kiosk.sync import messages as m
from kiosk.sync.chunk_writer import ChunkWriter

log = logging.getLogger("kiosk.sync")

WINDOW = 8  # chunks asked for at a time (8 MiB at most in flight through the broker)
ASK_AGAIN_S = 10.0  # no chunk for this long: ask again from the last one stored
CHECK_EVERY_S = 60.0  # a delta at or below the position: ask HQ where it stands at most this often


class StoreFeed:
    """A part of the SyncClient (`client`): its store, settings, clock and publishing."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.store = client.store
        self.enabled = client.settings.store_replica
        self._asked_at = float("-inf")  # clock time of the last snapshot request
        self._asked_through = -1  # the last chunk index of the window asked for
        self._online = False
        self._deltas_asked_at = float("-inf")
        self._checked_at = float("-inf")
        self._fresh_wanted = False  # HQ cannot send the deltas after our position: a new snapshot
        self.writer = ChunkWriter(self.store)  # the chunks' writes, off this thread

    def handlers(self) -> dict:
        return {m.SnapshotChunk: self._on_chunk, m.AccountDelta: self._on_delta,
                m.DeltasUnavailable: self._on_unavailable}

    @property
    def progress_line(self) -> str:
        """'' when no load is under way; else e.g. '3/40 chunks (7%) of snapshot 1765...'."""
        return self.store.loading.progress.line if self.enabled else ""

    # -- each poll, while connected ---------------------------------------------------------

    def tick(self, online: bool) -> None:
        if not self.enabled:
            return
        self._take_written()
        came_online, self._online = online and not self._online, online
        if not online:
            return
        if self.store.loading.progress.complete:
            self._install()
            return
        now = self.client._clock()
        loading = self.store.loading.progress
        if (loading.chunks or self._fresh_wanted or not self.store.hq_feed.snapshot_id) and (
            came_online or now - self._asked_at >= ASK_AGAIN_S
        ):
            self._ask(loading.snapshot_id, loading.next_index)
        elif came_online and self.store.hq_feed.snapshot_id:
            self._ask_deltas("back online")

    def _ask(self, snapshot_id: int, first: int) -> None:
        request = m.SnapshotRequest(self.client.settings.device_id, snapshot_id, first, WINDOW, self.client._now())
        if self.client._publish(self.client.topics.topic("snapshot_request"), request) == 0:
            self._asked_at = self.client._clock()
            self._asked_through = first + WINDOW - 1

    def _ask_deltas(self, why: str, force: bool = False) -> None:
        now = self.client._clock()
        if now - self._deltas_asked_at < 1.0 and not force:
            return
        self._deltas_asked_at = now
        self.client.publish_resync("deltas", self.store.hq_feed.delta_seq, why)

    # -- what HQ sends -----------------------------------------------------------------------

    def _on_chunk(self, msg: m.SnapshotChunk, topic: str) -> None:
        if not self.enabled:
            self.client.reject(topic, m.WRONG_TOPIC, "type", "this kiosk does not keep a per-store replica")
            return
        rows = msg.rows
        chunk = Chunk(msg.snapshot_id, msg.index, msg.chunks, msg.own_high_water, msg.delta_seq,
                      rows.members, rows.cards, rows.accounts, msg.stock, rows.items)
        if not self.writer.put(chunk):
            log.info("snapshot chunk %d dropped: %d chunks wait to be written", msg.index, self.writer.waiting)

    def _take_written(self) -> None:
        """What the chunk writer did since the last poll: the next window asked for when the last
        one asked is stored, the install once the last chunk is in."""
        kept = False
        for written in self.writer.written():
            if written.error:
                self.client._note_error(written.error)
            kept = kept or written.kept
        if not kept:
            return  # repeats, or another snapshot's: the window is asked for again if need be
        self._asked_at = self.client._clock()
        progress = self.store.loading.progress
        if progress.complete:
            self._install()
        elif progress.next_index > self._asked_through:
            self._ask(progress.snapshot_id, progress.next_index)

    def stop(self) -> None:
        self.writer.stop()

    def _install(self) -> None:
        progress = self.store.loading.progress
        try:
            again = self.store.install_loaded()
        except (StaleSnapshot, ImpossibleSnapshot) as exc:
            log.warning("store snapshot %s not used: %s; asking for a new one", progress.snapshot_id, exc)
            self._ask(0, 0)
            return
        except StoreError as exc:
            self.client._note_error(f"store: {exc}")
            return
        self._fresh_wanted = False
        log.info("store snapshot %s in use (%d chunks, %d own transactions re-applied)",
                 progress.snapshot_id, progress.chunks, again)
        self.client.status_due = True
        self._ask_deltas("snapshot installed", force=True)  # from a new position: never throttled

    def _on_delta(self, msg: m.AccountDelta, topic: str) -> None:
        if not self.enabled:
            return  # a v1 kiosk keeps the whole-chain snapshot; its store's deltas are not for it
        if msg.store != self.client.settings.store_id:
            self.client.reject(topic, m.WRONG_TOPIC, "store", "not this kiosk's store feed")
            return
        feed = self.store.hq_feed
        if not feed.snapshot_id or self._loading_anew:
            return  # the snapshot being loaded holds these (it asks for the deltas after it)
        if msg.seq <= feed.delta_seq:
            self._check_position()  # a repeat; or HQ restored from a backup numbers again below us
            return
        if msg.seq != feed.delta_seq + 1:
            self._ask_deltas(f"delta {msg.seq} after {feed.delta_seq}")
            return
        rows = msg.rows
        own = msg.applied.get(self.client.settings.device_id, 0)
        kept = self.store.take_hq_rows(msg.seq, rows.members, rows.cards, rows.accounts, own)
        if kept:
            log.info("account delta %d: %d members keep this kiosk's newer rows", msg.seq, len(kept))

    @property
    def _loading_anew(self) -> bool:
        return self._fresh_wanted or self.store.loading.progress.chunks > 0

    def _check_position(self) -> None:
        now = self.client._clock()
        if now - self._checked_at >= CHECK_EVERY_S:
            self._checked_at = now
            self._ask_deltas("a delta at or below this kiosk's position")

    def _on_unavailable(self, msg: m.DeltasUnavailable, topic: str) -> None:
        """HQ cannot send the deltas after our position (pruned past its retention, or HQ is
        behind us: restored from a backup): load a fresh store snapshot. The replica serves
        meanwhile, and the kiosk's own transactions HQ has not applied are re-applied to it."""
        if not self.enabled:
            return
        if msg.store != self.client.settings.store_id:
            self.client.reject(topic, m.WRONG_TOPIC, "store", "not this kiosk's store")
            return
        if self._loading_anew or msg.after != self.store.hq_feed.delta_seq:
            return  # a load is under way already, or an answer to a position we have left
        log.warning("HQ cannot send the account deltas after %d (%s; it keeps %d..%d): loading a new store snapshot",
                    msg.after, msg.reason, msg.oldest, msg.newest)
        self._fresh_wanted = True
        self._ask(0, 0)
