"""A store snapshot's chunks written on a thread of their own, off the store owner's loop.

Writing a chunk of 600 members into replica.next.sqlite takes 70-130 ms on a Pi. Done inside
SyncClient.poll, on the app's main loop, it froze the touchscreen for that long at every chunk of a
first load (about 170 chunks for a store of 100,000 members). The staging file is one the serving
replica never reads, so its writes can run here: each chunk still in one SQLite transaction with
the `loading` row (Loading.store). StoreFeed, on the poll thread, hands the chunks over in the
order they came and takes back what became of each, so asking for the next window and the install
stay on the store owner's thread.

A power cut loses only what the queue held in memory, as the incoming queue did before: the
kiosk asks again from its last stored chunk."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from kiosk.store.errors import StoreError
from kiosk.store.loading import Chunk

log = logging.getLogger("kiosk.sync")

QUEUE_CHUNKS = 16  # two windows: more waiting than that is dropped (asked for again from the stored)
THREAD_NAME = "kiosk-chunk-writer"


@dataclass(frozen=True)
class Written:
    """What became of one chunk: kept (the next of the load), not (a repeat, another
    snapshot's), or not written at all (`error`: the disk could not take it)."""

    snapshot_id: int
    index: int
    kept: bool
    error: str = ""


class ChunkWriter:
    """Writes chunks into the store's staging replica (`store.store_chunk`) on its own thread,
    started at the first chunk."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._todo: queue.Queue[Chunk | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._done: queue.Queue[Written] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, chunk: Chunk) -> bool:
        """Queue the chunk for writing; False when the queue is full or the writer stopped (then
        the chunk is dropped, and asked for again)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
                self._thread.start()
            try:
                self._todo.put_nowait(chunk)
            except queue.Full:
                return False
            return True

    def written(self) -> list[Written]:
        """What became of the chunks written since the last call, in order."""
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    @property
    def waiting(self) -> int:
        """Chunks queued or being written."""
        return self._todo.unfinished_tasks

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the chunk being written, drop those still queued, and end the thread."""
        with self._lock:  # put() waits: the sentinel finds room in the queue
            thread, self._thread = self._thread, None
            if thread is None:
                return
            while True:
                try:
                    self._todo.get_nowait()
                except queue.Empty:
                    break
                self._todo.task_done()
            self._todo.put_nowait(None)
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            chunk = self._todo.get()
            try:
                if chunk is None:
                    return
                self._done.put(self._write(chunk))
            finally:
                self._todo.task_done()

    def _write(self, chunk: Chunk) -> Written:
        try:
            kept = self.store.store_chunk(chunk)
        except (OSError, StoreError) as exc:
            return Written(chunk.snapshot_id, chunk.index, False, f"store: snapshot chunk not kept: {exc}")
        except Exception as exc:  # noqa: BLE001 - the thread must go on; the load asks again
            log.exception("snapshot chunk %d not kept", chunk.index)
            return Written(chunk.snapshot_id, chunk.index, False, f"snapshot chunk not kept: {type(exc).__name__}")
        return Written(chunk.snapshot_id, chunk.index, kept)
