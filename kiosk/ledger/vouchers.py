"""Vouchers (代金券): given, used at a till charge, given back by a refund, run out.

Each step is a transaction, made here and never applied here (the caller commits, then applies):
- VOUCHER_ISSUED: the new-member gift (入会送券), the birthday gift, the referrer's reward, a
  charge paying at least the rules' threshold (消费送券), or HQ's campaign to a segment. The
  voucher's terms (value, minimum spend, end of validity, stores) are copied into the txn, so a
  later change of the rules never changes a voucher given; its id is the txn's own id.
- Use: part of the SPEND of a till charge (kiosk/ledger/charges.py), not a kind of its own: one
  txn is committed or not, so a power cut can never leave a voucher used with no charge, or a
  charge made at the price of a voucher still unused; a refund or void finds it on the order.
- Back: a refund that leaves nothing of the order unrefunded, or a void, names the voucher
  again, when it is still valid then (past its last day it stays used: it could not be used now).
- Withdrawn: a refund that leaves less of the order than the spend gift's threshold (of the rules
  in force then), or a void, withdraws the voucher that order earned (消费送券退货收回). Unused, it
  is simply gone; used already, its value is kept from this refund (and the next ones, if this one
  is smaller), so no refund pays out a discount the member no longer earned.
- Repaid: the refund that leaves nothing of the order that used a withdrawn voucher (or its void)
  undoes that discount too, so what was kept for the voucher goes back to the card with it
  (voucher_repaid_fen), once; and once that use is undone no refund keeps anything for it.
- VOUCHER_EXPIRED: a voucher whose last valid day has passed, noted when its member comes by.
The state (kiosk/ledger/voucher_state.py) applies them the same way at the kiosk and at HQ."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiosk.ledger.model import Account, CardStatus, TillOrder, Voucher, VoucherStatus
from kiosk.ledger.operations import Ledger
from kiosk.ledger.points_cash import cash_due_back
from kiosk.ledger.refusal import Refused
from kiosk.ledger.rules import Rules
from kiosk.ledger.txn import Kind, Txn
from kiosk.ledger.voucher_rules import SpendGift, VoucherType
from kiosk.ledger.voucher_state import earned_by, repay_due, spend_reason, use_stands

NEW_MEMBER_DAYS = 7  # the new-member voucher is given within this many days of joining
NEW_MEMBER, BIRTHDAY, SPEND, REFERRAL, CAMPAIGN = "new_member", "birthday", "spend", "referral", "campaign"


@dataclass(frozen=True)
class Pricing:
    """What a voucher and points pay of an order, and what the member could choose instead."""

    voucher: Voucher | None
    voucher_fen: int
    points_cash: int
    points_cash_fen: int
    usable: tuple[Voucher, ...]  # the member's vouchers usable on this order, soonest to expire first
    most_points: int  # the most points this order takes as cash (with the chosen voucher)
    points_step: int


def valid_until(rules: Rules, voucher: VoucherType, now: datetime) -> datetime:
    """The instant a voucher given `now` stops being valid: the end of its last local day."""
    zone = ZoneInfo(rules.timezone)
    last = rules.local_date(now) + timedelta(days=voucher.valid_days)
    return datetime.combine(last, time(), zone).astimezone(UTC)


def valid(account: Account, now: datetime, store: str | None = None) -> tuple[Voucher, ...]:
    """The member's vouchers usable now (at `store`, or any store), soonest to expire first."""
    found = [
        v for v in account.vouchers
        if v.status is VoucherStatus.VALID and now < v.expires_at and (store is None or not v.stores or store in v.stores)
    ]
    return tuple(sorted(found, key=lambda v: (v.expires_at, v.id)))


def issue(ledger: Ledger, member_id: str, type_id: str, now: datetime, reason: str) -> Txn:
    """A voucher of `type_id` for the member (Refused: unknown_voucher_type, member_closed)."""
    voucher = ledger.rules.vouchers.type(type_id)
    if voucher is None:
        raise Refused("unknown_voucher_type", type_id[:64])
    account = ledger.state.accounts.get(member_id)
    card = _card_of(ledger, member_id)
    if account is None or not card:
        raise Refused("member_closed", member_id[:64])
    return ledger._unchanged(
        Kind.VOUCHER_ISSUED,
        now,
        member_id,
        card,
        account,
        amount_fen=voucher.value_fen,
        voucher_type=voucher.id,
        voucher_min_fen=voucher.min_spend_fen,
        voucher_until=valid_until(ledger.rules, voucher, now),
        voucher_stores=",".join(voucher.stores),
        reason=reason,
    )


def next_due(ledger: Ledger, uid: str, now: datetime) -> Txn | None:
    """The next voucher step due for this card's member: a voucher run out, then a gift due
    (new member, birthday, a charge above the threshold, a member they referred). None when
    nothing is; call again after committing each (a power cut between them loses none)."""
    card = ledger.state.cards.get(uid)
    if card is None or card.status is not CardStatus.ACTIVE:
        return None
    account = ledger.state.accounts[card.member_id]
    for v in account.vouchers:
        if v.status is VoucherStatus.VALID and now >= v.expires_at:
            return ledger._unchanged(Kind.VOUCHER_EXPIRED, now, card.member_id, uid, account, voucher_id=v.id)
    for member_id, type_id, reason in _gifts(ledger, card.member_id, account, now):
        if type_id and reason not in ledger.state.accounts[member_id].voucher_reasons:
            return issue(ledger, member_id, type_id, now, reason)
    return None


def _gifts(ledger: Ledger, member_id: str, account: Account, now: datetime):
    """(member, voucher type, reason) of each gift this member's visit may give."""
    gifts, rules = ledger.rules.vouchers, ledger.rules
    member = ledger.state.members[member_id]
    if gifts.new_member and now - member.joined_at <= timedelta(days=NEW_MEMBER_DAYS):
        yield member_id, gifts.new_member, NEW_MEMBER
    years = account.birthday_gift_years
    if gifts.birthday and years and rules.local_date(now).year - max(years) <= 1:
        yield member_id, gifts.birthday, f"{BIRTHDAY}:{max(years)}"
    if gifts.spend is not None:
        for order in account.orders[-5:]:  # the latest charges: one a power cut left without its voucher
            if earns(gifts.spend, order, order.refunded_fen) and now - order.at <= timedelta(days=1):
                yield member_id, gifts.spend.type, spend_reason(order.key)
    referrer = member.referred_by
    if gifts.referral and referrer and account.referrer_rewarded and _card_of(ledger, referrer):
        yield referrer, gifts.referral, f"{REFERRAL}:{member_id}"


def _card_of(ledger: Ledger, member_id: str) -> str:
    card = ledger._active_card_of(member_id)
    return card.uid if card is not None else ""


def price(
    ledger: Ledger, account: Account, payable_fen: int, voucher_id: str, points: int, now: datetime, store: str
) -> Pricing:
    """The voucher (by id, "" for none) and points the member chose, checked against this order
    (Refused: voucher_not_found, voucher_used, voucher_expired, voucher_other_store,
    voucher_min_spend with the minimum in its detail, bad_points_choice with the range)."""
    usable = tuple(v for v in valid(account, now, store) if payable_fen >= v.min_spend_fen)
    voucher = None
    if voucher_id:
        voucher = account.voucher(voucher_id)
        if voucher is None:
            raise Refused("voucher_not_found", voucher_id[:100])
        if voucher.status is not VoucherStatus.VALID:
            raise Refused("voucher_used" if voucher.status is VoucherStatus.USED else "voucher_expired", voucher.id)
        if now >= voucher.expires_at:
            raise Refused("voucher_expired", voucher.id)
        if voucher.stores and store not in voucher.stores:
            raise Refused("voucher_other_store", voucher.id)
        if payable_fen < voucher.min_spend_fen:
            raise Refused("voucher_min_spend", str(voucher.min_spend_fen))
    voucher_fen = voucher.value_fen if voucher else 0
    rule = ledger.rules.points_cash
    most = rule.most_points(payable_fen - voucher_fen, account.points)
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= most or points % rule.step:
        raise Refused("bad_points_choice", f"0..{most} step {rule.step}")
    return Pricing(voucher, voucher_fen, points, rule.fen_for(points), usable, most, rule.step)


def earns(gift: SpendGift | None, order: TillOrder, refunded_fen: int) -> bool:
    """Does the order, with `refunded_fen` of it refunded, still earn the spend gift's voucher?"""
    return gift is not None and not order.voided and order.paid_fen - refunded_fen >= gift.min_fen


def given_back(ledger: Ledger, account: Account, order: TillOrder, amount_fen: int, now: datetime) -> dict:
    """What a refund of `amount_fen` (or the void) of `order` gives back beyond stored value:
    its voucher when nothing of the order is left unrefunded and the voucher is still valid (or,
    withdrawn since, what was kept for it), points paid as cash in proportion (as fresh points);
    and what it takes back: the voucher the order earned, once what is left of it no longer
    earns one. Txn details; {} when nothing."""
    out: dict = withdrawn(ledger, account, order, amount_fen)
    voucher = account.voucher(order.voucher_id) if order.voucher_id else None
    whole = order.refunded_fen + amount_fen >= order.paid_fen
    if voucher is not None and voucher.status is VoucherStatus.USED and whole and now < voucher.expires_at:
        out["voucher_id"] = voucher.id
    repaid = repay_due(account, order) if whole else 0
    if repaid:
        out["voucher_repaid_fen"] = repaid
    cash = cash_due_back(order, amount_fen)
    if cash:
        out["points_cash"] = cash
        out["points_expire_on"] = ledger._expiry(now)
    return out


def withdrawn(ledger: Ledger, account: Account, order: TillOrder, amount_fen: int) -> dict:
    """The voucher `order` earned, withdrawn by a refund of `amount_fen` that leaves too little of
    the order to earn it (a void or a whole refund always does), with what is kept of the refund
    for it when it was used: its value, less what earlier refunds kept, at most this refund; nothing
    once the order that used it was refunded whole (that discount is undone)."""
    earned = earned_by(account, order.key)
    if earned is None or earns(ledger.rules.vouchers.spend, order, order.refunded_fen + amount_fen):
        return {}
    standing = use_stands(account, earned)
    if earned.status is VoucherStatus.VALID or (earned.status is VoucherStatus.USED and not standing):
        return {"voucher_withdrawn": earned.id}  # unused, or its use undone (expired, it stayed used): nothing kept
    owed = earned.value_fen - order.voucher_kept_fen
    if standing and owed > 0:
        return {"voucher_withdrawn": earned.id, "voucher_kept_fen": min(owed, amount_fen)}
    return {}
