"""Shared helpers for the store tests: a fixed clock, card uids, and a few ledger operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.store.store import Store

DEVICE = "K1"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def uid(n: int) -> str:
    return f"{0x04000000 + n:08X}"


def open_store(data_dir: Path, device_id: str = DEVICE) -> Store:
    return Store.open(data_dir, device_id, pepper=b"test-pepper", pin_params=FAST_FOR_TESTS)


def sign_up(store: Store, n: int, at: datetime = T0) -> str:
    card = uid(n)
    phone = f"138{n:08d}"
    store.commit(store.ledger.sign_up(card, 1, phone, "246813", at, name=f"M{n}"))
    return card


def top_up(store: Store, card: str, amount_fen: int, at: datetime = T0, ref: str = "PAY") -> None:
    store.commit(store.ledger.top_up(card, amount_fen, ref, at))


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def snapshot_of(store: Store) -> dict:
    """Everything that must survive a reopen, in comparable form."""
    return {
        "state": state_to_dict(store.ledger.state),
        "outbox": [t.txn_id for t in store.outbox()],
        "rules_version": store.ledger.rules.version,
    }
