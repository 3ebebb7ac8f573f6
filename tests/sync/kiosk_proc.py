"""A kiosk process for crash tests: drains its open_store until killed. argv: data_dir host port password."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kiosk.sync.client import SyncClient, SyncSettings
from tests.sync.support import open_store


def main() -> None:
    data_dir, host, port, password, store_id, batch = sys.argv[1:7]
    store = open_store(Path(data_dir))
    settings = SyncSettings(
        store_id=store_id, device_id="D1", host=host, port=int(port), password=password, data_dir=Path(data_dir),
        batch_size=int(batch), backoff_min_s=0.1, backoff_max_s=0.5, ack_timeout_s=2.0, heartbeat_s=1.0,
    )
    client = SyncClient(store, settings)
    client.start_worker()
    print("started", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
