"""What the sync client is configured with, and what it needs of the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiosk import __version__
from kiosk.ledger.rules import Rules
from kiosk.ledger.txn import Txn
from kiosk.sync.admission import MAX_OUTBOX, MIN_FREE_BYTES

SESSION_EXPIRY_S = 7 * 24 * 3600


class SyncStore(Protocol):
    """What sync needs of kiosk.store.Store (STORE_API.md)."""

    ledger: Any

    def outbox(self, limit: int | None = None) -> list[Txn]: ...
    def outbox_depth(self) -> int: ...
    def ack(self, txn_ids) -> int: ...
    def meta_get(self, key: str) -> Any: ...
    def meta_put(self, key: str, value: Any) -> None: ...
    def put_rules(self, rules_doc: dict) -> Rules: ...
    def replace_state_from_hq(self, snapshot_state, own_high_water: int) -> None: ...


@dataclass(frozen=True)
class SyncSettings:
    store_id: str
    device_id: str
    host: str
    port: int = 1883
    data_dir: Path = Path(".")
    username: str = ""  # default: the device id
    password: str = ""
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_s: int = 30
    batch_size: int = 100
    window_batches: int = 8  # unacknowledged batches in flight
    ack_timeout_s: float = 10.0
    heartbeat_s: float = 60.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    session_expiry_s: int = SESSION_EXPIRY_S
    min_free_bytes: int = MIN_FREE_BYTES
    max_outbox: int = MAX_OUTBOX
    software: str = __version__
    incidents_file: Path | None = None  # default: data_dir/incidents.jsonl (the session's IncidentLog)
    store_replica: bool = False  # protocol v2: the store's snapshot in chunks + deltas (kiosk.toml: on)

    @classmethod
    def from_config(cls, config, **overrides) -> SyncSettings:
        """From kiosk.app.config.Config (device and hq sections)."""
        hq = config.hq
        values = dict(
            store_id=config.device.store,
            device_id=config.device.id,
            host=hq.host,
            port=hq.port,
            data_dir=config.device.data_dir,
            tls_ca=hq.tls_ca,
            tls_cert=hq.tls_cert,
            tls_key=hq.tls_key,
            keepalive_s=hq.keepalive_s,
            store_replica=True,
        )
        values.update(overrides)
        return cls(**values)
