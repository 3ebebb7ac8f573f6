"""HQ's SQL ledger and LedgerState.apply agree on generated histories, whatever the delivery:
in order, shuffled, duplicated. Per device the order is kept and each event applies once."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hq import admin
from kiosk.hq import ledger as hq
from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import txn_to_dict
from tests.fixtures.histories import START, generate_history

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


def _canonical(state: LedgerState) -> dict:
    d = state_to_dict(state)
    for key, pk in (("members", "member_id"), ("cards", "uid"), ("accounts", "member_id")):
        d[key] = sorted(d[key], key=lambda v, pk=pk: v[pk])
    return d


def _clear(db) -> None:
    with db.transaction():
        for table in ("events", "progress", "members", "cards", "accounts", "stock", "conflicts", "blocked_changes", "divergent_events"):
            db.execute(f"DELETE FROM {table}")


def _deliver_and_replay(db, deliveries):
    """Store each delivery, apply, and replay what HQ applied (read from its progress marks)
    on a plain LedgerState in the same order. Returns (reference state, reference conflicts)."""
    reference = LedgerState()
    conflicts = []
    by_id = {(t.device_id, t.seq): t for batch in deliveries for t in batch}
    for batch in deliveries:
        before = {d: a for d, (_, _, a) in hq.event_counts(db).items()}
        hq.store_events(db, batch)
        hq.apply_pending(db, {t.device_id for t in batch})
        after = {d: a for d, (_, _, a) in hq.event_counts(db).items()}
        for device in sorted(after):
            for seq in range(before.get(device, 0) + 1, after[device] + 1):
                txn = by_id[(device, seq)]
                card_note = hq.card_use_conflict(reference, txn)  # HQ's extra report, made before applying
                result = reference.apply(txn)
                detail = "; ".join(text for text in (result.conflict, card_note) if text)
                if detail:
                    conflicts.append((txn.device_id, txn.seq, detail))
    return reference, conflicts


@SETTINGS
@given(seed=st.integers(0, 2**31), chunk=st.integers(1, 7))
def test_in_order_delivery_matches_ledgerstate(hq_db, seed, chunk):
    _clear(hq_db)
    history = generate_history(seed, steps=50)
    deliveries = [history.txns[i : i + chunk] for i in range(0, len(history.txns), chunk)]
    reference, conflicts = _deliver_and_replay(hq_db, deliveries)

    assert _canonical(hq.load_state(hq_db)) == _canonical(reference)
    if chunk == 1:  # one event per delivery: HQ applied in commit order, like a kiosk replaying
        plain = LedgerState()
        for txn in history.txns:
            plain.apply(txn)
        assert _canonical(reference) == _canonical(plain)
    assert [(c.device_id, c.seq, c.detail) for c in hq.list_conflicts(hq_db)] == conflicts


@SETTINGS
@given(seed=st.integers(0, 2**31), shuffle=st.randoms(use_true_random=False))
def test_shuffled_duplicated_delivery_matches_ledgerstate(hq_db, seed, shuffle):
    _clear(hq_db)
    history = generate_history(seed, steps=50)
    pieces = [[t] for t in history.txns] + [[t] for t in shuffle.sample(history.txns, len(history.txns) // 3)]
    shuffle.shuffle(pieces)
    reference, conflicts = _deliver_and_replay(hq_db, pieces)

    assert _canonical(hq.load_state(hq_db)) == _canonical(reference)
    counts = hq.event_counts(hq_db)
    for device, txns in history.by_device().items():
        assert counts[device] == (len(txns), len(txns), len(txns))  # each once, all applied
    assert sorted((c.device_id, c.seq, c.detail) for c in hq.list_conflicts(hq_db)) == sorted(conflicts)


def _two_kiosks_after_a_top_up():
    """Kiosk A signs a member up and tops up ¥100; kiosk B synced then and goes offline."""
    rules = default_rules()
    a = Ledger(LedgerState(), rules, "KA", pin_params=FAST_FOR_TESTS)
    sign = a.sign_up("04AABBCC", 1, "13800000001", "246810", START)
    a.apply(sign)
    top = a.top_up("04AABBCC", 10000, "pay-1", START + timedelta(minutes=1))
    a.apply(top)
    return a, Ledger(a.state.copy(), rules, "KB", pin_params=FAST_FOR_TESTS), sign, top


def test_conflict_from_offline_spending_at_two_kiosks_is_recorded(hq_db):
    """Two kiosks each sell against the same stale balance: HQ keeps both and reports one."""
    a, b, sign, top = _two_kiosks_after_a_top_up()
    spend_a = a.spend("04AABBCC", 8000, START + timedelta(hours=1), pin_verified=True)
    spend_b = b.spend("04AABBCC", 7000, START + timedelta(hours=2), pin_verified=True)

    hq.store_events(hq_db, [sign, top, spend_a])
    hq.apply_pending(hq_db, ["KA"])
    hq.store_events(hq_db, [spend_b])
    report = hq.apply_pending(hq_db, ["KB"])

    assert [c.txn_id for c in report.conflicts] == ["KB:1"]
    listed = hq.list_conflicts(hq_db)
    assert [(c.txn_id, c.member_id, c.kind) for c in listed] == [("KB:1", sign.member_id, "spend")]
    assert "expected balance 10000" in listed[0].detail
    account = hq.load_state(hq_db).accounts[sign.member_id]
    assert account.balance_fen == 10000 - 8000 - 7000  # both spends kept: nothing dropped
    assert hq.resolve_conflict(hq_db, "KB", 1)
    assert hq.list_conflicts(hq_db) == []
    assert len(hq.list_conflicts(hq_db, include_resolved=True)) == 1


def test_gap_waits_until_the_missing_event_arrives(hq_db):
    history = generate_history(7, devices=1, steps=20)
    txns = history.txns
    hq.store_events(hq_db, txns[2:])
    report = hq.apply_pending(hq_db, ["K1"])
    assert report.applied == 0 and report.waiting == {"K1": len(txns) - 2}
    hq.store_events(hq_db, txns[1:2])
    assert hq.apply_pending(hq_db, ["K1"]).applied == 0
    hq.store_events(hq_db, txns[:1])
    assert hq.apply_pending(hq_db, ["K1"]).applied == len(txns)
    assert hq.devices_with_pending(hq_db) == []
    random.Random(1).shuffle(txns)
    hq.store_events(hq_db, txns)  # all again: nothing changes
    assert hq.apply_pending(hq_db, ["K1"]).applied == 0


def test_seq_reused_with_other_content_is_kept_aside_and_reported(hq_db):
    """A kiosk restored from an old backup starts again at a used seq: HQ keeps the first event
    in the ledger and the other one aside, and says so; nothing is silently dropped."""
    first = generate_history(3, devices=1, steps=10).txns
    other = generate_history(4, devices=1, steps=10).txns
    hq.store_events(hq_db, first)
    hq.apply_pending(hq_db, ["K1"])
    hq.store_events(hq_db, other[:2] + first[2:3])  # two reused seqs, one true duplicate
    divergent = hq.list_divergent(hq_db)
    assert [(d.device_id, d.seq) for d in divergent] == [("K1", 1), ("K1", 2)]
    assert json.loads(divergent[0].body) == txn_to_dict(other[0])
    assert hq.event_counts(hq_db)["K1"] == (len(first), len(first), len(first))
    hq.store_events(hq_db, other[:2])  # resent again: still two, not four
    assert len(hq.list_divergent(hq_db)) == 2


def test_card_used_offline_after_hq_blocked_it_is_reported(hq_db):
    kiosk = Ledger(LedgerState(), default_rules(), "KA", pin_params=FAST_FOR_TESTS)
    sign = kiosk.sign_up("04AABBCC", 1, "13800000001", "246810", START)
    kiosk.apply(sign)
    top = kiosk.top_up("04AABBCC", 10000, "pay-1", START + timedelta(minutes=1))
    kiosk.apply(top)
    hq.store_events(hq_db, [sign, top])
    hq.apply_pending(hq_db, ["KA"])
    admin.block_card(hq_db, "04AABBCC", "lost", START + timedelta(hours=1))
    spend = kiosk.spend("04AABBCC", 3000, START + timedelta(hours=2))  # the kiosk is offline: it does not know
    hq.store_events(hq_db, [spend])
    report = hq.apply_pending(hq_db, ["KA"])
    assert [c.detail for c in report.conflicts] == ["card 04AABBCC was already blocked at HQ when this spend was made"]
    assert hq.load_state(hq_db).accounts[sign.member_id].balance_fen == 7000  # the money moved: kept


def test_older_copy_of_a_card_used_offline_is_reported_at_hq(hq_db):
    """Kiosk A writes the card up to purse counter 3; kiosk B, offline since before, accepts a
    copy still at counter 1. B could not know; HQ can: the spend stays applied, flagged."""
    a, b, sign, top = _two_kiosks_after_a_top_up()
    written = [a.purse_written("04AABBCC", n, START + timedelta(minutes=2 + n)) for n in (1, 2, 3)]
    for txn in written:
        a.apply(txn)
    copy_spend = replace(b.spend("04AABBCC", 4000, START + timedelta(hours=1), pin_verified=True), card_counter=1)

    hq.store_events(hq_db, [sign, top, *written])
    hq.apply_pending(hq_db, ["KA"])
    hq.store_events(hq_db, [copy_spend])
    report = hq.apply_pending(hq_db, ["KB"])

    assert [c.detail for c in report.conflicts] == [
        "card 04AABBCC showed counter 1, below 3 already seen: a copy of the card?"
    ]
    state = hq.load_state(hq_db)
    assert state.cards["04AABBCC"].card_counter == 3
    assert state.accounts[sign.member_id].balance_fen == 10000 - 4000
