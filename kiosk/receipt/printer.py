"""The port the session prints receipts through. A printer must never lose or hold up a
transaction: the receipt is handed over only after the journal commit, `print_receipt` returns
at once and never raises, and a printer that fails (paper out, unplugged) is logged and counted
by the adapter while the member's "done" screen shows as usual."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from kiosk.receipt.receipt import Receipt

log = logging.getLogger(__name__)


class ReceiptPrinter(Protocol):
    def print_receipt(self, receipt: Receipt) -> None:
        """Queue the receipt for printing; returns at once, never raises."""

    def describe(self) -> str:
        """One line for staff and logs: which printer, how many printed and failed."""

    def close(self) -> None:
        """Finish what is queued (briefly) and let go of the printer."""


class NoPrinter:
    """No printer configured ([printer] kind = "off"), or none usable: nothing is printed and
    nothing fails. `note` says why, for `describe`."""

    def __init__(self, note: str = "no printer configured") -> None:
        self.note = note

    def print_receipt(self, receipt: Receipt) -> None:
        return None

    def describe(self) -> str:
        return self.note

    def close(self) -> None:
        return None


def print_safely(printer: ReceiptPrinter, build: Callable[[], Receipt]) -> bool:
    """Build a receipt and hand it to the printer, for a flow whose transaction is already
    committed: whatever goes wrong is logged (without the receipt's contents) and swallowed,
    because the money has moved and the member must still see "done". Without a printer the
    receipt is not even built (it is on the charge's path to the till's answer)."""
    if isinstance(printer, NoPrinter):
        return True
    try:
        printer.print_receipt(build())
    except Exception as exc:
        log.error("receipt not printed: %s", type(exc).__name__)
        return False
    return True
