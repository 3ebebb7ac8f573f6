"""A spend voucher V earned by order A and used on order B: when A's refunds withdraw V and keep
its value, the refund that completes B (or B's void) pays that value back (voucher_repaid_fen),
once, because B's discount is undone; and once B is refunded whole, no refund of A keeps anything
for V. Worked at the boundaries (A then B, B then A, partial refunds of B, a void of B, V kept
partly across refunds of A, the rules changed between, V expired between), the state's refusals
and flagged offline clashes, the slip in both languages, and a property over any sequence."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.ledger import charges
from kiosk.ledger.model import VoucherStatus
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.refusal import Refused
from kiosk.ledger.rules import parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.receipt.layout import receipt_lines, text_width
from kiosk.receipt.receipt import Shop
from kiosk.till.service import refund_receipt
from tests.test_ledger_properties import PIN
from tests.test_ledger_voucher_refunds import THRESHOLD, VALUE, _account, _earn, _ready, _refund
from tests.test_receipt import value_of
from tests.test_vouchers import JOINED, UID, _charge, _doc

A_TOTAL, B_TOTAL = THRESHOLD + 1_000, 6_000
B_PAID = B_TOTAL - VALUE


def _a_and_b() -> tuple[Ledger, str, int]:
    """A earns V, B uses it: (ledger, V's id, the balance before A)."""
    ledger = _ready()
    before = _account(ledger).balance_fen
    vid = _earn(ledger, "A", A_TOTAL)
    assert _charge(ledger, "B", B_TOTAL, JOINED, vid).amount_fen == B_PAID
    return ledger, vid, before


def _held(ledger: Ledger) -> int:
    """What A's refunds kept for V and was not paid back."""
    a = _account(ledger).order("T1:A")
    return a.voucher_kept_fen - a.voucher_repaid_fen


def test_a_then_b_refunded_whole_pays_the_kept_value_back_and_the_member_ends_where_they_began():
    ledger, vid, before = _a_and_b()
    a = _refund(ledger, "A", "R1", A_TOTAL)
    assert (a.voucher_withdrawn, a.voucher_kept_fen, a.voucher_repaid_fen) == (vid, VALUE, 0)
    b = _refund(ledger, "B", "R1", B_PAID)
    assert (b.voucher_id, b.voucher_withdrawn, b.voucher_kept_fen, b.voucher_repaid_fen) == ("", "", 0, VALUE)
    assert b.balance_delta_fen == B_PAID + VALUE
    account = _account(ledger)
    assert account.balance_fen == before  # paid A + B - 5, got back A - 5 and B - 5 + 5
    assert account.voucher(vid).status is VoucherStatus.WITHDRAWN
    assert (account.order("T1:A").voucher_repaid_fen, account.order("T1:B").refund("R1").voucher_repaid_fen) == (VALUE, VALUE)
    assert _held(ledger) == 0


@pytest.mark.parametrize("expired", [False, True])
def test_b_then_a_keeps_nothing_whether_v_came_back_or_stayed_used_past_its_last_day(expired):
    ledger, vid, before = _a_and_b()
    at = _account(ledger).voucher(vid).expires_at + (timedelta(0) if expired else timedelta(seconds=-1))
    b = charges.refund(ledger, "T1:B", "R1", B_PAID, at)
    assert (b.voucher_id, b.voucher_repaid_fen) == ("" if expired else vid, 0)
    assert ledger.apply(b).conflict == ""
    assert _account(ledger).voucher(vid).status is (VoucherStatus.USED if expired else VoucherStatus.VALID)
    a = charges.refund(ledger, "T1:A", "R1", A_TOTAL, at)
    assert (a.voucher_withdrawn, a.voucher_kept_fen, a.balance_delta_fen) == (vid, 0, A_TOTAL)
    assert ledger.apply(a).conflict == ""  # used on B, but that use was undone: not "withdrawn as unused"
    assert _account(ledger).balance_fen == before
    assert _account(ledger).voucher(vid).status is VoucherStatus.WITHDRAWN


def test_partial_refunds_of_b_pay_nothing_back_until_the_one_that_completes_it():
    ledger, vid, before = _a_and_b()
    _refund(ledger, "A", "R1", A_TOTAL)
    assert _refund(ledger, "B", "R1", 2_000).voucher_repaid_fen == 0
    assert _refund(ledger, "B", "R2", B_PAID - 2_001).voucher_repaid_fen == 0  # 1 fen of B left
    last = _refund(ledger, "B", "R3", 1)
    assert (last.voucher_repaid_fen, last.balance_delta_fen) == (VALUE, 1 + VALUE)
    assert _account(ledger).balance_fen == before


def test_a_void_of_b_pays_the_kept_value_back():
    ledger, vid, before = _a_and_b()
    _refund(ledger, "A", "R1", A_TOTAL)
    void = charges.void(ledger, "T1:B", JOINED + timedelta(hours=1))
    assert (void.voucher_id, void.voucher_repaid_fen, void.balance_delta_fen) == ("", VALUE, B_PAID + VALUE)
    assert ledger.apply(void).conflict == ""
    assert _account(ledger).balance_fen == before


def test_v_kept_in_parts_by_several_refunds_of_a_is_paid_back_whole_by_b():
    ledger, vid, before = _a_and_b()
    assert _refund(ledger, "A", "R1", 1_000).voucher_kept_fen == 0  # exactly the threshold left
    assert _refund(ledger, "A", "R2", 300).voucher_kept_fen == 300
    assert _refund(ledger, "A", "R3", 150).voucher_kept_fen == 150
    assert _refund(ledger, "B", "R1", B_PAID).voucher_repaid_fen == 450
    later = _refund(ledger, "A", "R4", A_TOTAL - 1_450)  # B refunded whole: the last 50 is not kept
    assert (later.voucher_withdrawn, later.voucher_kept_fen) == ("", 0)
    assert _account(ledger).balance_fen == before
    assert _held(ledger) == 0


def test_a_refund_of_a_after_b_repaid_a_part_keeps_nothing_more():
    ledger, vid, before = _a_and_b()
    _refund(ledger, "A", "R0", 1_000)  # exactly the threshold left
    assert _refund(ledger, "A", "R1", 300).voucher_kept_fen == 300
    assert _refund(ledger, "B", "R1", B_PAID).voucher_repaid_fen == 300
    rest = _refund(ledger, "A", "R2", A_TOTAL - 1_300)
    assert (rest.voucher_kept_fen, rest.balance_delta_fen) == (0, A_TOTAL - 1_300)
    assert _account(ledger).balance_fen == before


def test_the_rules_changed_between_pays_back_exactly_what_was_kept_under_the_old_ones():
    ledger, vid, before = _a_and_b()
    doc = _doc()
    doc["vouchers"]["gifts"]["spend"] = None  # no spend gift now: any refund of A withdraws V
    later = Ledger(ledger.state, parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    small = _refund(later, "A", "R1", 200)
    assert (small.voucher_withdrawn, small.voucher_kept_fen) == (vid, 200)
    doc["vouchers"]["gifts"]["spend"] = {"min_fen": 50_000, "type": "thanks5"}
    again = Ledger(ledger.state, parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    assert _refund(again, "B", "R1", B_PAID).voucher_repaid_fen == 200
    assert _refund(again, "A", "R2", A_TOTAL - 200).voucher_kept_fen == 0
    assert _account(ledger).balance_fen == before


def _refused(ledger: Ledger, txn, words: str) -> None:
    state = ledger.state.copy()
    before = state.accounts[txn.member_id]
    result = state.apply(txn)
    assert result.refused and words in result.conflict, result
    assert state.accounts[txn.member_id] == before


def _repaying(txn, repaid: int):
    return replace(txn, voucher_repaid_fen=repaid, balance_after_fen=txn.balance_after_fen - txn.voucher_repaid_fen + repaid)


def test_the_state_refuses_a_repay_on_a_partial_refund_beyond_what_was_kept_or_with_nothing_kept():
    ledger, vid, _ = _a_and_b()
    nothing_kept = charges.refund(ledger, "T1:B", "R1", B_PAID, JOINED)
    _refused(ledger, _repaying(nothing_kept, VALUE), "only 0 fen was kept")  # A not refunded: V still used
    _refund(ledger, "A", "R0", 1_000)
    _refund(ledger, "A", "R1", 300)  # keeps 300
    partial = charges.refund(ledger, "T1:B", "R1", B_PAID - 1, JOINED)
    assert partial.voucher_repaid_fen == 0
    _refused(ledger, _repaying(partial, 300), "leaves part of it unrefunded")
    whole = charges.refund(ledger, "T1:B", "R1", B_PAID, JOINED)
    assert whole.voucher_repaid_fen == 300
    _refused(ledger, _repaying(whole, 301), "only 300 fen was kept")
    _refused(ledger, replace(whole, balance_after_fen=whole.balance_after_fen + 1), "moves the balance")
    assert ledger.apply(whole).conflict == ""


def test_the_state_refuses_paying_back_twice_through_a_second_order_that_used_v_offline():
    """Two kiosks offline: B and C both used V (C's charge is flagged). Only B, the use the state
    holds, pays back what A kept; C's whole refund stating it again is refused."""
    ledger, vid, before = _a_and_b()
    elsewhere = Ledger(ledger.state.copy(), ledger.rules, "kiosk-2", b"pepper", FAST_FOR_TESTS)
    account = elsewhere.state.accounts[_account(ledger).member_id]
    elsewhere.state.accounts[account.member_id] = replace(
        account, vouchers=tuple(replace(v, status=VoucherStatus.VALID, order_key="") if v.id == vid else v
                                for v in account.vouchers))
    c = charges.charge(elsewhere, UID, "T1:C", B_TOTAL, False, JOINED, pin_verified=True, voucher_id=vid)
    c = replace(c, balance_before_fen=_account(ledger).balance_fen, balance_after_fen=_account(ledger).balance_fen - c.amount_fen)
    assert "already used" in ledger.apply(c).conflict
    _refund(ledger, "A", "R1", A_TOTAL)
    assert _refund(ledger, "B", "R1", B_PAID).voucher_repaid_fen == VALUE
    c_back = charges.refund(ledger, "T1:C", "R1", B_PAID, JOINED)
    assert c_back.voucher_repaid_fen == 0
    _refused(ledger, _repaying(c_back, VALUE), "only 0 fen was kept")


def test_offline_clashes_are_applied_and_flagged():
    # a kiosk that had not heard of A's refund refunds B whole giving V back, paying nothing back
    ledger, vid, _ = _a_and_b()
    stale = Ledger(ledger.state.copy(), ledger.rules, "kiosk-2", b"pepper", FAST_FOR_TESTS)
    _refund(ledger, "A", "R1", A_TOTAL)
    b = charges.refund(stale, "T1:B", "R1", B_PAID, JOINED)
    assert (b.voucher_id, b.voucher_repaid_fen) == (vid, 0)
    b = replace(b, balance_before_fen=_account(ledger).balance_fen, balance_after_fen=_account(ledger).balance_fen + B_PAID,
                points_before=_account(ledger).points, points_after=_account(ledger).points + b.points_delta)
    result = ledger.apply(b)
    assert result.applied and not result.refused and f"paid back 0 of the {VALUE} fen" in result.conflict
    # a kiosk that had not heard of B's whole refund refunds A keeping V's value for a use undone
    ledger, vid, _ = _a_and_b()
    stale = Ledger(ledger.state.copy(), ledger.rules, "kiosk-2", b"pepper", FAST_FOR_TESTS)
    at = _account(ledger).voucher(vid).expires_at  # V stays used: the state's own refund would keep nothing
    assert ledger.apply(charges.refund(ledger, "T1:B", "R1", B_PAID, at)).conflict == ""
    a = charges.refund(stale, "T1:A", "R1", A_TOTAL, at)
    assert a.voucher_kept_fen == VALUE
    a = replace(a, balance_before_fen=_account(ledger).balance_fen,
                balance_after_fen=_account(ledger).balance_fen + A_TOTAL - VALUE,
                points_before=_account(ledger).points, points_after=_account(ledger).points + a.points_delta)
    result = ledger.apply(a)
    assert result.applied and not result.refused and "refunded whole" in result.conflict


@pytest.mark.parametrize(
    ("locale", "returned", "repaid"),
    [("zh_CN", "退回储值", "所用代金券扣回面值，退还"), ("en", "Returned to stored value", "Voucher value returned")],
)
def test_the_refund_slip_of_b_shows_the_value_paid_back(locale, returned, repaid):
    ledger, vid, _ = _a_and_b()
    _refund(ledger, "A", "R1", A_TOTAL)
    _refund(ledger, "B", "R1", B_PAID)
    record = _account(ledger).order("T1:B").refund("R1")
    lines = receipt_lines(refund_receipt(Shop("静安寺店", "kiosk-01", locale), record, "B", "张三丰", UID, "Asia/Shanghai"))
    assert value_of(lines, returned).endswith("60.00")  # ¥55 paid back and the ¥5 kept from A's refund
    assert value_of(lines, repaid).endswith("5.00") and "-" not in value_of(lines, repaid)
    assert max(text_width(line) for line in lines) <= 32


# The property: A (earns V) and B (uses V), then any sequence of refunds and voids of either, each
# under the sample rules or rules with no spend gift, some after V's last day.
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(["refund", "refund", "rest", "void"]),
        st.integers(1, 12_000),
        st.booleans(),  # under rules with no spend gift (any refund of A withdraws V)
        st.booleans(),  # from now on, after V's last day
    ),
    max_size=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_the_member_never_ends_below_one_who_never_had_the_voucher(ops):
    """Over any refunds and voids of A and B: the balance is what was paid less what came back,
    less what is kept for V and not paid back (held); held is within V's value, nothing once B is
    refunded whole or voided; so the member is never below a member who never had V (paying B
    in full and getting back the same refunds of B, all of B once it is refunded whole), and ends
    exactly where they began once both are refunded whole. Nor above: while V's use on B stands,
    A refunded whole holds all V's value, and, with the rules never changed, A below the threshold
    holds V's value or all A's refunds since returned. (A change of rules may let A earn V again
    for a while after it was withdrawn: its refunds then keep nothing until A falls below again.)"""
    doc = _doc()
    doc["vouchers"]["gifts"]["new_member"] = ""
    ledger = Ledger(LedgerState(), parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    doc["vouchers"]["gifts"]["spend"] = None
    no_gift = Ledger(ledger.state, parse_rules(doc), "kiosk-1", b"pepper", FAST_FOR_TESTS)
    ledger.apply(ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, salt=b"s" * 16))
    ledger.apply(ledger.top_up(UID, 100_000, "cash", JOINED))
    before = _account(ledger).balance_fen
    vid = _earn(ledger, "A", A_TOTAL)
    _charge(ledger, "B", B_TOTAL, JOINED, vid)
    now, changed = JOINED, False
    for name, op, amount, rules_off, late in ops:
        if late:
            now = max(now, _account(ledger).voucher(vid).expires_at)
        order = _account(ledger).order(f"T1:{name}")
        left = order.paid_fen - order.refunded_fen
        if order.voided or not left:
            continue
        at = ledger if not rules_off else no_gift
        try:
            txn = (charges.void(at, order.key, now) if op == "void"
                   else charges.refund(at, order.key, f"R{len(order.refunds)}", left if op == "rest" else min(amount, left), now))
        except Refused:
            continue  # a void of a refunded order, or on a later day
        result = ledger.apply(txn)
        assert result.applied and result.conflict == "", result
        changed = changed or rules_off
        assert txn.balance_delta_fen == txn.amount_fen - txn.voucher_kept_fen + txn.voucher_repaid_fen
        event(f"{name} {txn.kind}: kept {bool(txn.voucher_kept_fen)}, repaid {bool(txn.voucher_repaid_fen)}")
    account = _account(ledger)
    a, b, v = account.order("T1:A"), account.order("T1:B"), account.voucher(vid)
    a_left = 0 if a.voided else a.paid_fen - a.refunded_fen
    b_whole = b.voided or b.refunded_fen == b.paid_fen
    b_left = 0 if b_whole else b.paid_fen - b.refunded_fen
    held = a.voucher_kept_fen - a.voucher_repaid_fen
    assert account.balance_fen == before - a_left - b_left - held
    assert 0 <= held <= VALUE and a.voucher_repaid_fen <= a.voucher_kept_fen
    never_had_v = before - a_left - (0 if b_whole else b_left + VALUE)
    assert account.balance_fen >= never_had_v
    if b_whole:
        assert held == 0
    if b_whole and a_left == 0:
        assert account.balance_fen == before and v.status is not VoucherStatus.VALID
    stands = v.status is VoucherStatus.WITHDRAWN and v.order_key == b.key and not b_whole  # V's use on B
    if stands and a_left == 0:
        assert held == VALUE
    if stands and not changed:
        since = [r.amount_fen for r in a.refunds]
        first = next(i for i, r in enumerate(a.refunds) if r.voucher_withdrawn)
        assert held == min(VALUE, sum(since[first:]))
