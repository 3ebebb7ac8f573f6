"""What a transaction does to the vouchers an account holds (kiosk/ledger/voucher_state.py), worked
at the rules' boundaries: a voucher issued needs a type, at least 1 fen and an end after its own
time; it is held exactly as its txn says; a refund may give back the voucher its order used only
when it leaves nothing of the order, and keep at most what is still owed for a used voucher it
withdraws; a charge using a voucher at the instant it ends is a conflict; a void both gives back
and withdraws; and the account keeps every valid voucher and only the newest others up to
VOUCHERS_KEPT."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from kiosk.ledger import charges, vouchers
from kiosk.ledger.model import VOUCHER_REASONS_KEPT, VOUCHERS_KEPT, Account, Voucher, VoucherStatus
from kiosk.ledger.voucher_state import earning_order, repay_due, use_problem, voucher_changes
from tests.test_ledger_voucher_refunds import THRESHOLD, VALUE, _account, _earn, _ready, _refund
from tests.test_ledger_voucher_repaid import A_TOTAL, B_PAID, _a_and_b
from tests.test_vouchers import JOINED, UID, _charge, _ledger, _welcome

ISSUE_PROBLEM = "voucher_issued needs a type, a value and an end of validity after its time"


def _issued(ledger, reason: str = "campaign:test"):
    """A VOUCHER_ISSUED of the rules' first type for the card's member, as a kiosk or HQ makes it."""
    member = ledger.state.cards[UID].member_id
    return vouchers.issue(ledger, member, ledger.rules.vouchers.types[0].id, JOINED, reason)


def test_a_voucher_issued_needs_a_type_at_least_one_fen_and_an_end_after_its_own_time():
    ledger = _ledger()
    account = _account(ledger)
    txn = _issued(ledger)
    assert use_problem(account, txn) == ""
    assert use_problem(account, replace(txn, amount_fen=1)) == ""
    assert use_problem(account, replace(txn, voucher_until=txn.at + timedelta(microseconds=1))) == ""
    for forged in (
        replace(txn, amount_fen=0),
        replace(txn, voucher_type=""),
        replace(txn, voucher_until=txn.at),  # valid before its own time: never valid
        replace(txn, voucher_until=txn.at - timedelta(seconds=1)),
        replace(txn, voucher_until=None),
    ):
        assert use_problem(account, forged) == ISSUE_PROBLEM, forged
    state = ledger.state.copy()
    result = state.apply(replace(txn, voucher_type=""))
    assert result.refused and result.conflict == f"not applied: {ISSUE_PROBLEM}"
    assert state.accounts[txn.member_id] == account


def test_a_voucher_issued_is_held_as_its_txn_says_with_each_of_its_stores():
    ledger = _ledger(stores=["S1", "S2"])
    txn = _issued(ledger)
    assert txn.voucher_stores == "S1,S2"
    ledger.apply(txn)
    assert _account(ledger).voucher(txn.txn_id) == Voucher(
        id=txn.txn_id,
        type=txn.voucher_type,
        value_fen=txn.amount_fen,
        min_spend_fen=txn.voucher_min_fen,
        issued_at=txn.at,
        expires_at=txn.voucher_until,
        stores=("S1", "S2"),
        reason="campaign:test",
    )


def test_a_voucher_given_for_no_reason_records_none_and_the_reasons_kept_are_the_newest():
    ledger = _ledger()
    account = _account(ledger)
    txn = _issued(ledger)
    assert voucher_changes(account, replace(txn, reason=""))["voucher_reasons"] == account.voucher_reasons
    full = replace(account, voucher_reasons=tuple(f"r{i}" for i in range(VOUCHER_REASONS_KEPT)))
    reasons = voucher_changes(full, txn)["voucher_reasons"]
    assert reasons == full.voucher_reasons[1:] + ("campaign:test",)


def test_a_refund_may_give_back_the_voucher_its_order_used_only_when_it_leaves_nothing_of_the_order():
    ledger = _ledger()
    vid = _welcome(ledger)
    spend = _charge(ledger, "A1", 6000, JOINED, vid)
    part = charges.refund(ledger, "T1:A1", "R1", 1000, JOINED)
    forged = replace(part, voucher_id=vid)
    assert use_problem(_account(ledger), forged) == f"refund of order 'T1:A1' gives back voucher {vid!r} it may not"
    ledger.apply(part)
    rest = charges.refund(ledger, "T1:A1", "R2", spend.amount_fen - 1000, JOINED)  # exactly what is left
    assert rest.voucher_id == vid and use_problem(_account(ledger), rest) == ""


def test_a_later_refund_keeps_at_most_what_is_still_owed_for_the_used_voucher_it_withdraws():
    ledger = _ready()
    vid = _earn(ledger, "A1", THRESHOLD)
    _charge(ledger, "A2", 6_000, JOINED, vid)
    assert _refund(ledger, "A1", "R1", 300).voucher_kept_fen == 300
    honest = charges.refund(ledger, "T1:A1", "R2", 300, JOINED)
    assert honest.voucher_kept_fen == VALUE - 300 and use_problem(_account(ledger), honest) == ""
    greedy = replace(honest, voucher_kept_fen=VALUE - 299, balance_after_fen=honest.balance_after_fen - 1)
    assert use_problem(_account(ledger), greedy) == (
        f"refund of order 'T1:A1' keeps {VALUE - 299} fen for voucher {vid!r}: only {VALUE - 300} fen of its value is owed"
    )


def test_a_charge_using_a_voucher_at_the_instant_it_ends_is_applied_as_a_conflict():
    ledger = _ledger()
    vid = _welcome(ledger)
    ends = _account(ledger).voucher(vid).expires_at
    in_time = charges.charge(ledger, UID, "T1:A1", 8000, False, ends - timedelta(seconds=1), pin_verified=True, voucher_id=vid)
    assert ledger.state.copy().apply(in_time).conflict == ""
    result = ledger.apply(replace(in_time, at=ends))
    assert result.applied and not result.refused
    assert result.conflict == f"spend used voucher {vid!r} after its validity ended"


def test_a_void_gives_back_the_voucher_its_order_used_and_withdraws_the_one_it_earned():
    ledger = _ready()
    welcome = _account(ledger).vouchers[0].id
    spend = _charge(ledger, "A1", THRESHOLD + 1000, JOINED, welcome)  # 1000 off: pays exactly the threshold
    assert spend.amount_fen == THRESHOLD
    earned = vouchers.next_due(ledger, UID, JOINED)
    assert earned.reason == "spend:T1:A1"
    ledger.apply(earned)
    void = charges.void(ledger, "T1:A1", JOINED)
    assert (void.voucher_id, void.voucher_withdrawn) == (welcome, earned.txn_id)
    assert ledger.apply(void).conflict == ""
    account = _account(ledger)
    assert (account.voucher(welcome).status, account.voucher(welcome).order_key) == (VoucherStatus.VALID, "")
    assert account.voucher(earned.txn_id).status is VoucherStatus.WITHDRAWN


_DAY = datetime(2026, 3, 1, tzinfo=UTC)
_SPENT = (VoucherStatus.USED, VoucherStatus.EXPIRED, VoucherStatus.WITHDRAWN)


def _held(statuses) -> tuple[Voucher, ...]:
    return tuple(
        Voucher(f"v{i:03}", "t", 100, 200, _DAY, _DAY + timedelta(days=30), status=status) for i, status in enumerate(statuses)
    )


def _after_issue(held: tuple[Voucher, ...]) -> list[str]:
    """The ids the account keeps when one more (valid) voucher is issued to it."""
    txn = _issued(_ledger())
    kept = voucher_changes(Account("m", vouchers=held), txn)["vouchers"]
    assert kept[-1].id == txn.txn_id
    return [v.id for v in kept[:-1]]


def test_up_to_vouchers_kept_all_are_held():
    held = _held(_SPENT[i % 3] for i in range(VOUCHERS_KEPT - 1))
    assert _after_issue(held) == [v.id for v in held]


def test_past_vouchers_kept_the_oldest_used_expired_or_withdrawn_go_first_and_no_valid_one_goes():
    held = _held([VoucherStatus.VALID] + [_SPENT[i % 3] for i in range(VOUCHERS_KEPT)])
    # 52 with the new one, 2 of them valid: room for the newest 48 others
    assert _after_issue(held) == [held[0].id] + [v.id for v in held[3:]]


def test_with_vouchers_kept_valid_ones_or_more_no_other_is_held():
    held = _held([VoucherStatus.USED] + [VoucherStatus.VALID] * (VOUCHERS_KEPT - 1))
    assert _after_issue(held) == [v.id for v in held[1:]]  # exactly VOUCHERS_KEPT valid with the new one
    held = _held([VoucherStatus.VALID] * VOUCHERS_KEPT + [VoucherStatus.USED])
    assert _after_issue(held) == [v.id for v in held[:-1]]  # more valid than the bound: all of them, still


def test_a_voucher_expired_names_its_voucher():
    ledger = _ledger()
    vid = _welcome(ledger)
    ends = _account(ledger).voucher(vid).expires_at
    expired = vouchers.next_due(ledger, UID, ends)
    assert expired.voucher_id == vid and use_problem(_account(ledger), expired) == ""
    assert use_problem(_account(ledger), replace(expired, voucher_id="")) == "voucher_expired names no voucher"


def test_a_spend_takes_no_more_points_than_it_paid_with_and_states_each_amount_it_took_off():
    ledger = _ledger()
    vid = _welcome(ledger)
    account = _account(ledger)
    spend = charges.charge(ledger, UID, "T1:A1", 6000, False, JOINED, pin_verified=True, voucher_id=vid, points=200)
    assert (spend.points_cash, spend.voucher_fen) == (200, 1000) and use_problem(account, spend) == ""
    most = replace(spend, points_after=spend.points_before - 200)  # exactly the points paid as cash
    assert use_problem(account, most) == ""
    greedy = replace(spend, points_after=spend.points_before - 201)
    assert use_problem(account, greedy) == "spend takes 201 points but states 200 paid as cash"
    without = "spend states a voucher or points as cash without its amount"
    assert use_problem(account, replace(spend, voucher_fen=0)) == without
    assert use_problem(account, replace(spend, points_cash_fen=0)) == without


def test_a_refund_gives_back_no_voucher_its_order_did_not_use_and_leaves_an_unknown_order_to_the_order_check():
    ledger = _ledger()
    vid = _welcome(ledger)
    spend = _charge(ledger, "A1", 6000, JOINED)  # no voucher used
    whole = charges.refund(ledger, "T1:A1", "R1", spend.amount_fen, JOINED)
    assert whole.voucher_id == "" and use_problem(_account(ledger), whole) == ""
    forged = replace(whole, voucher_id=vid)
    assert use_problem(_account(ledger), forged) == f"refund of order 'T1:A1' gives back voucher {vid!r} it may not"
    # no such order, or no account: orders.order_problem refuses it, naming the order
    assert use_problem(_account(ledger), replace(forged, payment_ref="T1:Z9")) == ""
    assert use_problem(None, forged) == ""


def test_only_a_spend_voucher_has_an_earning_order():
    ledger, vid, _ = _a_and_b()
    account = _account(ledger)
    spend_voucher = account.voucher(vid)
    assert spend_voucher.reason == "spend:T1:A" and earning_order(account, spend_voucher) == account.order("T1:A")
    assert earning_order(account, replace(spend_voucher, reason="promo:T1:A")) is None  # the same tail, not a sale's


def test_the_kept_value_is_owed_once_to_the_order_that_used_the_voucher_last():
    ledger, vid, _ = _a_and_b()
    assert repay_due(_account(ledger), _account(ledger).order("T1:B")) == 0  # used, not withdrawn: nothing kept
    _refund(ledger, "B", "R1", B_PAID)  # B's use undone: V back
    _charge(ledger, "C", 6_000, JOINED, vid)  # and used on C
    assert _refund(ledger, "A", "R1", A_TOTAL).voucher_kept_fen == VALUE
    account = _account(ledger)
    b, c = account.order("T1:B"), account.order("T1:C")
    assert (repay_due(account, b), repay_due(account, c)) == (0, VALUE)
    forgotten = replace(account, orders=tuple(o for o in account.orders if o.key != "T1:A"))
    assert repay_due(forgotten, c) == 0  # the earning order no longer held: nothing known kept
    assert _refund(ledger, "C", "R1", c.paid_fen).voucher_repaid_fen == VALUE
    assert repay_due(_account(ledger), c) == 0  # paid back once
