"""The Receipt value and its builders, one per kind of slip: 储值单 (top-up), 消费单 (charge),
退款单 / 撤销单 (refund, void). The builders take plain values (fen, points, ids), not a till's
or a ledger's objects, so every flow that moves money can print through them.

The text is translated when the receipt is built, in the store's language (the kiosk's
[device] locale), through the same gettext catalogues as the screens. Money is shown in yuan
from integer fen (kiosk.ledger.money.format_fen); the time is kept in UTC and shown in the
store's zone (the rules' timezone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.ledger.money import format_fen
from kiosk.receipt.mask import mask_name, mask_uid
from kiosk.ui.i18n import LOCALES, Translator


@dataclass(frozen=True)
class Shop:
    """Who prints: the store's name at the top of every slip, the device, the language."""

    store_name: str
    device_id: str
    locale: str = "zh_CN"

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"receipt locale: must be one of {LOCALES}, got {self.locale!r}")


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    value: str


@dataclass(frozen=True)
class Receipt:
    """One slip, ready to lay out: every text already in the store's language, the member's
    name and card already masked. `at` is UTC; `local_time` is what is printed."""

    locale: str
    store_name: str
    device_id: str
    at: datetime
    timezone: str
    title: str
    lines: tuple[ReceiptLine, ...]
    member: str  # masked (张**), "" when the member gave no name
    card: str  # masked (****B2C3)
    balance_after_fen: int
    points_after: int
    txn_id: str
    order_id: str = ""
    refund_id: str = ""

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"receipt locale: must be one of {LOCALES}, got {self.locale!r}")
        if self.at.tzinfo is None:
            raise ValueError("receipt at: must be a time with a zone (UTC), got a naive datetime")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"receipt timezone: unknown time zone {self.timezone[:64]!r}") from None

    @property
    def local_time(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))


@cache
def _catalogue(locale: str) -> Translator:
    return Translator(locale)


def translator_for(locale: str) -> Callable[[str], str]:
    """gettext in `locale`, without touching the language the screens are showing."""
    return _catalogue(locale).gettext


def points_text(points: int, signed: bool = False) -> str:
    return f"{points:+,}" if signed else f"{points:,}"


def _receipt(
    shop: Shop,
    title: str,
    lines: list[ReceiptLine],
    *,
    at: datetime,
    timezone: str,
    member_name: str,
    card_uid: str,
    txn_id: str,
    balance_after_fen: int,
    points_after: int,
    order_id: str = "",
    refund_id: str = "",
) -> Receipt:
    return Receipt(
        locale=shop.locale,
        store_name=shop.store_name,
        device_id=shop.device_id,
        at=at,
        timezone=timezone,
        title=title,
        lines=tuple(lines),
        member=mask_name(member_name),
        card=mask_uid(card_uid),
        balance_after_fen=balance_after_fen,
        points_after=points_after,
        txn_id=txn_id,
        order_id=order_id,
        refund_id=refund_id,
    )


def receipt_for_top_up(
    shop: Shop,
    *,
    amount_fen: int,
    bonus_fen: int,
    points_earned: int,
    balance_after_fen: int,
    points_after: int,
    at: datetime,
    timezone: str,
    member_name: str,
    card_uid: str,
    txn_id: str,
    card_fee_fen: int = 0,
    card_fee_waived: bool = False,
) -> Receipt:
    """储值单: the card fee the same payment settled (paid, or waived by the top-up), what was
    topped up, the bonus the rules added, what reached the balance. A payment that only paid
    the fee is a 卡费单 without the top-up lines."""
    _ = translator_for(shop.locale)
    lines = []
    if card_fee_fen:
        lines.append(ReceiptLine(_("Card fee"), format_fen(card_fee_fen)))
    elif card_fee_waived:
        lines.append(ReceiptLine(_("Card fee"), _("waived")))
    fee_only = card_fee_fen and not amount_fen
    if not fee_only:
        lines.append(ReceiptLine(_("Amount topped up"), format_fen(amount_fen)))
        if bonus_fen:
            lines.append(ReceiptLine(_("Bonus"), format_fen(bonus_fen)))
        lines.append(ReceiptLine(_("Credited"), format_fen(amount_fen + bonus_fen)))
    if points_earned:
        lines.append(ReceiptLine(_("Points earned"), points_text(points_earned, signed=True)))
    title = _("Card fee receipt") if fee_only else _("Top-up receipt")
    return _receipt(
        shop, title, lines, at=at, timezone=timezone, member_name=member_name,
        card_uid=card_uid, txn_id=txn_id, balance_after_fen=balance_after_fen, points_after=points_after,
    )


def receipt_for_charge(
    shop: Shop,
    *,
    amount_fen: int,
    balance_after_fen: int,
    points_after: int,
    at: datetime,
    timezone: str,
    member_name: str,
    card_uid: str,
    txn_id: str,
    order_id: str,
    discount_fen: int = 0,
    voucher_fen: int = 0,
    points_used: int = 0,
    points_used_fen: int = 0,
    points_earned: int = 0,
) -> Receipt:
    """消费单: `amount_fen` is what the stored value paid; the order's total is that plus the
    member discount, the voucher and the points used as cash, each shown as its own line."""
    _ = translator_for(shop.locale)
    lines = []
    if discount_fen or voucher_fen or points_used_fen:
        total = amount_fen + discount_fen + voucher_fen + points_used_fen
        lines.append(ReceiptLine(_("Order total"), format_fen(total)))
    if discount_fen:
        lines.append(ReceiptLine(_("Member discount"), format_fen(-discount_fen)))
    if voucher_fen:
        lines.append(ReceiptLine(_("Voucher"), format_fen(-voucher_fen)))
    if points_used_fen:
        label = _("Points as cash ({points})").format(points=points_text(points_used))
        lines.append(ReceiptLine(label, format_fen(-points_used_fen)))
    lines.append(ReceiptLine(_("Paid from stored value"), format_fen(amount_fen)))
    if points_earned:
        lines.append(ReceiptLine(_("Points earned"), points_text(points_earned, signed=True)))
    return _receipt(
        shop, _("Purchase receipt"), lines, at=at, timezone=timezone, member_name=member_name,
        card_uid=card_uid, txn_id=txn_id, balance_after_fen=balance_after_fen, points_after=points_after,
        order_id=order_id,
    )


def receipt_for_refund(
    shop: Shop,
    *,
    refund_fen: int,
    balance_after_fen: int,
    points_after: int,
    at: datetime,
    timezone: str,
    member_name: str,
    card_uid: str,
    txn_id: str,
    order_id: str,
    refund_id: str = "",
    points_reversed: int = 0,
    void: bool = False,
    points_returned: int = 0,
    voucher_returned: bool = False,
    voucher_withdrawn: bool = False,
    voucher_kept_fen: int = 0,
    voucher_repaid_fen: int = 0,
) -> Receipt:
    """退款单 (or 撤销单 for a void): the stored value returned, the points taken back, the
    points paid as cash and the voucher given back, and the voucher the sale earned taken back
    (with its value kept from `refund_fen` when it was used: the member sees why less came back),
    and what was kept for the voucher this order used, paid back (why more came back)."""
    _ = translator_for(shop.locale)
    back = refund_fen - voucher_kept_fen + voucher_repaid_fen
    lines = [ReceiptLine(_("Returned to stored value"), format_fen(back))]
    if voucher_withdrawn:
        lines.append(ReceiptLine(_("Voucher earned by sale"), _("withdrawn")))
    if voucher_kept_fen:
        lines.append(ReceiptLine(_("Its value, used already"), format_fen(-voucher_kept_fen)))
    if voucher_repaid_fen:
        lines.append(ReceiptLine(_("Voucher value returned"), format_fen(voucher_repaid_fen)))
    if points_reversed:
        lines.append(ReceiptLine(_("Points taken back"), points_text(-abs(points_reversed), signed=True)))
    if points_returned:
        lines.append(ReceiptLine(_("Points returned"), points_text(points_returned, signed=True)))
    if voucher_returned:
        lines.append(ReceiptLine(_("Voucher returned"), _("usable again")))
    title = _("Void receipt") if void else _("Refund receipt")
    return _receipt(
        shop, title, lines, at=at, timezone=timezone, member_name=member_name, card_uid=card_uid,
        txn_id=txn_id, balance_after_fen=balance_after_fen, points_after=points_after, order_id=order_id,
        refund_id=refund_id,
    )
