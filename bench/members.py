"""What the session benchmarks share: members signed up elsewhere, arriving at the kiosk as an HQ
account snapshot (as a store's kiosk holds them), and the percentile they report."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.state import LedgerState
from kiosk.store.store import Store

START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def fill(store: Store, members: int, balance_fen: int = 0) -> list[str]:
    """`members` members (each with `balance_fen` topped up), their card UIDs in order."""
    hq = Ledger(LedgerState(), store.ledger.rules, "HQ-SEED", b"bench", FAST_FOR_TESTS)
    uids = []
    for n in range(members):
        uid = f"{0x04000000 + n:08X}"
        hq.apply(hq.sign_up(uid, 1, f"139{n:08d}", "135792", START, name=f"M{n}"))
        if balance_fen:
            hq.apply(hq.top_up(uid, balance_fen, f"seed{n}", START))
        uids.append(uid)
    store.replace_state_from_hq(hq.state, 0)
    return uids


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
