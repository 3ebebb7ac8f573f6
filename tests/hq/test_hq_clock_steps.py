"""HQ orders a device's transactions by seq, never by time (issue 17 item 3): a kiosk that booted
at 1970, or whose clock NTP stepped back, sends txns whose times run backwards; they are applied in
seq order, each once, keep their "clock not trusted" mark, and the balance is the seq-order sum.
Both engines (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from kiosk.hq import ledger as hq
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState

T = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, 0, 1, tzinfo=UTC)
UID = "04A1B2C3"


def _kiosk_history():
    """Sign-up and a top-up on a good clock, then top-ups at 1970 (marked) and a day back."""
    kiosk = Ledger(LedgerState(), default_rules(), "K1", b"pepper", FAST_FOR_TESTS)
    txns = []
    for make in (
        lambda: kiosk.sign_up(UID, 1, "13800000001", "246813", T, name="M"),
        lambda: kiosk.top_up(UID, 10_000, "P1", T + timedelta(minutes=1)),
        lambda: replace(kiosk.top_up(UID, 20_000, "P2", EPOCH), clock_untrusted=True),
        lambda: replace(kiosk.top_up(UID, 30_000, "P3", T - timedelta(days=1)), clock_untrusted=True),
        lambda: kiosk.spend(UID, 5_000, T + timedelta(minutes=5), pin_verified=True),
    ):
        txn = make()
        kiosk.apply(txn)
        txns.append(txn)
    return kiosk, txns


def test_hq_applies_a_devices_txns_by_seq_whatever_their_times(hq_db):
    kiosk, txns = _kiosk_history()
    assert [t.at for t in txns] != sorted(t.at for t in txns)  # times run backwards
    for batch in ([txns[4], txns[2]], [txns[0]], [txns[3], txns[1]], [txns[2]]):  # late, early, twice
        hq.store_events(hq_db, batch)
        hq.apply_pending(hq_db, ["K1"])

    assert hq.event_counts(hq_db)["K1"] == (5, 5, 5)
    state = hq.load_state(hq_db)
    account = state.accounts[txns[0].member_id]
    assert account.balance_fen == kiosk.state.accounts[txns[0].member_id].balance_fen == 55_000
    assert state.last_seq["K1"] == 5
    assert not hq.list_conflicts(hq_db)
    rows = hq_db.all("SELECT seq, body FROM events WHERE device_id = ? ORDER BY seq", ("K1",))
    marks = [json.loads(body).get("clock_untrusted", False) for _, body in rows]
    assert marks == [False, False, True, True, False]
