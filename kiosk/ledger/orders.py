"""The till orders an account remembers, and what a refund or a void of one may move.

LedgerState.apply asks `order_problem` before a REFUND or VOID moves anything (the same check
at the kiosk and at HQ, so a kiosk cannot state a refund larger than the charge), and
`with_order` keeps the account's order records after a charge, refund or void. Shares are
cumulative (what is due after this refund minus what was already given), so partial refunds
never round their way past the whole: a full refund returns exactly what the charge took."""

from __future__ import annotations

from dataclasses import replace

from kiosk.ledger.model import ORDERS_KEPT, Account, TillOrder, TillRefund
from kiosk.ledger.txn import Kind, Txn
from kiosk.ledger.voucher_state import earning_order

VOID_ID = "void"  # the refund id a void is kept under on its order


def points_due_back(order: TillOrder, refund_fen: int) -> int:
    """Points a refund of `refund_fen` takes back: the earned points in proportion (rounded
    down in the member's favour, all of them once the whole order is refunded)."""
    if order.paid_fen <= 0:
        return 0
    due = order.points_earned * (order.refunded_fen + refund_fen) // order.paid_fen
    return max(0, due - order.points_reversed)


def bonus_back(order: TillOrder, refund_fen: int) -> int:
    """The part of a refund that goes back as bonus credit: the charge's own bonus share, in
    proportion, rounded up (a refund never turns bonus credit into refundable paid money)."""
    if order.paid_fen <= 0:
        return 0
    given = -(-order.bonus_used_fen * order.refunded_fen // order.paid_fen)
    due = -(-order.bonus_used_fen * (order.refunded_fen + refund_fen) // order.paid_fen)
    return max(0, due - given)


def order_problem(account: Account | None, txn: Txn) -> str:
    """Why a refund or void may not be applied to this account ("" when it may)."""
    if txn.kind not in (Kind.REFUND, Kind.VOID):
        return ""
    order = account.order(txn.payment_ref) if account is not None else None
    if order is None:
        return f"{txn.kind} of order {txn.payment_ref!r}, which this account has no charge for"
    if order.voided:
        return f"{txn.kind} of order {order.key!r}, already voided"
    if txn.kind is Kind.VOID:
        if order.refunded_fen or txn.amount_fen != order.paid_fen:
            return f"void of order {order.key!r} must return all {order.paid_fen} fen, nothing refunded before"
    else:
        if not txn.reason or txn.reason == VOID_ID:
            return f"refund of order {order.key!r} without a refund id of its own"
        if txn.reason in order.refund_ids:
            return f"refund {txn.reason!r} of order {order.key!r} applied twice"
        if txn.amount_fen > order.paid_fen - order.refunded_fen:
            return (
                f"refund of {txn.amount_fen} fen for order {order.key!r}: only "
                f"{order.paid_fen - order.refunded_fen} fen of it is left to refund"
            )
    if txn.points_cash - txn.points_delta > points_due_back(order, txn.amount_fen):  # points_cash: given back
        return f"{txn.kind} of order {order.key!r} takes back more points than the charge earned"
    return ""


def with_order(before: Account, after: Account, txn: Txn, bonus_drawn_fen: int) -> Account:
    """`after` with its order records brought up to date by this charge, refund or void."""
    if txn.kind is Kind.SPEND and txn.payment_ref and before.order(txn.payment_ref) is None:
        order = TillOrder(
            key=txn.payment_ref,
            txn_id=txn.txn_id,
            at=txn.at,
            paid_fen=txn.amount_fen,
            points_earned=max(0, txn.points_delta + txn.points_cash),
            balance_after_fen=txn.balance_after_fen,
            points_after=txn.points_after,
            bonus_used_fen=bonus_drawn_fen,
            voucher_id=txn.voucher_id,
            voucher_fen=txn.voucher_fen,
            points_cash=txn.points_cash,
            points_cash_fen=txn.points_cash_fen,
            card_uid=txn.card_uid,
        )
        return replace(after, orders=(after.orders + (order,))[-ORDERS_KEPT:])
    if txn.kind not in (Kind.REFUND, Kind.VOID):
        return after
    repaid_key = _repaid_order_key(before, txn)
    orders = []
    for order in after.orders:
        if order.key == repaid_key:  # the order whose refunds kept what this one pays back
            order = replace(order, voucher_repaid_fen=order.voucher_repaid_fen + txn.voucher_repaid_fen)
        if order.key == txn.payment_ref:
            refund = TillRefund(
                refund_id=VOID_ID if txn.kind is Kind.VOID else txn.reason,
                txn_id=txn.txn_id,
                at=txn.at,
                amount_fen=txn.amount_fen,
                points_back=txn.points_cash - txn.points_delta,
                points_cash_back=txn.points_cash,
                voucher_back=txn.voucher_id,
                voucher_withdrawn=txn.voucher_withdrawn,
                voucher_kept_fen=txn.voucher_kept_fen,
                voucher_repaid_fen=txn.voucher_repaid_fen,
                balance_after_fen=txn.balance_after_fen,
                points_after=txn.points_after,
                card_uid=txn.card_uid,
            )
            order = replace(
                order,
                refunded_fen=order.refunded_fen + txn.amount_fen,
                points_reversed=order.points_reversed + points_due_back(order, txn.amount_fen),
                points_cash_back=order.points_cash_back + txn.points_cash,
                voucher_kept_fen=order.voucher_kept_fen + txn.voucher_kept_fen,
                refunds=order.refunds + (refund,),
                voided=txn.kind is Kind.VOID,
            )
        orders.append(order)
    return replace(after, orders=tuple(orders))


def _repaid_order_key(account: Account, txn: Txn) -> str:
    """The key of the order that earned the voucher whose kept value `txn` pays back ("" when none)."""
    order = account.order(txn.payment_ref) if txn.voucher_repaid_fen else None
    voucher = account.voucher(order.voucher_id) if order is not None and order.voucher_id else None
    earning = earning_order(account, voucher) if voucher is not None else None
    return earning.key if earning is not None else ""
