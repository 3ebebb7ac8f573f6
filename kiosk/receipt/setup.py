"""The printer a configuration asks for. A printer that cannot be used (python-escpos not
installed, no Chinese font to draw with) is said in the log and becomes a NoPrinter saying why:
the kiosk runs on, and `kiosk doctor` names the fix."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.receipt.printer import NoPrinter, ReceiptPrinter
from kiosk.receipt.settings import PrinterSettings
from kiosk.ui.fonts import INSTALL_HINT, find_cjk_font

log = logging.getLogger(__name__)
INSTALL_ESCPOS = "pip install 'membership-kiosk[printer]' (python-escpos)"
MAX_JOB_BYTES = 64 * 1024  # a receipt's bitmap at 576 dots is ~46 KB (bench/receipt.py)


def escpos_connector(settings: PrinterSettings) -> Callable[[], Any]:
    """A function making an unopened python-escpos printer for the configured kind (raises
    ImportError without python-escpos)."""
    from escpos import printer as escpos_printers

    from kiosk.receipt.escpos_printer import width_profile

    profile = width_profile(settings.width_dots)

    def connect() -> Any:
        if settings.kind == "usb":
            made = escpos_printers.Usb(settings.usb_vendor, settings.usb_product, timeout=settings.timeout_s * 1000)
        elif settings.kind == "serial":
            made = escpos_printers.Serial(settings.device, baudrate=settings.baudrate, timeout=settings.timeout_s)
            made.open()
            # python-escpos leaves pyserial's write timeout unset: a printer holding the line
            # (flow control, switched off) would block this thread for ever. The bitmap's own
            # time on the line is allowed for on top of the timeout.
            made.device.write_timeout = settings.timeout_s + MAX_JOB_BYTES * 10 / settings.baudrate
        else:
            made = escpos_printers.File(settings.device)
        made.profile = profile
        return made

    return connect


def open_printer(settings: PrinterSettings) -> ReceiptPrinter:
    if settings.kind == "off":
        return NoPrinter()
    font = find_cjk_font()
    if font.path is None:
        log.error("%s not used: no Chinese font to draw receipts with; %s", settings.describe(), INSTALL_HINT)
        return NoPrinter(f"{settings.describe()} not used: no Chinese font")
    try:
        connect = escpos_connector(settings)
        from kiosk.receipt.escpos_printer import EscposPrinter
    except ImportError:
        log.error("%s not used: python-escpos is not installed; %s", settings.describe(), INSTALL_ESCPOS)
        return NoPrinter(f"{settings.describe()} not used: python-escpos is not installed")
    return EscposPrinter(connect, settings.width_dots, font.path, settings.describe())
