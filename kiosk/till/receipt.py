"""The lines a till prints for a charge, refund or void paid with the member card. One function,
`receipt_lines`, so the printable receipts (kiosk/receipt/) can take the same facts later.
Translated with the kiosk's gettext catalogues (a catalogue object per call: the till's
threads never touch the screen's language)."""

from __future__ import annotations

import gettext
from datetime import datetime
from zoneinfo import ZoneInfo

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import DOMAIN, LOCALE_DIR, LOCALES, N_

LINES = {
    "charge": N_("Paid with member card"),
    "refund": N_("Refund to member card"),
    "void": N_("Payment voided"),
}
ORDER = N_("Order: {order_id}")
TIME = N_("Time: {time}")
TOTAL = N_("Order total: {total}")
DISCOUNT = N_("Member discount: -{discount}")
PAID = N_("Paid from card: {amount}")
RETURNED = N_("Returned to card: {amount}")
BALANCE = N_("Card balance: {balance}")
POINTS_EARNED = N_("Points earned: {points}")
POINTS_BACK = N_("Points taken back: {points}")
POINTS = N_("Points: {points}")
REFERENCE = N_("Reference: {txn_id}")


def receipt_lines(
    kind: str,
    *,
    order_id: str,
    at: datetime,
    timezone: str,
    amount_fen: int,
    balance_fen: int,
    points: int,
    points_moved: int = 0,
    total_fen: int | None = None,
    discount_fen: int = 0,
    txn_id: str = "",
    locale: str = "zh_CN",
) -> list[str]:
    """The receipt's lines for an approved charge / refund / void, in `locale` (zh_CN or en).
    No member name or card number: the till prints its own header and items."""
    t = gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[locale if locale in LOCALES else "zh_CN"])
    _ = t.gettext
    local = at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    lines = [_(LINES[kind]), _(ORDER).format(order_id=order_id), _(TIME).format(time=local)]
    if kind == "charge":
        if total_fen is not None and discount_fen:
            lines.append(_(TOTAL).format(total=format_fen(total_fen)))
            lines.append(_(DISCOUNT).format(discount=format_fen(discount_fen)))
        lines.append(_(PAID).format(amount=format_fen(amount_fen)))
        lines.append(_(POINTS_EARNED).format(points=points_moved))
    else:
        lines.append(_(RETURNED).format(amount=format_fen(amount_fen)))
        lines.append(_(POINTS_BACK).format(points=points_moved))
    lines.append(_(BALANCE).format(balance=format_fen(balance_fen)))
    lines.append(_(POINTS).format(points=points))
    if txn_id:
        lines.append(_(REFERENCE).format(txn_id=txn_id))
    return lines
