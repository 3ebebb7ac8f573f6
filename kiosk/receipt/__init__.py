"""Receipts: what a member takes home after a top-up, a charge or a refund (储值单, 消费单, 退款单).

receipt.py builds the Receipt value (translated text, masked name and card), layout.py lays it out
as rows and plain text lines (the till API's answer), raster.py draws the rows as a bitmap with a
Chinese font, printer.py is the port the session prints through (NoPrinter when none is set up),
escpos_printer.py the adapter for ESC/POS thermal printers, settings.py the [printer] table of
kiosk.toml and setup.py the printer a configuration asks for."""

from kiosk.receipt.layout import receipt_lines
from kiosk.receipt.printer import NoPrinter, ReceiptPrinter, print_safely
from kiosk.receipt.receipt import (
    Receipt,
    ReceiptLine,
    Shop,
    receipt_for_charge,
    receipt_for_refund,
    receipt_for_top_up,
)

__all__ = [
    "NoPrinter",
    "Receipt",
    "ReceiptLine",
    "ReceiptPrinter",
    "Shop",
    "print_safely",
    "receipt_for_charge",
    "receipt_for_refund",
    "receipt_for_top_up",
    "receipt_lines",
]
