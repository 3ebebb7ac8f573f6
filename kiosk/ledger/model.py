"""Members, cards and accounts: the values the ledger keeps. All frozen; state changes by
replacing them, so a snapshot can share them safely."""

from __future__ import annotations

import base64
import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class MemberStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"  # every card returned


class CardStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # reported lost (挂失)
    REPLACED = "replaced"  # a newer card took over (补卡)
    RETURNED = "returned"  # handed back and refunded (退卡)


@dataclass(frozen=True)
class Member:
    member_id: str
    name: str
    phone: str
    birthday: date | None
    joined_at: datetime
    pin_hash: str
    status: MemberStatus = MemberStatus.ACTIVE
    pin_failures: int = 0
    pin_locked_until: datetime | None = None
    referred_by: str = ""  # member id of the referrer, if a referral code was used
    birthday_edited: bool = False  # the member changed their birthday at the kiosk: only once
    notes_consent: bool = False  # agreed at sign-up that staff may keep notes (HQ's member notes)


@dataclass(frozen=True)
class Card:
    uid: str  # upper-case hex
    member_id: str
    card_seq: int  # bumped on every replacement; an older card of the member is refused
    status: CardStatus = CardStatus.ACTIVE
    card_counter: int = 0  # highest counter seen on the card (purse or NTAG tap counter): a lower one is a copy
    # made at HQ's counter, which has no card writer: the chip is blank (or pre-issued) until a
    # kiosk writes it behind the member's PIN (CARD_WRITTEN); False in snapshots made before it
    awaiting_write: bool = False


@dataclass(frozen=True)
class PointsLot:
    """Points that expire together, at the end of the local day `expires_on`."""

    expires_on: date
    points: int


@dataclass(frozen=True)
class TopUpRecord:
    at: datetime
    amount_fen: int


@dataclass(frozen=True)
class Activity:
    """One line of the member's recent activity, as the home screen shows it."""

    at: datetime
    kind: str
    balance_delta_fen: int
    points_delta: int
    reward_id: str = ""


RECENT_ACTIVITIES = 5


class VoucherStatus(StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # taken back: the sale that earned it was refunded below its threshold, or voided


@dataclass(frozen=True)
class Voucher:
    """A voucher (代金券) the member holds: its terms are copied from the issuing txn, so a
    change of the rules never changes a voucher already given."""

    id: str  # the txn_id of the VOUCHER_ISSUED that gave it
    type: str
    value_fen: int
    min_spend_fen: int
    issued_at: datetime
    expires_at: datetime  # valid before this instant: the end of its last valid local day
    stores: tuple[str, ...] = ()  # () = every store
    reason: str = ""  # why it was given: new_member, birthday:2026, spend:<order key>, campaign:dormant...
    status: VoucherStatus = VoucherStatus.VALID
    order_key: str = ""  # USED: the till order it paid part of


VOUCHERS_KEPT = 50  # per account: every valid voucher, then the newest used or expired ones
VOUCHER_REASONS_KEPT = 200  # the reasons of the vouchers given, so a gift is given once


@dataclass(frozen=True)
class TillRefund:
    """A refund (or the void, refund_id "void") of a till order, as a retried request gets it back."""

    refund_id: str
    txn_id: str
    at: datetime
    amount_fen: int
    points_back: int
    balance_after_fen: int
    points_after: int
    points_cash_back: int = 0  # points paid as cash given back (points_back: earned ones taken back)
    voucher_back: str = ""  # the voucher given back
    voucher_withdrawn: str = ""  # the voucher this order earned, taken back (kiosk/ledger/vouchers.py)
    voucher_kept_fen: int = 0  # of amount_fen, kept because that voucher was already used
    voucher_repaid_fen: int = 0  # beyond amount_fen: kept for the withdrawn voucher this order used, paid back
    card_uid: str = ""  # the card the money went back to ("" in records kept before it was)


@dataclass(frozen=True)
class TillOrder:
    """A charge made for a till's order, kept on the account so that a refund or a void (by the
    order's key, from any kiosk or at HQ) is checked against what was really paid and earned."""

    key: str  # the till's order id as the kiosk keys it (kiosk/ledger/charges.order_key)
    txn_id: str
    at: datetime
    paid_fen: int  # stored value the charge took
    points_earned: int
    balance_after_fen: int  # right after the charge: a retried request gets the first answer
    points_after: int
    bonus_used_fen: int = 0  # the part of paid_fen that was bonus credit: it goes back as bonus
    voucher_id: str = ""  # the voucher that paid voucher_fen of the order (back on a whole refund or void)
    voucher_fen: int = 0
    points_cash: int = 0  # points that paid points_cash_fen of the order
    points_cash_fen: int = 0
    points_cash_back: int = 0  # of points_cash, given back so far
    voucher_kept_fen: int = 0  # kept from its refunds so far: the value of the used voucher it earned
    voucher_repaid_fen: int = 0  # of voucher_kept_fen, paid back since: the order that used it was refunded whole
    refunded_fen: int = 0
    points_reversed: int = 0  # points due back so far (in proportion to the refunds)
    refunds: tuple[TillRefund, ...] = ()  # oldest first; a void is the one refund "void"
    voided: bool = False
    card_uid: str = ""  # the card that paid: a retried answer shows it, not the member's card of now

    @property
    def refund_ids(self) -> tuple[str, ...]:
        return tuple(r.refund_id for r in self.refunds)

    def refund(self, refund_id: str) -> TillRefund | None:
        return next((r for r in self.refunds if r.refund_id == refund_id), None)


ORDERS_KEPT = 100  # per account, newest last: an older order can no longer be refunded here


@dataclass(frozen=True)
class Account:
    member_id: str
    balance_fen: int = 0
    bonus_fen: int = 0  # the part of the balance that came from bonuses and gifts
    lots: tuple[PointsLot, ...] = ()  # oldest expiry first
    lifetime_topup_fen: int = 0
    lifetime_spend_fen: int = 0
    recent_topups: tuple[TopUpRecord, ...] = ()  # the last 12 months, for the tier
    birthday_gift_years: tuple[int, ...] = ()
    new_member_gift_given: bool = False
    last_visit: datetime | None = None
    recent: tuple[Activity, ...] = ()  # newest first, at most RECENT_ACTIVITIES
    last_checkin_on: date | None = None
    checkin_streak: int = 0
    referee_rewarded: bool = False  # this member's own sign-up referral reward was given
    referrer_rewarded: bool = False  # the member who referred this one was rewarded
    profile_rewarded: bool = False  # the points for a completed profile were given (once)
    orders: tuple[TillOrder, ...] = ()  # the latest till charges, oldest first, at most ORDERS_KEPT
    vouchers: tuple[Voucher, ...] = ()  # oldest first, at most VOUCHERS_KEPT (kiosk/ledger/vouchers.py)
    voucher_reasons: tuple[str, ...] = ()  # why each voucher was given, newest last: a gift is given once

    def voucher(self, voucher_id: str) -> Voucher | None:
        return next((v for v in self.vouchers if v.id == voucher_id), None)
    card_fee_due_fen: int = 0  # the sign-up card fee not yet paid or waived (revenue, never balance)

    def order(self, key: str) -> TillOrder | None:
        return next((o for o in self.orders if o.key == key), None)

    @property
    def points(self) -> int:
        return sum(lot.points for lot in self.lots)

    def topups_since(self, since: datetime) -> int:
        return sum(t.amount_fen for t in self.recent_topups if t.at > since)

    def expired_points(self, today: date) -> int:
        return sum(lot.points for lot in self.lots if lot.expires_on < today)


def lots_added(lots: tuple[PointsLot, ...], points: int, expires_on: date) -> tuple[PointsLot, ...]:
    """The lots with `points` (> 0) more expiring on `expires_on`, oldest expiry first."""
    out = list(lots)
    for i, lot in enumerate(out):
        if lot.expires_on == expires_on:
            out[i] = PointsLot(expires_on, lot.points + points)
            break
    else:
        out.append(PointsLot(expires_on, points))
        out.sort(key=lambda lot: lot.expires_on)
    return tuple(out)


def lots_taken(lots: tuple[PointsLot, ...], points: int) -> tuple[PointsLot, ...]:
    """The lots after taking `points` from those that expire first; never below zero."""
    out = []
    for lot in lots:
        take = min(points, lot.points)
        points -= take
        if lot.points - take:
            out.append(PointsLot(lot.expires_on, lot.points - take))
    return tuple(out)


def add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def end_of_month(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def points_expiry(earned_on: date, expiry_months: int) -> date:
    """Points earned in month M expire at the end of month M + expiry_months - 1."""
    return end_of_month(add_months(date(earned_on.year, earned_on.month, 1), expiry_months - 1))


def referral_code_of(member_id: str) -> str:
    """A short code a member can share (and show as a QR code): stable, unambiguous letters."""
    digest = hashlib.sha256(b"referral:" + member_id.encode()).digest()
    return base64.b32encode(digest[:5]).decode()
