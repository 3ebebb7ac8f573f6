"""Receipts on ESC/POS printers, checked on the bytes python-escpos's own File and Dummy printers
produce: initialise, one raster bitmap (GS v 0) of the receipt drawn with the Chinese font,
feed and cut. A top-up through the real session prints after its journal commit, never when
the commit failed, and a printer that fails or hangs never fails or holds up the top-up."""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import tty
from dataclasses import replace
from pathlib import Path

import pytest
from escpos.printer import Dummy, File
from fontTools.ttLib import TTCollection, TTFont
from PIL import Image

from kiosk.app.config import load_config
from kiosk.app.wiring import shop_from
from kiosk.ledger.txn import Kind
from kiosk.receipt.escpos_printer import EscposPrinter, escpos_job, width_profile
from kiosk.receipt.layout import Style, receipt_rows
from kiosk.receipt.paper import PAPER_STATUS
from kiosk.receipt.printer import NoPrinter
from kiosk.receipt.raster import render_receipt
from kiosk.receipt.receipt import Receipt, Shop, receipt_for_top_up
from kiosk.receipt.settings import parse_printer
from kiosk.receipt.setup import open_printer
from kiosk.store import files
from kiosk.ui.fonts import find_cjk_font
from tests.faulty_disk import FaultyDisk
from tests.session_support import STAFF_UID, make_kiosk, staff_card
from tests.test_receipt import AT

INIT = b"\x1b@"
RASTER = b"\x1dv0"
FEED_AND_CUT = b"\x1bd\x06\x1dV\x00"
FONT = find_cjk_font().path
pytestmark = pytest.mark.skipif(FONT is None, reason="no Chinese font (fonts-wqy-microhei)")
FULL_NAME = "张三丰"
QUEUE = 3  # receipts waiting, in the hung-printer test
UID = "04A1B2C3D4"


def receipt(locale: str = "zh_CN", **kw) -> Receipt:
    values = {"amount_fen": 50000, "bonus_fen": 2500, "points_earned": 500, "balance_after_fen": 62500,
              "points_after": 1734, "at": AT, "timezone": "Asia/Shanghai", "member_name": FULL_NAME,
              "card_uid": UID, "txn_id": "kiosk-01:42", **kw}
    return receipt_for_top_up(Shop("静安寺店", "kiosk-01", locale), **values)


def decode(data: bytes) -> tuple[bytes, Image.Image, bytes]:
    """Split a job into what comes before the bitmap, the bitmap (GS v 0 blocks stacked; white =
    ink, as the printer's 1 bits) and what comes after."""
    start = data.index(RASTER)
    at, blocks = start, []
    while data.startswith(RASTER, at):
        width_bytes = int.from_bytes(data[at + 4:at + 6], "little")
        height = int.from_bytes(data[at + 6:at + 8], "little")
        body = data[at + 8:at + 8 + width_bytes * height]
        assert len(body) == width_bytes * height, "a raster block cut short"
        blocks.append(Image.frombytes("1", (width_bytes * 8, height), body))
        at += 8 + width_bytes * height
    image = Image.new("1", (blocks[0].width, sum(b.height for b in blocks)))
    y = 0
    for block in blocks:
        image.paste(block, (0, y))
        y += block.height
    return data[:start], image, data[at:]


def ink(image: Image.Image) -> Image.Image:
    """Our bitmap (0 = ink) as the printer's bits (1 = ink)."""
    return Image.eval(image.convert("L"), lambda v: 255 - v).convert("1")


def file_printer(path: Path, width: int = 576) -> EscposPrinter:
    printer = open_printer(parse_printer({"kind": "file", "device": str(path), "width_dots": width}))
    assert isinstance(printer, EscposPrinter)
    return printer


# -- the bytes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [384, 576])
def test_file_printer_gets_init_one_bitmap_of_the_receipt_and_a_cut(tmp_path, width):
    printer = file_printer(tmp_path / "lp0", width)
    slip = receipt()
    printer.print_receipt(slip)
    assert printer.wait_idle()
    printer.close()
    assert (printer.printed, printer.failed) == (1, 0)
    head, bitmap, tail = decode((tmp_path / "lp0").read_bytes())
    assert head == INIT and tail == FEED_AND_CUT
    expected = render_receipt(slip, width, FONT)
    assert bitmap.size == expected.size and bitmap.width == width
    assert bitmap.tobytes() == ink(expected).tobytes()
    assert bitmap.getbbox() is not None  # something is printed


def test_dummy_printer_gets_the_same_job():
    slip = receipt()
    image = render_receipt(slip, 576, FONT)
    dummy = Dummy()
    dummy.profile = width_profile(576)
    escpos_job(dummy, image)
    head, bitmap, tail = decode(dummy.output)
    assert (head, tail) == (INIT, FEED_AND_CUT)
    assert bitmap.tobytes() == ink(image).tobytes()


def test_a_receipt_wider_than_the_paper_is_refused_by_the_library():
    dummy = Dummy()
    dummy.profile = width_profile(384)
    with pytest.raises(Exception, match="576 > 384"):
        escpos_job(dummy, render_receipt(receipt(), 576, FONT))


def font_characters() -> set[int]:
    font = TTCollection(FONT).fonts[0] if FONT.endswith(".ttc") else TTFont(FONT)
    return set(font.getBestCmap())


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_character_printed_has_a_glyph_in_the_font(locale):
    have = font_characters()
    text = "".join(row.label + row.value for row in receipt_rows(receipt(locale)))
    assert "储值单" in text if locale == "zh_CN" else "Top-up receipt" in text
    missing = sorted({ch for ch in text if ord(ch) not in have and not ch.isspace()})
    assert missing == []


def test_the_chinese_title_is_drawn_not_boxes():
    """The title's strip of the bitmap differs between 储值单 and 退款单 of the same size: the
    glyphs themselves reach the paper (a font without them would draw the same empty boxes)."""
    top_up = render_receipt(receipt(), 576, FONT)
    refund = render_receipt(replace(receipt(), title="退款单"), 576, FONT)
    assert top_up.size == refund.size
    assert top_up.tobytes() != refund.tobytes()
    boxes = render_receipt(replace(receipt(), title="\U000f0001\U000f0002\U000f0003"), 576, FONT)
    assert top_up.tobytes() != boxes.tobytes()


def test_the_full_name_and_uid_never_reach_the_printer(tmp_path):
    slip = receipt()
    rows = "".join(row.label + row.value for row in receipt_rows(slip))
    assert FULL_NAME not in rows and UID not in rows and "张**" in rows and "****C3D4" in rows
    printer = file_printer(tmp_path / "lp0")
    printer.print_receipt(slip)
    assert printer.wait_idle()
    data = (tmp_path / "lp0").read_bytes()
    for encoding in ("utf-8", "gb18030", "utf-16-le", "utf-16-be"):
        assert FULL_NAME.encode(encoding) not in data and UID.encode(encoding) not in data
    # and the bitmap is the masked receipt's: the full name's would differ
    _, bitmap, _ = decode(data)
    unmasked = render_receipt(replace(slip, member=FULL_NAME), 576, FONT)
    assert bitmap.tobytes() == ink(render_receipt(slip, 576, FONT)).tobytes() != ink(unmasked).tobytes()


def test_a_long_receipt_is_sent_in_several_raster_blocks():
    rows = receipt_rows(receipt())
    assert any(r.style is Style.TITLE for r in rows)
    image = Image.new("1", (384, 2000), 1)
    image.paste(0, (10, 10, 30, 1990))
    dummy = Dummy()
    dummy.profile = width_profile(384)
    escpos_job(dummy, image)
    assert dummy.output.count(RASTER) == 3  # python-escpos splits at 960 dots
    _, bitmap, _ = decode(dummy.output)
    assert bitmap.tobytes() == ink(image).tobytes()


# -- printers that fail ---------------------------------------------------------------------------

def test_a_printer_that_cannot_be_opened_is_counted_and_logged_without_member_data(tmp_path, caplog):
    printer = file_printer(tmp_path / "unplugged" / "lp0")
    with caplog.at_level(logging.WARNING):
        printer.print_receipt(receipt())
        assert printer.wait_idle()
    assert (printer.printed, printer.failed) == (0, 1)
    assert "DeviceNotFoundError" in printer.last_problem and "1 failed" in printer.describe()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "kiosk-01:42" in logged and "not printed" in logged
    assert FULL_NAME not in logged and "张**" not in logged and UID not in logged and UID[-4:] not in logged
    # plugged back in: the next receipt prints
    (tmp_path / "unplugged").mkdir()
    printer.print_receipt(receipt())
    assert printer.wait_idle()
    assert (printer.printed, printer.failed) == (1, 1) and printer.last_problem == ""
    printer.close()


def test_a_hung_printer_never_holds_up_the_caller(tmp_path):
    """A FIFO nobody reads: opening it blocks, like a printer that does not answer. Receipts
    queue up to a limit, then are dropped and counted; the caller returns every time."""
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    printer = EscposPrinter(file_printer(fifo).connect, 576, FONT, "file printer", queue_size=QUEUE)
    for n in range(QUEUE + 3):
        printer.print_receipt(receipt(txn_id=f"kiosk-01:{n}"))
    assert printer.dropped >= 2 and printer.printed == 0
    assert not printer.wait_idle(0.2)
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(fifo.read_bytes()))
    reader.start()  # the printer answers again
    while not printer.wait_idle(0.5):
        reader.join(0.1)
        if not reader.is_alive():  # one job per open: read the next one
            reader = threading.Thread(target=lambda: received.extend(fifo.read_bytes()))
            reader.start()
    printer.close()
    reader.join(5)
    assert printer.printed + printer.dropped == QUEUE + 3 and printer.failed == 0
    assert received.startswith(INIT)


def test_no_printer_prints_nothing_and_fails_nothing():
    printer = NoPrinter()
    printer.print_receipt(receipt())
    printer.close()
    assert printer.describe() == "no printer configured"
    assert isinstance(open_printer(parse_printer({})), NoPrinter)


# -- through the session --------------------------------------------------------------------------

def top_up_with_staff_cash(kiosk, balance=10_000, amount=50_000):
    chip = kiosk.member(balance_fen=balance)
    kiosk.tap(chip)
    assert kiosk.session.start_topup() and kiosk.session.choose_amount(amount)
    assert kiosk.session.pay("staff_cash")
    kiosk.lift()
    kiosk.tap(staff_card())
    return chip


SHOP = Shop("静安寺店", "kiosk-01", "zh_CN")


def test_a_top_up_prints_its_receipt_after_the_commit(tmp_path):
    journal_at_print: list[set[str]] = []
    holder = []

    def connect():
        journal_at_print.append({t.txn_id for t in holder[0].store.outbox()})
        made = File(str(tmp_path / "lp0"))
        made.profile = width_profile(576)
        return made

    printer = EscposPrinter(connect, 576, FONT, "file printer")
    kiosk = make_kiosk(tmp_path / "k", printer=printer, shop=SHOP)
    holder.append(kiosk)
    chip = top_up_with_staff_cash(kiosk)
    assert kiosk.state == "done" and kiosk.session.view.message.code == "topup_done"
    assert printer.wait_idle()
    txn = [t for t in kiosk.store.outbox() if t.kind is Kind.TOP_UP][-1]
    assert txn.payment_ref.startswith(f"cash:{STAFF_UID}:")
    assert len(journal_at_print) == 1 and txn.txn_id in journal_at_print[0]  # committed before printing
    member = kiosk.ledger.state.card_account(chip.uid.hex().upper())[1]
    expected = receipt_for_top_up(
        SHOP, amount_fen=50_000, bonus_fen=2500, points_earned=500, balance_after_fen=62_500,
        points_after=txn.points_after, at=txn.at, timezone="Asia/Shanghai", member_name=member.name,
        card_uid=txn.card_uid, txn_id=txn.txn_id,
    )
    _, bitmap, _ = decode((tmp_path / "lp0").read_bytes())
    assert bitmap.tobytes() == ink(render_receipt(expected, 576, FONT)).tobytes()
    assert kiosk.session.internal_errors == 0
    printer.close()


def test_a_failing_printer_does_not_fail_the_top_up(tmp_path):
    printer = file_printer(tmp_path / "no-such-dir" / "lp0")
    kiosk = make_kiosk(tmp_path / "k", printer=printer, shop=SHOP)
    chip = top_up_with_staff_cash(kiosk)
    assert kiosk.state == "done" and kiosk.session.view.message.code == "topup_done"
    assert kiosk.account(chip).balance_fen == 62_500
    assert printer.wait_idle() and printer.failed == 1
    assert kiosk.session.internal_errors == 0
    printer.close()


def test_nothing_is_printed_when_the_commit_failed(tmp_path):
    printer = file_printer(tmp_path / "lp0")
    kiosk = make_kiosk(tmp_path / "k", printer=printer, shop=SHOP)
    chip = kiosk.member(balance_fen=10_000)
    kiosk.tap(chip)
    assert kiosk.session.start_topup() and kiosk.session.choose_amount(50_000)
    assert kiosk.session.pay("staff_cash")
    kiosk.lift()
    with files.use(FaultyDisk(errno.ENOSPC)):  # the SD card is full at the commit
        kiosk.tap(staff_card())
    assert kiosk.session.view.message.code == "paid_not_credited"
    assert printer.wait_idle()
    assert (printer.printed, printer.failed) == (0, 0) and not (tmp_path / "lp0").exists()
    printer.close()


def test_the_configured_printer_and_shop_reach_the_session(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'[device]\nid = "k1"\nstore = "S01"\ndata_dir = "{tmp_path}"\nlocale = "en"\n'
        f'[printer]\nkind = "file"\ndevice = "{tmp_path / "lp0"}"\nwidth_dots = 384\nstore_name = "静安寺店"\n'
    )
    config = load_config(path)
    assert shop_from(config) == Shop("静安寺店", "k1", "en")
    printer = open_printer(config.printer)
    assert isinstance(printer, EscposPrinter) and printer.width_dots == 384
    assert printer.describe() == f"file printer {tmp_path / 'lp0'}: 0 printed, 0 failed"


def test_a_serial_printer_gets_the_job_over_the_line():
    """kind = "serial" through python-escpos's Serial (pyserial) on a pseudo-terminal: the
    printer's end of the line receives init, the bitmap and the cut."""
    controller, line = os.openpty()
    try:
        tty.setraw(controller)
        printer = open_printer(parse_printer({"kind": "serial", "device": os.ttyname(line), "baudrate": 115200,
                                              "width_dots": 384}))
        assert isinstance(printer, EscposPrinter)
        slip = receipt()
        printer.print_receipt(slip)
        received = bytearray()
        while not received.endswith(FEED_AND_CUT):
            ready, _, _ = select.select([controller], [], [], 10)
            assert ready, f"the line went quiet after {len(received)} bytes"
            received += os.read(controller, 65536)
        assert printer.wait_idle() and printer.printed == 1
        head, bitmap, tail = decode(bytes(received))
        # the paper question first; this line never answers it (a printer without the sensor)
        assert (head, tail) == (PAPER_STATUS + INIT, FEED_AND_CUT)
        assert bitmap.tobytes() == ink(render_receipt(slip, 384, FONT)).tobytes()
        printer.close()
    finally:
        os.close(controller)
        os.close(line)


def test_a_serial_printer_that_holds_the_line_fails_after_the_write_timeout(monkeypatch):
    """Nobody reads the line (a printer switched off, flow control held): the job fills the
    pseudo-terminal's buffer and the write times out, counted; without a write timeout the
    printing thread would wait for ever. The bitmap's own allowance is set to 0 to keep it short."""
    from kiosk.receipt import setup

    monkeypatch.setattr(setup, "MAX_JOB_BYTES", 0)
    controller, line = os.openpty()
    try:
        tty.setraw(controller)
        printer = open_printer(parse_printer({"kind": "serial", "device": os.ttyname(line), "baudrate": 115200,
                                              "timeout_s": 1}))
        printer.print_receipt(receipt())
        assert printer.wait_idle(20)
        assert (printer.printed, printer.failed) == (0, 1)
        assert "SerialTimeoutException" in printer.last_problem
        printer.close()
    finally:
        os.close(controller)
        os.close(line)
