"""The paper sensor: a printer out of paper takes a job and prints nothing, so the adapter asks
(DLE EOT 4) before each job, through the real python-escpos Serial to an emulated printer on a
pseudo-terminal, and staff and HQ see the roll's state."""

from __future__ import annotations

import pytest

from kiosk.receipt.escpos_printer import EscposPrinter
from kiosk.receipt.paper import PAPER_STATUS, Paper, paper_from_answer
from kiosk.receipt.settings import parse_printer
from kiosk.receipt.setup import open_printer
from tests.escpos_line import PAPER_LOW, PAPER_OK, PAPER_OUT, PrinterLine
from tests.test_receipt_printing import FONT, INIT, receipt

pytestmark = pytest.mark.skipif(FONT is None, reason="no Chinese font (fonts-wqy-microhei)")


def expected(byte: int) -> Paper:
    """DLE EOT 4 by the ESC/POS manual: bits 1 and 4 set, 0 and 7 clear; 5-6 paper end; 2-3 near end."""
    if byte & 0b1001_0011 != 0b0001_0010:
        return Paper.UNKNOWN
    return Paper.OUT if byte & 0b0110_0000 else Paper.LOW if byte & 0b0000_1100 else Paper.OK


@pytest.mark.parametrize("byte", range(256))
def test_every_answer_byte_reads_as_the_manual_says(byte):
    assert paper_from_answer(bytes([byte])) is expected(byte)


@pytest.mark.parametrize("answer", [b"", b"\x12\x12", b"\x12\x72"])
def test_no_answer_or_more_than_one_byte_is_unknown(answer):
    assert paper_from_answer(answer) is Paper.UNKNOWN


@pytest.mark.parametrize(("byte", "paper"), [(0x12, Paper.OK), (0x16, Paper.LOW), (0x1A, Paper.LOW),
                                             (0x32, Paper.OUT), (0x52, Paper.OUT), (0x7E, Paper.OUT)])
def test_each_sensor_bit_alone(byte, paper):
    assert paper_from_answer(bytes([byte])) is paper


def serial(line: PrinterLine, timeout_s: int = 1) -> EscposPrinter:
    printer = open_printer(parse_printer({"kind": "serial", "device": line.device, "baudrate": 115200,
                                          "width_dots": 384, "timeout_s": timeout_s}))
    assert isinstance(printer, EscposPrinter)
    return printer


def test_a_printer_with_paper_is_asked_then_gets_the_job():
    with PrinterLine(PAPER_OK) as line:
        printer = serial(line)
        printer.print_receipt(receipt())
        assert printer.wait_idle(20) and (printer.printed, printer.failed) == (1, 0)
        assert bytes(line.received).startswith(PAPER_STATUS + INIT)
        assert printer.paper is Paper.OK and ": paper ok, 1 printed" in printer.describe()
        printer.close()


def test_no_paper_sends_no_job_counts_a_failure_and_prints_again_once_loaded():
    with PrinterLine(PAPER_OUT) as line:
        printer = serial(line)
        printer.print_receipt(receipt())
        assert printer.wait_idle(20) and (printer.printed, printer.failed) == (0, 1)
        assert bytes(line.received) == PAPER_STATUS  # the job would have vanished unprinted
        assert "PaperOut" in printer.last_problem and "paper out" in printer.describe()
        line.paper = PAPER_OK  # staff load a new roll
        printer.print_receipt(receipt())
        assert printer.wait_idle(20) and (printer.printed, printer.failed) == (1, 1)
        assert printer.paper is Paper.OK
        printer.close()


def test_a_roll_near_its_end_still_prints_and_says_so_first_in_the_status_line():
    with PrinterLine(PAPER_LOW) as line:
        printer = serial(line)
        printer.print_receipt(receipt())
        assert printer.wait_idle(20) and printer.printed == 1
        # first after the name: HQ's status keeps only 120 characters of this line
        assert printer.describe().startswith(f"{printer.name}: paper low, ")
        printer.close()


def test_a_printer_that_never_answers_prints_and_is_no_longer_asked_after_three_tries():
    with PrinterLine(paper=None) as line:
        printer = serial(line)
        for _ in range(4):
            printer.print_receipt(receipt())
        assert printer.wait_idle(40) and (printer.printed, printer.failed) == (4, 0)
        assert line.questions == 3 and printer.paper is Paper.UNKNOWN
        assert "paper" not in printer.describe()
        printer.close()
