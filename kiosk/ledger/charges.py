"""Paying with the member card: a charge for a till's order, its refunds and its void.

A charge is a SPEND whose payment_ref is the order's key (the till's idempotency key, kept on
the account as a TillOrder); the tier discount is applied here when the till asks for it, or
the till's amount is taken as already discounted. A refund (by order key and the till's refund
id) returns the stored value paid and takes back the points earned in proportion; a void of
a same-day charge returns all of it. Either withdraws the voucher the order earned once what is
left of it no longer earns one (kiosk/ledger/vouchers.py). Each returns the Txn to commit, changing nothing, like
every operation in kiosk/ledger/operations.py; the state applies the same limits again
(kiosk/ledger/orders.py), so HQ holds a kiosk to them too."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from kiosk.ledger import vouchers
from kiosk.ledger.model import CardStatus, TillOrder, Voucher
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.orders import VOID_ID, points_due_back
from kiosk.ledger.rules import MAX_FEN
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind, Txn

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,149}\Z")
KEY_HINT = "1-150 of A-Z a-z 0-9 _ . : - (starting with a letter or digit)"


@dataclass(frozen=True)
class ChargeQuote:
    """What the member sees before confirming: the till's amount, the discount, what the card pays."""

    order_key: str
    total_fen: int  # the amount the till sent
    discount_fen: int  # the tier discount the kiosk took off (0 when the till discounted already)
    amount_fen: int  # taken from stored value
    balance_before_fen: int
    balance_after_fen: int
    points_earned: int
    points_after: int
    pin_required: bool
    tier_id: str
    voucher_id: str = ""  # the voucher chosen (kiosk/ledger/vouchers.py)
    voucher_fen: int = 0
    points_cash: int = 0  # points chosen to pay with (kiosk/ledger/points_cash.py)
    points_cash_fen: int = 0
    vouchers: tuple[Voucher, ...] = ()  # the member's vouchers usable on this order
    most_points: int = 0
    points_step: int = 1


def order_key(till: str, order_id: str) -> str:
    """The key a till's order is kept under: the till's name and its own order id."""
    key = f"{till}:{order_id}"
    if not _KEY.match(key):
        raise Refused("bad_order_id", KEY_HINT)
    return key


def find_order(state: LedgerState, key: str) -> tuple[str, TillOrder] | None:
    """(member id, order) of the charge kept under `key`, on any account (from the replica's
    index of order keys: the chain may hold a million accounts)."""
    for account in state.accounts_with_order(key):
        order = account.order(key)
        if order is not None:
            return account.member_id, order
    return None


def quote(
    ledger: Ledger,
    uid: str,
    key: str,
    total_fen: int,
    apply_discount: bool,
    now: datetime,
    voucher_id: str = "",
    points: int = 0,
    store: str = "",
) -> ChargeQuote:
    """The charge as it would be made, or Refused (card not usable, amount out of range,
    order key already used, insufficient_balance with the balance in its detail, the voucher
    or points chosen not usable here: vouchers.price)."""
    _, _, account = ledger.lookup(uid)
    if isinstance(total_fen, bool) or not isinstance(total_fen, int) or not 0 < total_fen <= MAX_FEN:
        raise Refused("amount_out_of_range", f"1..{MAX_FEN} fen")
    if not _KEY.match(key):
        raise Refused("bad_order_id", KEY_HINT)
    if find_order(ledger.state, key) is not None:
        raise Refused("order_already_charged", key)
    tier = ledger.tier_of(account, now)
    payable = total_fen * tier.discount_pct // 100 if apply_discount else total_fen
    if payable <= 0:
        raise Refused("amount_out_of_range", "nothing left to pay after the discount")
    pricing = vouchers.price(ledger, account, payable, voucher_id, points, now, store)
    amount = payable - pricing.voucher_fen - pricing.points_cash_fen  # >= 1: a voucher is below its minimum spend
    if amount > account.balance_fen:
        raise Refused("insufficient_balance", str(account.balance_fen))
    rules = ledger.rules
    earned = ledger._points_for(amount, account, now) if rules.points.earn_on_spend else 0
    return ChargeQuote(
        order_key=key,
        total_fen=total_fen,
        discount_fen=total_fen - payable,
        amount_fen=amount,
        balance_before_fen=account.balance_fen,
        balance_after_fen=account.balance_fen - amount,
        points_earned=earned,
        points_after=account.points + earned - pricing.points_cash,
        pin_required=ledger.pin_required_for_spend(amount),
        tier_id=tier.id,
        voucher_id=pricing.voucher.id if pricing.voucher else "",
        voucher_fen=pricing.voucher_fen,
        points_cash=pricing.points_cash,
        points_cash_fen=pricing.points_cash_fen,
        vouchers=pricing.usable,
        most_points=pricing.most_points,
        points_step=pricing.points_step,
    )


def charge(
    ledger: Ledger,
    uid: str,
    key: str,
    total_fen: int,
    apply_discount: bool,
    now: datetime,
    pin_verified: bool = False,
    offline_for: timedelta | None = None,
    offline_spent_fen: int = 0,
    voucher_id: str = "",
    points: int = 0,
    store: str = "",
) -> Txn:
    """The SPEND for a till's order (Refused as `quote`, plus pin_required / pin_locked and
    offline_limit: `offline_for` is how long HQ has been unreachable, None when online;
    `offline_spent_fen` what this card already spent here since HQ last confirmed). The
    voucher and points used are part of the same txn (kiosk/ledger/vouchers.py says why)."""
    q = quote(ledger, uid, key, total_fen, apply_discount, now, voucher_id, points, store)
    txn = ledger.spend(
        uid, q.amount_fen, now, pin_verified=pin_verified, offline_for=offline_for, offline_spent_fen=offline_spent_fen
    )
    return replace(
        txn,
        payment_ref=key,
        voucher_id=q.voucher_id,
        voucher_fen=q.voucher_fen,
        points_cash=q.points_cash,
        points_cash_fen=q.points_cash_fen,
        points_after=txn.points_after - q.points_cash,
    )


def refund(ledger: Ledger, key: str, refund_id: str, amount_fen: int, now: datetime) -> Txn:
    """Return `amount_fen` of a charged order to the member's stored value, with the points
    earned in proportion. Refused: unknown_order, order_voided, duplicate refund id
    (refund_already_made), more than is left (refund_too_large, detail: what is left)."""
    if not isinstance(refund_id, str) or not _KEY.match(refund_id) or refund_id == VOID_ID:
        raise Refused("bad_refund_id", KEY_HINT + ', not "void"')
    member_id, order = _order(ledger, key)
    if refund_id in order.refund_ids:
        raise Refused("refund_already_made", refund_id)
    left = order.paid_fen - order.refunded_fen
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise Refused("amount_out_of_range", f"1..{left} fen")
    if amount_fen > left:
        raise Refused("refund_too_large", str(left))
    return _pay_back(ledger, Kind.REFUND, member_id, order, amount_fen, now, reason=refund_id)


def void(ledger: Ledger, key: str, now: datetime) -> Txn:
    """Undo a charge made today (the store's local day), before any refund of it."""
    member_id, order = _order(ledger, key)
    if order.refunded_fen:
        raise Refused("order_refunded", key)
    if ledger.rules.local_date(order.at) != ledger.rules.local_date(now):
        raise Refused("void_too_late", "a charge can be voided on its own day; refund it instead")
    return _pay_back(ledger, Kind.VOID, member_id, order, order.paid_fen, now)


def _order(ledger: Ledger, key: str) -> tuple[str, TillOrder]:
    found = find_order(ledger.state, key) if _KEY.match(key or "") else None
    if found is None:
        raise Refused("unknown_order", key[:150] if isinstance(key, str) else "")
    if found[1].voided:
        raise Refused("order_voided", key)
    return found


def _pay_back(
    ledger: Ledger, kind: Kind, member_id: str, order: TillOrder, amount_fen: int, now: datetime, **details
) -> Txn:
    cards = ledger.state.cards_of(member_id)
    card = next((c for c in cards if c.status is CardStatus.ACTIVE), None) or next(
        (c for c in cards if c.status is CardStatus.BLOCKED), None
    )
    if card is None:
        raise Refused("member_closed", member_id)
    account = ledger.state.accounts[member_id]
    points_back = min(points_due_back(order, amount_fen), account.points)
    back = vouchers.given_back(ledger, account, order, amount_fen, now)
    credit = amount_fen - back.get("voucher_kept_fen", 0) + back.get("voucher_repaid_fen", 0)
    if account.balance_fen + credit > MAX_FEN:
        raise Refused("balance_limit")
    return ledger._txn(
        kind,
        now,
        member_id,
        card.uid,
        account.balance_fen + credit,
        account.points - points_back + back.get("points_cash", 0),
        account=account,
        amount_fen=amount_fen,
        payment_ref=order.key,
        **back,
        **details,
    )
