"""The paper sensor of an ESC/POS printer (DLE EOT 4, "transmit paper sensor status"). A thermal
printer without paper takes a job and prints nothing, so a kiosk that only counted failed writes
would report a healthy printer while members leave without receipts: the adapter asks before
each job, staff and HQ's fleet page see the roll running low before it runs out."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

PAPER_STATUS = b"\x10\x04\x04"  # DLE EOT 4
_FIXED_MASK, _FIXED = 0x93, 0x12  # bits 1 and 4 always set, 0 and 7 always clear
_NEAR_END = 0x0C  # bits 2 and 3
_END = 0x60  # bits 5 and 6


class Paper(StrEnum):
    OK = "ok"
    LOW = "low"
    OUT = "out"
    UNKNOWN = "unknown"  # no answer: a file or a printer that does not report (or is off)


def paper_from_answer(answer: bytes) -> Paper:
    """The paper state in a printer's one-byte answer; anything else is not an answer."""
    if len(answer) != 1 or answer[0] & _FIXED_MASK != _FIXED:
        return Paper.UNKNOWN
    if answer[0] & _END:
        return Paper.OUT
    if answer[0] & _NEAR_END:
        return Paper.LOW
    return Paper.OK


def ask_paper(printer: Any) -> Paper | None:
    """Ask an opened python-escpos printer for its paper; None when its connection cannot read
    at all (a device file, a dummy), so the caller stops asking. Such a connection is not even
    sent the question: its bytes would land in the file ahead of the receipt."""
    from escpos.escpos import Escpos

    if type(printer)._read is Escpos._read:
        return None
    return paper_from_answer(bytes(printer.query_status(PAPER_STATUS) or b""))
