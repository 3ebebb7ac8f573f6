"""The voucher a charge earned (消费送券) when that charge is refunded or voided: withdrawn once
what is left of the sale is below the threshold (a void or a whole refund always), and its value
kept from the refund when it was used already. And the mirror: the voucher a charge used comes
back with a whole refund or a void only while it is still valid. Worked at the boundaries, with
a property test over any sequence of charges, refunds and voids."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ledger import charges, vouchers
from kiosk.ledger.model import VoucherStatus
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.rules import parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind
from kiosk.ledger.voucher_state import use_stands
from kiosk.receipt.layout import receipt_lines, text_width
from kiosk.receipt.receipt import Shop
from kiosk.till.service import refund_receipt
from tests.test_ledger_properties import PIN
from tests.test_receipt import value_of
from tests.test_voucher_gifts import MOST_DUE
from tests.test_vouchers import JOINED, UID, _charge, _doc, _ledger, _welcome

THRESHOLD = 20_000  # the sample rules: ¥200 from stored value earns a ¥5 voucher (thanks5)
VALUE = 500


def _earn(ledger: Ledger, order: str, total: int) -> str:
    """Charge `order` and give the voucher it earns; its id."""
    _charge(ledger, order, total, JOINED)
    txn = vouchers.next_due(ledger, UID, JOINED)
    assert (txn.kind, txn.reason, txn.amount_fen) == (Kind.VOUCHER_ISSUED, f"spend:T1:{order}", VALUE)
    ledger.apply(txn)
    return txn.txn_id


def _account(ledger: Ledger):
    return ledger.state.accounts[ledger.state.cards[UID].member_id]


def _refund(ledger: Ledger, order: str, refund_id: str, amount: int):
    txn = charges.refund(ledger, f"T1:{order}", refund_id, amount, JOINED)
    before = _account(ledger).balance_fen
    result = ledger.apply(txn)
    assert result.applied and not result.conflict, result
    assert _account(ledger).balance_fen == before + amount - txn.voucher_kept_fen + txn.voucher_repaid_fen
    return txn


def _ready() -> Ledger:
    ledger = _ledger()
    _welcome(ledger)
    return ledger


def test_a_refund_leaving_exactly_the_threshold_keeps_the_voucher_one_fen_more_withdraws_it():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD + 5_000)
    keep = _refund(ledger, "A1", "R1", 5_000)
    assert (keep.voucher_withdrawn, keep.voucher_kept_fen) == ("", 0)
    assert _account(ledger).voucher(vid).status is VoucherStatus.VALID
    below = _refund(ledger, "A1", "R2", 1)
    assert (below.voucher_withdrawn, below.voucher_kept_fen, below.balance_delta_fen) == (vid, 0, 1)
    assert _account(ledger).voucher(vid).status is VoucherStatus.WITHDRAWN
    assert vid not in [v.id for v in vouchers.valid(_account(ledger), JOINED)]
    rest = _refund(ledger, "A1", "R3", THRESHOLD - 1)  # nothing more to withdraw
    assert (rest.voucher_withdrawn, rest.voucher_kept_fen) == ("", 0)


def test_partial_refunds_in_several_steps_withdraw_once_when_the_sale_falls_below():
    ledger = _ready()
    vid = _earn(ledger, "A1", 30_000)
    steps = [(4_000, ""), (6_000, ""), (1, vid), (2_000, ""), (17_999, "")]  # left: 26000, 20000, 19999, ...
    assert sum(a for a, _ in steps) == 30_000
    for i, (amount, withdrawn) in enumerate(steps):
        assert _refund(ledger, "A1", f"R{i}", amount).voucher_withdrawn == withdrawn
    assert _account(ledger).voucher(vid).status is VoucherStatus.WITHDRAWN


def test_a_void_withdraws_the_voucher_and_returns_the_whole_charge():
    ledger = _ready()
    before = _account(ledger).balance_fen
    vid = _earn(ledger, "A1", THRESHOLD)
    void = charges.void(ledger, "T1:A1", JOINED + timedelta(hours=1))
    assert (void.voucher_withdrawn, void.voucher_kept_fen) == (vid, 0)
    assert ledger.apply(void).conflict == ""
    assert (_account(ledger).balance_fen, _account(ledger).voucher(vid).status) == (before, VoucherStatus.WITHDRAWN)


def test_a_whole_refund_withdraws_it_even_when_the_rules_no_longer_give_spend_vouchers():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD + 100)
    doc = _doc()
    doc["vouchers"]["gifts"]["spend"] = None
    later = Ledger(ledger.state, parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    part = charges.refund(later, "T1:A1", "R1", 200, JOINED)
    assert part.voucher_withdrawn == vid  # no rule now: only the whole sale would earn it
    assert charges.refund(later, "T1:A1", "R1", THRESHOLD + 100, JOINED).voucher_withdrawn == vid


def test_a_used_voucher_is_paid_for_from_the_refund_that_takes_the_sale_below():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD + 1_000)
    used = _charge(ledger, "A2", 6_000, JOINED, vid)
    assert used.voucher_fen == VALUE
    small = _refund(ledger, "A1", "R1", 1_000)  # exactly the threshold left: nothing kept
    assert small.voucher_kept_fen == 0
    crossing = _refund(ledger, "A1", "R2", 3_000)
    assert (crossing.voucher_withdrawn, crossing.voucher_kept_fen, crossing.balance_delta_fen) == (vid, VALUE, 2_500)
    refund = ledger.state.accounts[crossing.member_id].order("T1:A1").refund("R2")
    assert (refund.voucher_withdrawn, refund.voucher_kept_fen) == (vid, VALUE)
    assert _refund(ledger, "A1", "R3", 1_000).voucher_kept_fen == 0  # kept once
    # the order that used it, refunded whole, does not give back the voucher (withdrawn) but the
    # value kept for it: that discount is undone (tests/test_ledger_voucher_repaid.py)
    back = _refund(ledger, "A2", "R1", used.amount_fen)
    assert (back.voucher_id, back.voucher_repaid_fen) == ("", VALUE)
    assert _account(ledger).voucher(vid).status is VoucherStatus.WITHDRAWN


@pytest.mark.parametrize(
    ("locale", "returned", "earned", "withdrawn", "kept"),
    [("zh_CN", "退回储值", "本单所赠代金券", "已收回", "该券已使用，扣回面值"),
     ("en", "Returned to stored value", "Voucher earned by sale", "withdrawn", "Its value, used already")],
)
def test_the_refund_receipt_says_the_voucher_was_withdrawn_and_its_value_kept(locale, returned, earned, withdrawn, kept):
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD)
    _charge(ledger, "A2", 6_000, JOINED, vid)
    txn = _refund(ledger, "A1", "R1", 3_000)
    record = _account(ledger).order("T1:A1").refund("R1")
    lines = receipt_lines(refund_receipt(Shop("静安寺店", "kiosk-01", locale), record, "A1", "张三丰", UID, "Asia/Shanghai"))
    assert value_of(lines, returned).endswith("25.00") and txn.balance_delta_fen == 2_500
    assert value_of(lines, earned) == withdrawn
    assert value_of(lines, kept).endswith("5.00") and "-" in value_of(lines, kept)
    assert max(text_width(line) for line in lines) <= 32
    unused = _ready()
    _earn(unused, "A1", THRESHOLD)
    _refund(unused, "A1", "R1", 1)
    plain = receipt_lines(refund_receipt(Shop("静安寺店", "kiosk-01", locale), _account(unused).order("T1:A1").refund("R1"),
                                         "A1", "张三丰", UID, "Asia/Shanghai"))
    assert value_of(plain, earned) == withdrawn and not any(kept in line for line in plain)


def test_a_refund_smaller_than_the_used_voucher_keeps_all_of_it_and_the_next_keeps_the_rest():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD)
    _charge(ledger, "A2", 6_000, JOINED, vid)
    first = _refund(ledger, "A1", "R1", 300)
    assert (first.voucher_kept_fen, first.balance_delta_fen) == (300, 0)
    second = _refund(ledger, "A1", "R2", 300)
    assert (second.voucher_kept_fen, second.balance_delta_fen) == (VALUE - 300, 100)
    third = _refund(ledger, "A1", "R3", 300)
    assert (third.voucher_withdrawn, third.voucher_kept_fen) == ("", 0)  # all kept: not withdrawn again
    assert _account(ledger).order("T1:A1").voucher_kept_fen == VALUE


def test_the_last_fen_of_a_used_voucher_is_kept_by_the_next_refund():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD)
    _charge(ledger, "A2", 6_000, JOINED, vid)
    assert _refund(ledger, "A1", "R1", VALUE - 1).voucher_kept_fen == VALUE - 1
    last = _refund(ledger, "A1", "R2", 300)
    assert (last.voucher_withdrawn, last.voucher_kept_fen, last.balance_delta_fen) == (vid, 1, 299)


def test_a_sale_refunded_below_the_threshold_before_its_voucher_was_given_earns_none():
    ledger = _ready()
    _charge(ledger, "A1", THRESHOLD + 1, JOINED)
    _charge(ledger, "A2", THRESHOLD + 1, JOINED)
    _refund(ledger, "A1", "R1", 1)  # exactly the threshold left: still earns
    _refund(ledger, "A2", "R1", 2)  # a power cut kept its voucher back; now it earns none
    given = vouchers.next_due(ledger, UID, JOINED)
    assert given.reason == "spend:T1:A1"
    ledger.apply(given)
    assert vouchers.next_due(ledger, UID, JOINED) is None


def test_the_state_refuses_a_withdrawal_the_order_did_not_earn_or_keeping_more_than_owed():
    ledger = _ready()
    other = _earn(ledger, "A1", THRESHOLD)
    vid = _earn(ledger, "A2", THRESHOLD)
    _charge(ledger, "A3", 6_000, JOINED, vid)
    honest = charges.refund(ledger, "T1:A2", "R1", 1_000, JOINED)
    assert honest.voucher_kept_fen == VALUE

    def refused(txn, words):
        state = ledger.state.copy()
        before = state.accounts[txn.member_id]
        result = state.apply(txn)
        assert result.refused and words in result.conflict, result
        assert state.accounts[txn.member_id] == before

    refused(replace(honest, voucher_withdrawn=other), "did not earn")
    greedy = replace(honest, voucher_kept_fen=VALUE + 1, balance_after_fen=honest.balance_after_fen - 1)
    refused(greedy, "only 500 fen")
    refused(replace(honest, voucher_withdrawn="", balance_after_fen=honest.balance_after_fen), "for no voucher")
    refused(replace(honest, balance_after_fen=honest.balance_after_fen + VALUE), "moves the balance")


def test_a_refund_withdrawing_as_unused_a_voucher_another_kiosk_saw_used_is_flagged():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD)
    elsewhere = Ledger(ledger.state.copy(), ledger.rules, "kiosk-2", b"pepper", FAST_FOR_TESTS)
    _charge(ledger, "A2", 6_000, JOINED, vid)
    offline = charges.void(elsewhere, "T1:A1", JOINED)
    assert offline.voucher_kept_fen == 0
    account = _account(ledger)
    offline = replace(offline, balance_before_fen=account.balance_fen, balance_after_fen=account.balance_fen + offline.amount_fen,
                      points_before=account.points, points_after=account.points + offline.points_delta)
    result = ledger.apply(offline)
    assert result.applied and not result.refused and "was used on order 'T1:A2'" in result.conflict
    assert _account(ledger).voucher(vid).status is VoucherStatus.WITHDRAWN


@pytest.mark.parametrize(("after_end", "back"), [(timedelta(seconds=-1), True), (timedelta(0), False)])
def test_the_voucher_a_charge_used_comes_back_with_a_whole_refund_only_while_valid(after_end, back):
    ledger = _ready()
    vid = _account(ledger).vouchers[0].id  # the welcome voucher
    spend = _charge(ledger, "A1", 6_000, JOINED, vid)
    at = _account(ledger).voucher(vid).expires_at + after_end
    whole = charges.refund(ledger, "T1:A1", "R1", spend.amount_fen, at)
    assert whole.voucher_id == (vid if back else "")
    ledger.apply(whole)
    assert _account(ledger).voucher(vid).status is (VoucherStatus.VALID if back else VoucherStatus.USED)


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("charge"), st.integers(15_000, 30_000), st.booleans()),
        st.tuples(st.just("refund"), st.integers(0, 4), st.integers(1, 12_000)),
        st.tuples(st.just("void"), st.integers(0, 4)),
    ),
    max_size=14,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_the_spend_vouchers_held_are_what_the_net_sales_earn(ops):
    """After any charges (some paying with a voucher), refunds and voids, each given its due
    voucher steps: a sale still at the threshold holds its voucher; one below holds none, and
    when the voucher was used, the refunds since kept exactly its value (or all they returned)
    while that use stands, and nothing once the order that used it was refunded whole."""
    doc = _doc()
    doc["vouchers"]["gifts"]["new_member"] = ""
    ledger = Ledger(LedgerState(), parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, salt=b"s" * 16))
    for _ in range(3):
        ledger.apply(ledger.top_up(UID, 500_000, "cash", JOINED))
    orders: list[str] = []
    for op in ops:
        if op[0] == "charge" and len(orders) < 5:
            usable = vouchers.valid(_account(ledger), JOINED) if op[2] else ()
            orders.append(f"O{len(orders)}")
            _charge(ledger, orders[-1], op[1], JOINED, usable[0].id if usable else "")
        elif op[0] in ("refund", "void") and op[1] < len(orders):
            order = _account(ledger).order(f"T1:{orders[op[1]]}")
            left = order.paid_fen - order.refunded_fen
            if order.voided or not left or (op[0] == "void" and order.refunded_fen):
                continue
            txn = (charges.void(ledger, order.key, JOINED) if op[0] == "void"
                   else charges.refund(ledger, order.key, f"R{len(order.refunds)}", min(op[2], left), JOINED))
            assert ledger.apply(txn).conflict == ""
        for _ in range(MOST_DUE):  # a loop that does not end is a failure, not a hang
            if (due := vouchers.next_due(ledger, UID, JOINED)) is None:
                break
            assert not ledger.apply(due).refused, due
        else:
            raise AssertionError(f"still due after {MOST_DUE}: a gift given again and again")
    account = _account(ledger)
    for order in account.orders:
        earned = vouchers.earned_by(account, order.key)
        net = order.paid_fen - order.refunded_fen
        if net >= THRESHOLD:
            assert earned is not None and earned.status in (VoucherStatus.VALID, VoucherStatus.USED)
            assert order.voucher_kept_fen == 0
        elif earned is not None:
            assert earned.status is VoucherStatus.WITHDRAWN
            after = sum(r.amount_fen for r in order.refunds if r.voucher_withdrawn)
            held = order.voucher_kept_fen - order.voucher_repaid_fen  # the used voucher's refund paid it back
            assert held == (min(VALUE, after) if use_stands(account, earned) else 0)
