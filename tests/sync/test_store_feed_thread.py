"""Where a store snapshot's chunks are written: on the chunk writer's thread, never on the thread
that polls the sync client (the app's main loop, which draws the touchscreen), through the real
broker and the real HQ receiver. The install stays on the polling thread, the store's owner. A
store closed with a chunk still on its way refuses it: nothing is written after the close."""

from __future__ import annotations

import threading

import pytest

from kiosk.hq.embedded import start_receiver
from kiosk.hq.publisher import put_setting
from kiosk.store.errors import StoreError
from kiosk.store.loading import Chunk
from kiosk.sync.chunk_writer import THREAD_NAME
from tests.sync.support import make_txns, open_store
from tests.sync.test_drain import start_kiosk


def _record_threads(store, name: str) -> list[str]:
    """Wrap the store's method `name` (the real one still runs): the thread of each call."""
    threads: list[str] = []
    real = getattr(store, name)

    def spied(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    setattr(store, name, spied)
    return threads


def test_chunks_are_written_off_the_polling_thread_and_installed_on_it(mosquitto, tmp_path):
    store = open_store(tmp_path / "d1")
    store.commit_many(make_txns("D1", 60, members=30))
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as hq:
        put_setting(hq.admin_db, "snapshot_chunk_bytes", "1024")  # many chunks for 30 members
        kiosk = start_kiosk(store, mosquitto, store_replica=True)
        writes = _record_threads(store, "store_chunk")
        installs = _record_threads(store, "install_loaded")
        try:
            assert kiosk.wait_until(lambda: store.hq_feed.snapshot_id > 0, 60), kiosk.status()  # this thread polls
        finally:
            kiosk.stop()
    polling = threading.current_thread().name
    assert len(writes) >= 3, writes
    assert set(writes) == {THREAD_NAME}, f"chunks written on {set(writes)}, the polling thread is {polling}"
    assert installs == [polling]
    assert store.loading.progress.chunks == 0
    store.close()


def test_a_closed_store_refuses_a_chunk_still_on_its_way(tmp_path):
    store = open_store(tmp_path)
    store.close()
    chunk = Chunk(1, 0, 2, 0, 0, (), (), (), {})
    with pytest.raises(StoreError):
        store.store_chunk(chunk)
    assert not (tmp_path / "replica.next.sqlite").exists()
