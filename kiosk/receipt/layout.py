"""A receipt laid out as rows (the store, the title, label/value lines, rules between blocks),
and those rows as plain text lines of a fixed width: the till API returns these, and the
printer's bitmap (raster.py) draws the same rows, so the two never say different things.

Widths are display columns: a Chinese character takes two, as on a printer's or a terminal's
fixed grid."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kiosk.ledger.money import format_fen
from kiosk.receipt.receipt import Receipt, points_text, translator_for

DEFAULT_WIDTH = 32  # columns of a 58 mm printer's font A; 80 mm paper has 48
MIN_WIDTH = 16


class Style(StrEnum):
    STORE = "store"  # the store's name, centred, large
    TITLE = "title"  # 储值单 / 消费单 / 退款单, centred, large
    LINE = "line"  # label on the left, value on the right
    RULE = "rule"  # a dashed line between blocks
    FOOTER = "footer"  # centred, small


@dataclass(frozen=True)
class Row:
    style: Style
    label: str = ""
    value: str = ""


def receipt_rows(receipt: Receipt) -> tuple[Row, ...]:
    """The receipt, top to bottom."""
    _ = translator_for(receipt.locale)
    rule = Row(Style.RULE)
    rows = [Row(Style.STORE, receipt.store_name), Row(Style.TITLE, receipt.title), rule]
    rows.append(Row(Style.LINE, _("Time"), receipt.local_time.strftime("%Y-%m-%d %H:%M:%S")))
    rows.append(Row(Style.LINE, _("Device"), receipt.device_id))
    rows.append(Row(Style.LINE, _("Transaction no."), receipt.txn_id))
    if receipt.order_id:
        rows.append(Row(Style.LINE, _("Order no."), receipt.order_id))
    if receipt.refund_id:
        rows.append(Row(Style.LINE, _("Refund no."), receipt.refund_id))
    rows.append(rule)
    if receipt.member:
        rows.append(Row(Style.LINE, _("Member"), receipt.member))
    rows.append(Row(Style.LINE, _("Card"), receipt.card))
    rows.append(rule)
    rows.extend(Row(Style.LINE, line.label, line.value) for line in receipt.lines)
    rows.append(rule)
    rows.append(Row(Style.LINE, _("Balance"), format_fen(receipt.balance_after_fen)))
    rows.append(Row(Style.LINE, _("Points balance"), points_text(receipt.points_after)))
    rows.append(rule)
    rows.append(Row(Style.FOOTER, _("Thank you. Please keep this receipt.")))
    return tuple(rows)


def text_width(text: str) -> int:
    """Display columns: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def wrap(text: str, width: float, measure: Callable[[str], float] = text_width) -> list[str]:
    """Cut `text` into pieces no wider than `width` (as `measure` counts), at a space when the
    piece has one (English), else between any two characters (Chinese has no spaces)."""
    pieces, current = [], ""
    for ch in text:
        if current and measure(current + ch) > width:
            cut = current.rfind(" ")
            if cut > 0 and ch != " ":
                pieces.append(current[:cut])
                current = current[cut + 1 :]
            else:
                pieces.append(current.rstrip(" "))
                current = ""
            if ch == " " and not current:
                continue
        current += ch
    return [*pieces, current] if current or not pieces else pieces


def _centred(text: str, width: int) -> list[str]:
    return [" " * ((width - text_width(piece)) // 2) + piece for piece in wrap(text, width)]


def _right(text: str, width: int) -> list[str]:
    return [" " * (width - text_width(piece)) + piece for piece in wrap(text, width)]


def receipt_lines(receipt: Receipt, width: int = DEFAULT_WIDTH) -> list[str]:
    """The receipt as plain text lines, none wider than `width` columns (trailing spaces cut)."""
    if width < MIN_WIDTH:
        raise ValueError(f"receipt width: at least {MIN_WIDTH} columns, got {width}")
    out: list[str] = []
    for row in receipt_rows(receipt):
        if row.style is Style.RULE:
            out.append("-" * width)
        elif row.style is Style.LINE:
            gap = width - text_width(row.label) - text_width(row.value)
            if gap >= 1:
                out.append(row.label + " " * gap + row.value)
            else:  # too long for one line: the label, then the value on the right below it
                out.extend(wrap(row.label, width))
                out.extend(_right(row.value, width))
        else:
            out.extend(_centred(row.label, width))
    return [line.rstrip(" ") for line in out]
