"""`kiosk hq report`'s till section on SQLite and PostgreSQL: charges, refunds, voids, vouchers
issued / used / run out and the redemption rate, points as cash, by the store where each
happened, against answers counted here in plain Python from the same transactions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk.hq import devices as hq_devices
from kiosk.hq import ledger as hq
from kiosk.hq.report.build import build_report
from kiosk.hq.report.migration import migrate
from kiosk.hq.report.model import CHAIN, Period
from kiosk.hq.report.tables import render_text
from kiosk.ledger import charges, vouchers
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind

RULES = default_rules()
STORES = {"k1": "S1", "k2": "S2"}
PERIOD = Period(date(2026, 3, 1), date(2026, 6, 30), "Asia/Shanghai")


def history(seed: int) -> list:
    """Members at two stores charging with and without vouchers and points, refunds, voids,
    vouchers running out, an HQ campaign; every txn as the kiosks (and HQ) commit them."""
    rng = random.Random(seed)
    state = LedgerState()
    ledgers = {d: Ledger(state, RULES, d, pin_params=FAST_FOR_TESTS) for d in (*STORES, "hq")}
    journal, now = [], datetime(2026, 2, 25, 2, 0, tzinfo=UTC)

    def commit(txn):
        if txn is not None:
            assert state.apply(txn).applied
            journal.append(txn)
        return txn

    uids = [f"04{i:012X}" for i in range(1, 9)]
    for n, uid in enumerate(uids):
        k = ledgers[rng.choice(list(STORES))]
        commit(k.sign_up(uid, 1, f"1380000{n:04d}", "482915", now, salt=b"s" * 16))
        commit(k.top_up(uid, 100_000, f"pay-{n}", now))
    orders, voided = [], []
    for step in range(60):
        now += timedelta(hours=rng.randint(1, 30))
        k = ledgers[rng.choice(list(STORES))]
        uid = rng.choice(uids)
        try:
            roll = rng.random()
            if roll < 0.2:
                while commit(vouchers.next_due(k, uid, now)):
                    pass
            elif roll < 0.3:
                member = state.cards[uid].member_id
                commit(vouchers.issue(ledgers["hq"], member, "winback20", now, f"campaign:test:{step}"))
            elif roll < 0.7:
                usable = vouchers.valid(state.accounts[state.cards[uid].member_id], now, "")
                key = f"T1:{step}"
                voucher = usable[0].id if usable and rng.random() < 0.7 else ""
                q = charges.quote(k, uid, key, rng.randint(3_000, 20_000), rng.random() < 0.5, now, voucher)
                commit(charges.charge(k, uid, key, q.total_fen, q.discount_fen > 0, now, pin_verified=True,
                                      voucher_id=voucher, points=q.most_points // 2 - q.most_points // 2 % q.points_step))
                orders.append(key)
                if voucher and (rng.random() < 0.3 or not voided):  # voided at once: the voucher comes back
                    voided.append(commit(charges.void(k, key, now)))
            elif roll < 0.85 and orders:
                key = rng.choice(orders)
                order = charges.find_order(state, key)[1]
                left = order.paid_fen - order.refunded_fen
                commit(charges.refund(k, key, f"R{step}", rng.choice([left, max(1, left // 2)]), now))
            elif orders:
                commit(charges.void(k, rng.choice(orders), now))
        except Refused:
            continue
    now += timedelta(days=31)  # every voucher given has run out: noted as each member comes by
    for uid in uids:
        while commit(vouchers.next_due(ledgers["k1"], uid, now)):
            pass
    return journal


def truth(journal, period: Period) -> dict[str, dict[str, int]]:
    """The till figures worked out from the txns: by the store of the device (HQ's own: "HQ")."""
    out: dict[str, dict[str, int]] = {}
    for t in journal:
        if not period.start_at <= t.at < period.as_of:
            continue
        f = out.setdefault(STORES.get(t.device_id, "HQ"), dict.fromkeys(
            ("charges", "charged_fen", "refunds", "refunded_fen", "voids", "voided_fen", "voucher_kept_fen", "voucher_repaid_fen",
             "vouchers_issued", "vouchers_used", "vouchers_expired", "voucher_fen", "points_cash", "points_cash_fen"), 0))
        if t.kind is Kind.SPEND:
            f["charges"] += 1
            f["charged_fen"] += t.amount_fen
            f["vouchers_used"] += bool(t.voucher_id)
            f["voucher_fen"] += t.voucher_fen
            f["points_cash"] += t.points_cash
            f["points_cash_fen"] += t.points_cash_fen
        elif t.kind in (Kind.REFUND, Kind.VOID):
            name = "refund" if t.kind is Kind.REFUND else "void"
            f[f"{name}s"] += 1
            f[f"{name}ed_fen"] += t.amount_fen - t.voucher_kept_fen + t.voucher_repaid_fen  # what went back to the card
            f["voucher_kept_fen"] += t.voucher_kept_fen
            f["voucher_repaid_fen"] += t.voucher_repaid_fen
            f["vouchers_used"] -= bool(t.voucher_id)
        elif t.kind is Kind.VOUCHER_ISSUED:
            f["vouchers_issued"] += 1
        elif t.kind is Kind.VOUCHER_EXPIRED:
            f["vouchers_expired"] += 1
    return out


def store_at_hq(db, journal) -> None:
    """The kiosks' txns at HQ as the receiver stores and applies them, in commit order."""
    db.run(lambda db: [hq_devices.touch(db, device, store, "2025-01-01T00:00:00Z") for device, store in STORES.items()])
    run: list = []
    for txn in journal + [None]:  # each run of one device's txns at once
        if run and (txn is None or txn.device_id != run[0].device_id):
            hq.store_events(db, run)
            assert hq.apply_pending(db, [run[0].device_id]).conflicts == []
            run = []
        if txn is not None:
            run.append(txn)
    migrate(db)  # as `kiosk hq report` does: events.amount_fen


@pytest.mark.parametrize("then_b", [False, True])
def test_a_refund_keeping_a_used_vouchers_value_counts_only_what_went_back_to_the_card(hq_db, then_b):
    """¥210 earns the ¥5 spend voucher, a ¥60 charge uses it, then the ¥210 sale is refunded
    whole: ¥205 goes back to the card, ¥5 is kept. Counted as refunded ¥205 and kept ¥5, not ¥210.
    Then (then_b) the ¥60 sale refunded whole pays the ¥5 back: refunded ¥55 + ¥5, repaid ¥5."""
    state = LedgerState()
    k = Ledger(state, RULES, "k1", pin_params=FAST_FOR_TESTS)
    at = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    journal = []

    def commit(txn):
        assert state.apply(txn).applied
        journal.append(txn)
        return txn

    uid = "04A0A0A0A0A001"
    commit(k.sign_up(uid, 1, "13800000001", "482915", at, salt=b"s" * 16))
    commit(k.top_up(uid, 100_000, "pay-1", at))
    while (due := vouchers.next_due(k, uid, at)) is not None and due.reason == "new_member":
        commit(due)
    balance = state.accounts[state.cards[uid].member_id].balance_fen
    commit(charges.charge(k, uid, "T1:A1", 21_000, False, at, pin_verified=True))
    earned = commit(vouchers.next_due(k, uid, at))
    assert earned.reason == "spend:T1:A1"
    commit(charges.charge(k, uid, "T1:A2", 6_000, False, at, pin_verified=True, voucher_id=earned.txn_id))
    refund = commit(charges.refund(k, "T1:A1", "R1", 21_000, at))
    assert (refund.voucher_withdrawn, refund.voucher_kept_fen) == (earned.txn_id, earned.amount_fen)
    if then_b:
        back = commit(charges.refund(k, "T1:A2", "R1", 6_000 - earned.amount_fen, at))
        assert back.voucher_repaid_fen == earned.amount_fen
    store_at_hq(hq_db, journal)
    s1 = {t.store: t for t in build_report(hq_db, RULES, PERIOD).till}["S1"]
    kept, repaid = earned.amount_fen, earned.amount_fen if then_b else 0
    refunded = 21_000 - kept + (6_000 - kept + repaid if then_b else 0)
    assert (s1.refunds, s1.refunded_fen, s1.voucher_kept_fen, s1.voucher_repaid_fen) == (1 + then_b, refunded, kept, repaid)
    spent = balance - state.accounts[state.cards[uid].member_id].balance_fen  # what left the card
    assert s1.net_fen == spent == (0 if then_b else 6_000)  # ¥55 paid + ¥5 kept; all back with B refunded
    assert "voucher value repaid" in render_text(build_report(hq_db, RULES, PERIOD))


@pytest.mark.parametrize("seed", [1, 2])
def test_the_till_section_counts_what_the_transactions_say(hq_db, seed):
    journal = history(seed)
    kinds = {t.kind for t in journal}
    assert {Kind.SPEND, Kind.REFUND, Kind.VOUCHER_ISSUED, Kind.VOUCHER_EXPIRED} <= kinds
    assert any(t.voucher_id for t in journal if t.kind is Kind.SPEND)
    assert any(t.voucher_id for t in journal if t.kind in (Kind.REFUND, Kind.VOID))  # a voucher given back

    store_at_hq(hq_db, journal)
    report = build_report(hq_db, RULES, PERIOD)
    expected = truth(journal, PERIOD)
    got = {t.store: t for t in report.till}
    for store, figures in expected.items():
        assert {name: getattr(got[store], name) for name in figures} == figures, store
    chain = got[CHAIN]
    assert chain.vouchers_issued == sum(f["vouchers_issued"] for f in expected.values())
    issued, used = chain.vouchers_issued, chain.vouchers_used
    assert chain.redemption_rate == (used / issued if issued else None)
    assert chain.net_fen == sum(f["charged_fen"] - f["refunded_fen"] - f["voided_fen"] for f in expected.values())
    text = render_text(report)
    assert "redemption rate" in text and "代金券" in text
    one = build_report(hq_db, RULES, PERIOD, store="S1")
    assert [t.store for t in one.till] == ["S1"]
