"""Property tests for vouchers and points as cash over any run of operations (the ledger's own
runner, tests/test_ledger_properties.py): a voucher is never used twice without coming back in
between, a charge never takes more off than the order, a refund never gives back more stored
value, points or vouchers than the charge took."""

from __future__ import annotations

import os
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ledger.txn import Kind
from tests.test_ledger_properties import OPS, UIDS, run
from tests.test_ledger_properties import ops_strategy as all_ops

# The ledger's whole mix of operations, and a mix around the till where vouchers and points are
# used often: members with money and vouchers, charges, refunds, voids, hours passing.
_PRELUDE = [("sign_up", uid, date(1990, 3, 4)) for uid in UIDS[:2]] + [
    op for uid in UIDS[:2] for op in (("top_up", uid, 200_000), ("vouchers", uid), ("issue", uid, "thanks5"))
]
_TILL = st.one_of(
    [OPS[name] for name in ("charge_v", "charge_v", "charge_v", "refund", "refund", "void", "issue", "vouchers", "top_up")]
    + [st.tuples(st.just("wait"), st.integers(1, 60 * 24 * 20))]
)
# KIOSK_FULL=1 runs the long campaign; the default keeps these under ten seconds on two cores.
SETTINGS = settings(max_examples=1000 if os.environ.get("KIOSK_FULL") else 60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
ops_strategy = st.one_of(
    all_ops,
    st.lists(_TILL, min_size=10, max_size=50).map(lambda ops: _PRELUDE + ops),
)


@SETTINGS
@given(ops_strategy)
def test_a_voucher_is_never_used_twice_and_never_past_its_end(ops):
    _, journal, _, _ = run(ops)
    issued = {t.txn_id: t for t in journal if t.kind is Kind.VOUCHER_ISSUED}
    out: set[str] = set()
    for t in journal:
        if t.kind is Kind.SPEND and t.voucher_id:
            assert t.voucher_id not in out, f"voucher {t.voucher_id} used twice"
            out.add(t.voucher_id)
            assert t.at < issued[t.voucher_id].voucher_until
        elif t.kind in (Kind.REFUND, Kind.VOID) and t.voucher_id:
            assert t.voucher_id in out, "a voucher given back that was not in use"
            out.discard(t.voucher_id)
        elif t.kind is Kind.VOUCHER_EXPIRED:
            assert t.voucher_id not in out and t.at >= issued[t.voucher_id].voucher_until


@SETTINGS
@given(ops_strategy)
def test_a_charge_never_takes_more_off_than_the_order(ops):
    _, journal, _, _ = run(ops)
    issued = {t.txn_id: t for t in journal if t.kind is Kind.VOUCHER_ISSUED}
    for t in journal:
        if t.kind is not Kind.SPEND:
            continue
        assert t.amount_fen >= 1  # the card always pays part of the order
        if t.voucher_id:
            voucher = issued[t.voucher_id]
            assert t.voucher_fen == voucher.amount_fen
            assert t.amount_fen + t.voucher_fen + t.points_cash_fen >= voucher.voucher_min_fen > t.voucher_fen
        assert t.points_cash_fen * 100 <= 20 * (t.amount_fen + t.points_cash_fen)  # the rules' share
        assert t.points_after >= 0 and t.points_before - t.points_after <= t.points_cash


@SETTINGS
@given(ops_strategy)
def test_never_more_refunded_than_paid(ops):
    _, journal, _, _ = run(ops)
    charged = {}
    for t in journal:
        if t.kind is Kind.SPEND and t.payment_ref:
            charged[t.payment_ref] = [t, 0, 0]
        elif t.kind in (Kind.REFUND, Kind.VOID):
            entry = charged[t.payment_ref]
            entry[1] += t.amount_fen
            entry[2] += t.points_cash
            spend = entry[0]
            assert entry[1] <= spend.amount_fen and entry[2] <= spend.points_cash
            assert not t.voucher_id or (t.voucher_id == spend.voucher_id and entry[1] == spend.amount_fen)
