"""A kiosk process for the SIGKILL test of a chunked store snapshot (tests/test_store_feed_sigkill.py):
loads its store's snapshot from HQ (protocol v2) until killed, saying after each chunk it stores
"P <next chunk> <snapshot in use, 0 until switched> <chunks>".
argv: data_dir host port password store_id."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kiosk.sync.client import SyncClient, SyncSettings
from tests.sync.support import open_store


def main() -> None:
    data_dir, host, port, password, store_id = sys.argv[1:6]
    store = open_store(Path(data_dir))
    settings = SyncSettings(
        store_id=store_id, device_id="D1", host=host, port=int(port), password=password, data_dir=Path(data_dir),
        backoff_min_s=0.1, backoff_max_s=0.5, ack_timeout_s=2.0, heartbeat_s=1.0, store_replica=True,
    )
    client = SyncClient(store, settings)
    client.start_worker()
    print("started", flush=True)
    said = None
    while True:
        progress = store.loading.progress
        now = (progress.next_index, store.hq_feed.snapshot_id, progress.chunks)
        if now != said:
            print(f"P {now[0]} {now[1]} {now[2]}", flush=True)
            said = now
        time.sleep(0.005)


if __name__ == "__main__":
    main()
