"""What vouchers and points as cash do to an account when a transaction is applied.

LedgerState.apply (kiosk/ledger/state.py) asks `use_problem` before anything moves (a charge
taking more points than it says it paid with, a refund giving back a voucher or points its order
never used, or withdrawing a voucher its order did not earn or keeping more than that voucher's
value: refused, as a kiosk and HQ both refuse them), `use_conflict` for a voucher used when
this state says it may not be (used already, expired, unknown: two kiosks offline may both have
taken it; the money moved, so the charge stays applied and the conflict says why), and
`voucher_changes` for the account's vouchers after the txn. No rules, no clock: the txn says all.

A used voucher whose earning order is refunded is withdrawn and its value kept from that refund
(the discount it gave was no longer earned); once the order that used it is refunded whole, that
discount is undone too, so what was kept goes back to the card with that refund
(`voucher_repaid_fen`, once: `repay_due`), and no later refund keeps anything for it (`use_stands`)."""

from __future__ import annotations

from dataclasses import replace

from kiosk.ledger.model import (
    VOUCHER_REASONS_KEPT,
    VOUCHERS_KEPT,
    Account,
    TillOrder,
    Voucher,
    VoucherStatus,
)
from kiosk.ledger.points_cash import cash_due_back
from kiosk.ledger.txn import Kind, Txn

_PAY_BACK = (Kind.REFUND, Kind.VOID)


def stores_of(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split(",") if s)


def voucher_of(txn: Txn) -> Voucher:
    """The voucher a VOUCHER_ISSUED gives."""
    assert txn.voucher_until is not None
    return Voucher(
        id=txn.txn_id,
        type=txn.voucher_type,
        value_fen=txn.amount_fen,
        min_spend_fen=txn.voucher_min_fen,
        issued_at=txn.at,
        expires_at=txn.voucher_until,
        stores=stores_of(txn.voucher_stores),
        reason=txn.reason,
    )


def spend_reason(order_key: str) -> str:
    """The reason of the voucher a till order earned (消费送券): one per order."""
    return f"spend:{order_key}"


def earned_by(account: Account, order_key: str) -> Voucher | None:
    """The voucher this till order earned, if the member holds it."""
    reason = spend_reason(order_key)
    return next((v for v in account.vouchers if v.reason == reason), None)


def earning_order(account: Account, voucher: Voucher) -> TillOrder | None:
    """The till order whose sale earned this voucher (消费送券), if the account still holds it."""
    prefix = spend_reason("")
    return account.order(voucher.reason[len(prefix):]) if voucher.reason.startswith(prefix) else None


def use_stands(account: Account, voucher: Voucher) -> bool:
    """The voucher's use still discounts an order: used (or withdrawn after its use) on an order
    not refunded whole nor voided. An order the account no longer holds is taken as standing."""
    if not voucher.order_key or voucher.status not in (VoucherStatus.USED, VoucherStatus.WITHDRAWN):
        return False
    order = account.order(voucher.order_key)
    return order is None or not (order.voided or order.refunded_fen >= order.paid_fen)


def repay_due(account: Account, order: TillOrder) -> int:
    """What the refund completing `order` (or its void) pays back for the voucher it used, when
    that voucher was withdrawn since: what its earning order's refunds kept for it, less what was
    paid back already. 0 for any other order or voucher."""
    voucher = account.voucher(order.voucher_id) if order.voucher_id else None
    if voucher is None or voucher.status is not VoucherStatus.WITHDRAWN or voucher.order_key != order.key:
        return 0
    earning = earning_order(account, voucher)
    return 0 if earning is None else max(0, earning.voucher_kept_fen - earning.voucher_repaid_fen)


def whole_refund(order: TillOrder, txn: Txn) -> bool:
    """This refund or void leaves nothing of the order's stored value unrefunded."""
    return txn.kind is Kind.VOID or order.refunded_fen + txn.amount_fen >= order.paid_fen


def use_problem(account: Account | None, txn: Txn) -> str:
    """Why the txn's voucher or points-as-cash amounts contradict themselves or their order."""
    if txn.kind is Kind.VOUCHER_ISSUED:
        if txn.voucher_until is None or txn.voucher_until <= txn.at or not txn.voucher_type or txn.amount_fen <= 0:
            return "voucher_issued needs a type, a value and an end of validity after its time"
        return ""
    if txn.kind is Kind.VOUCHER_EXPIRED and not txn.voucher_id:
        return "voucher_expired names no voucher"
    if txn.kind is Kind.SPEND:
        if -txn.points_delta > txn.points_cash:
            return f"spend takes {-txn.points_delta} points but states {txn.points_cash} paid as cash"
        if bool(txn.voucher_id) != bool(txn.voucher_fen) or bool(txn.points_cash) != bool(txn.points_cash_fen):
            return "spend states a voucher or points as cash without its amount"
        return ""
    if txn.kind not in _PAY_BACK or account is None:
        return ""
    order = account.order(txn.payment_ref)
    if order is None:
        return ""  # orders.order_problem says so
    if txn.points_delta > txn.points_cash:
        return f"{txn.kind} gives {txn.points_delta} points but states {txn.points_cash} paid back"
    if txn.points_cash > cash_due_back(order, txn.amount_fen):
        return f"{txn.kind} of order {order.key!r} gives back more points than paid with"
    if txn.voucher_id and (txn.voucher_id != order.voucher_id or not whole_refund(order, txn)):
        return f"{txn.kind} of order {order.key!r} gives back voucher {txn.voucher_id!r} it may not"
    return _withdrawal_problem(account, order, txn) or _repay_problem(account, order, txn)


def _repay_problem(account: Account, order: TillOrder, txn: Txn) -> str:
    """A refund may pay back a voucher's kept value only when it completes the order that used
    the voucher, and at most what was kept for it and not paid back yet (so never twice)."""
    if not txn.voucher_repaid_fen:
        return ""
    if not whole_refund(order, txn):
        return f"{txn.kind} of order {order.key!r} pays back {txn.voucher_repaid_fen} fen but leaves part of it unrefunded"
    due = repay_due(account, order)
    if txn.voucher_repaid_fen > due:
        return (
            f"{txn.kind} of order {order.key!r} pays back {txn.voucher_repaid_fen} fen for voucher "
            f"{order.voucher_id!r}: only {due} fen was kept for it and not paid back"
        )
    return ""


def _withdrawal_problem(account: Account, order: TillOrder, txn: Txn) -> str:
    """A refund may withdraw only the voucher its own order earned, and keep at most what is
    still owed for it when it was used (its value, less what earlier refunds kept)."""
    if not txn.voucher_withdrawn:
        return f"{txn.kind} keeps {txn.voucher_kept_fen} fen for no voucher" if txn.voucher_kept_fen else ""
    earned = earned_by(account, order.key)
    if earned is None or earned.id != txn.voucher_withdrawn:
        return f"{txn.kind} of order {order.key!r} withdraws voucher {txn.voucher_withdrawn!r}, which the order did not earn"
    if txn.voucher_kept_fen > earned.value_fen - order.voucher_kept_fen:
        return (
            f"{txn.kind} of order {order.key!r} keeps {txn.voucher_kept_fen} fen for voucher {earned.id!r}: "
            f"only {earned.value_fen - order.voucher_kept_fen} fen of its value is owed"
        )
    return ""


def use_conflict(account: Account, txn: Txn) -> str:
    """A charge whose voucher this state does not hold as usable then, a refund withdrawing as
    unused a voucher this state holds as used, keeping nothing, or keeping a value for a voucher
    whose use was undone, or completing the order that used a withdrawn voucher without paying
    back what was kept for it (applied all the same: two kiosks offline; the money moved)."""
    if txn.kind in _PAY_BACK:
        return _pay_back_conflict(account, txn)
    if txn.kind is not Kind.SPEND or not txn.voucher_id:
        return ""
    voucher = account.voucher(txn.voucher_id)
    if voucher is None:
        return f"spend used voucher {txn.voucher_id!r}, which this account does not hold"
    if voucher.status is not VoucherStatus.VALID:
        return f"spend used voucher {voucher.id!r}, already {voucher.status}"
    if txn.at >= voucher.expires_at:
        return f"spend used voucher {voucher.id!r} after its validity ended"
    if txn.voucher_fen > voucher.value_fen:
        return f"spend took {txn.voucher_fen} fen off with voucher {voucher.id!r} worth {voucher.value_fen}"
    return ""


def _pay_back_conflict(account: Account, txn: Txn) -> str:
    earned = account.voucher(txn.voucher_withdrawn) if txn.voucher_withdrawn else None
    if earned is not None and not txn.voucher_kept_fen and earned.status is VoucherStatus.USED and use_stands(account, earned):
        return f"{txn.kind} withdrew voucher {earned.id!r} as unused, but it was used on order {earned.order_key!r}"
    if earned is not None and txn.voucher_kept_fen and earned.order_key and not use_stands(account, earned):
        return (
            f"{txn.kind} kept {txn.voucher_kept_fen} fen for voucher {earned.id!r}, "
            f"but order {earned.order_key!r} that used it was refunded whole"
        )
    order = account.order(txn.payment_ref)
    if order is not None and whole_refund(order, txn) and txn.voucher_repaid_fen < (due := repay_due(account, order)):
        return f"{txn.kind} of order {order.key!r} paid back {txn.voucher_repaid_fen} of the {due} fen kept for its voucher"
    return ""


def voucher_changes(account: Account, txn: Txn) -> dict:
    """The account fields (vouchers, voucher_reasons) this txn changes; {} when none."""
    if txn.kind is Kind.VOUCHER_ISSUED:
        reasons = (account.voucher_reasons + (txn.reason,))[-VOUCHER_REASONS_KEPT:] if txn.reason else account.voucher_reasons
        return {"vouchers": _kept(account.vouchers + (voucher_of(txn),)), "voucher_reasons": reasons}
    if txn.kind is Kind.VOUCHER_EXPIRED:
        return _set(account, txn.voucher_id, VoucherStatus.VALID, status=VoucherStatus.EXPIRED)
    if txn.kind is Kind.SPEND and txn.voucher_id:
        return _set(account, txn.voucher_id, VoucherStatus.VALID, status=VoucherStatus.USED, order_key=txn.payment_ref)
    if txn.kind in _PAY_BACK:
        changes = _set(account, txn.voucher_id, VoucherStatus.USED, status=VoucherStatus.VALID, order_key="")
        after = replace(account, **changes)
        earned = after.voucher(txn.voucher_withdrawn) if txn.voucher_withdrawn else None
        if earned is not None and earned.status in (VoucherStatus.VALID, VoucherStatus.USED):
            changes = _set(after, earned.id, earned.status, status=VoucherStatus.WITHDRAWN)
        return changes
    return {}


def _set(account: Account, voucher_id: str, was: VoucherStatus, **changes) -> dict:
    """The vouchers with one (in status `was`) changed; {} when there is none such."""
    found = account.voucher(voucher_id) if voucher_id else None
    if found is None or found.status is not was:
        return {}
    return {"vouchers": _kept(tuple(replace(v, **changes) if v.id == voucher_id else v for v in account.vouchers))}


def _kept(vouchers: tuple[Voucher, ...]) -> tuple[Voucher, ...]:
    """Every valid voucher, and the newest others up to VOUCHERS_KEPT in all (issue order)."""
    if len(vouchers) <= VOUCHERS_KEPT:
        return vouchers
    room = max(0, VOUCHERS_KEPT - sum(v.status is VoucherStatus.VALID for v in vouchers))
    spent = [v.id for v in vouchers if v.status is not VoucherStatus.VALID]
    keep = set(spent[len(spent) - room:])  # room 0: from the end, none
    return tuple(v for v in vouchers if v.status is VoucherStatus.VALID or v.id in keep)
