"""Receipts for charges, refunds and voids, printed on python-escpos's own File printer through
the real session and the real till API over HTTP: each after its journal commit, none for a
charge that was declined or cancelled or for a retried refund, and a printer that fails never
fails the charge. The till's `receipt_lines` are the same receipt as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from escpos.printer import File

from kiosk.ledger.txn import Kind
from kiosk.receipt.escpos_printer import EscposPrinter, width_profile
from kiosk.receipt.layout import receipt_lines
from kiosk.receipt.raster import render_receipt
from kiosk.receipt.receipt import Receipt, Shop, receipt_for_charge, receipt_for_refund
from kiosk.session.states import S
from tests.session_support import PIN, STAFF_UID, make_kiosk, staff_card
from tests.test_receipt_printing import FONT, decode, file_printer, ink
from tests.till.test_till_api import pay as till_pay
from tests.till.till_support import Till

pytestmark = pytest.mark.skipif(FONT is None, reason="no Chinese font (fonts-wqy-microhei)")
SHOP = Shop("静安寺店", "kiosk-01", "zh_CN")
FULL_NAME = "张三丰"


class Jobs:
    """A File printer that opens a new file per receipt (python-escpos's File truncates on open);
    `journal_at_print` notes which transactions the journal held when each receipt was handed
    to the printer (on the session's thread: the printing thread runs later)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.kiosk = None
        self.paths: list[Path] = []
        self.journal_at_print: list[set[str]] = []

    def connect(self) -> File:
        path = self.folder / f"lp{len(self.paths)}"
        self.paths.append(path)
        made = File(str(path))
        made.profile = width_profile(576)
        return made

    def bitmap(self, n: int) -> bytes:
        return decode(self.paths[n].read_bytes())[1].tobytes()

    def printer(self) -> EscposPrinter:
        jobs = self

        class Noting(EscposPrinter):
            def print_receipt(self, receipt: Receipt) -> None:
                jobs.journal_at_print.append({t.txn_id for t in jobs.kiosk.store.outbox()})
                super().print_receipt(receipt)

        return Noting(self.connect, 576, FONT, "file printer")


@pytest.fixture
def printed(tmp_path):
    """A till whose kiosk prints through `Jobs`; yields (till, printer, jobs)."""
    jobs = Jobs(tmp_path)
    printer = jobs.printer()
    kiosk = make_kiosk(tmp_path / "k", printer=printer, shop=SHOP)
    jobs.kiosk = kiosk
    t = Till(tmp_path / "k", kiosk)
    yield t, printer, jobs
    t.close()
    printer.close()


def drawn(receipt: Receipt) -> bytes:
    return ink(render_receipt(receipt, 576, FONT)).tobytes()


def txn_of(t: Till, kind: Kind):
    return [x for x in t.kiosk.store.outbox() if x.kind is kind][-1]


def pay(t: Till, chip, order: str, amount: int, discount: bool = False) -> dict:
    """The till asks, the member taps, confirms and enters the PIN; the till's final answer."""
    return till_pay(t, chip, order, amount, discount=discount, pin=True)


def test_a_till_charge_prints_one_receipt_after_its_commit(printed):
    t, printer, jobs = printed
    chip = t.kiosk.member(500_000, name=FULL_NAME)  # gold: 5% off
    body = pay(t, chip, "A1", 12_800, discount=True)
    assert body["status"] == "approved", body
    assert printer.wait_idle()
    spend = txn_of(t, Kind.SPEND)
    assert len(jobs.paths) == 1 and spend.txn_id in jobs.journal_at_print[0]  # committed before printing
    expected = receipt_for_charge(
        SHOP, amount_fen=12_160, discount_fen=640, points_earned=body["points_earned"],
        balance_after_fen=body["balance_fen"], points_after=body["points"], at=spend.at,
        timezone=t.kiosk.ledger.rules.timezone, member_name=FULL_NAME, card_uid=spend.card_uid,
        txn_id=spend.txn_id, order_id="A1",
    )
    lines = receipt_lines(expected)
    text = "\n".join(lines)
    assert "消费单" in text and "¥121.60" in text and "-¥6.40" in text and "¥128.00" in text
    assert "张**" in text and FULL_NAME not in text and spend.card_uid not in text
    assert f"****{spend.card_uid[-4:]}" in text and "A1" in text
    assert jobs.bitmap(0) == drawn(expected)
    assert body["receipt_lines"] == lines  # the till gets the same receipt as text
    assert (printer.printed, printer.failed) == (1, 0) and t.kiosk.session.internal_errors == 0


def test_declined_and_cancelled_charges_print_nothing(printed):
    t, printer, jobs = printed
    chip = t.kiosk.member(10_000)
    declined = pay(t, chip, "A1", t.kiosk.account(chip).balance_fen + 1)
    assert (declined["status"], declined["reason"]) == ("declined", "insufficient_balance")
    t.post("/v1/charges", {"order_id": "A2", "amount_fen": 100, "apply_discount": False})
    t.driver.tap(chip)
    t.driver.wait_for(lambda: t.kiosk.state == S.charge_confirm)
    cancelled = t.post("/v1/charges/A2/cancel").json()
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "till_cancelled")
    assert printer.wait_idle()
    assert jobs.paths == [] and (printer.printed, printer.failed) == (0, 0)
    assert [x for x in t.kiosk.store.outbox() if x.kind is Kind.SPEND] == []


def test_a_refund_prints_a_refund_receipt_and_a_void_a_void_receipt(printed):
    t, printer, jobs = printed
    chip = t.kiosk.member(500_000, name=FULL_NAME)
    pay(t, chip, "A1", 20_000)
    refund = t.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 5_000}).json()
    assert refund["status"] == "approved", refund
    again = t.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 5_000}).json()
    too_much = t.post("/v1/refunds", {"order_id": "A1", "refund_id": "R2", "amount_fen": 15_001}).json()
    assert again == refund and too_much["status"] == "declined"
    assert printer.wait_idle()
    assert len(jobs.paths) == 2  # the charge, the refund; not the retry nor the declined one
    txn = txn_of(t, Kind.REFUND)
    assert txn.txn_id in jobs.journal_at_print[1] and txn.txn_id == refund["txn_id"]
    expected = receipt_for_refund(
        SHOP, refund_fen=5_000, points_reversed=refund["points_back"], balance_after_fen=refund["balance_fen"],
        points_after=refund["points"], at=txn.at, timezone=t.kiosk.ledger.rules.timezone, member_name=FULL_NAME,
        card_uid=txn.card_uid, txn_id=txn.txn_id, order_id="A1", refund_id="R1", voucher_withdrawn=True,
    )
    text = "\n".join(receipt_lines(expected))
    assert refund["voucher_withdrawn"] == txn.voucher_withdrawn != ""  # ¥150 left of ¥200: below the spend gift
    assert "本单所赠代金券" in text and "退款单" in text and "¥50.00" in text and "R1" in text and "张**" in text and FULL_NAME not in text
    assert jobs.bitmap(1) == drawn(expected)
    assert refund["receipt_lines"] == receipt_lines(expected)

    pay(t, chip, "A2", 3_000)
    void = t.post("/v1/voids", {"order_id": "A2"}).json()
    assert void["status"] == "approved"
    assert printer.wait_idle() and len(jobs.paths) == 4
    txn = txn_of(t, Kind.VOID)
    assert txn.txn_id in jobs.journal_at_print[3]
    expected = receipt_for_refund(
        SHOP, refund_fen=3_000, points_reversed=void["points_back"], balance_after_fen=void["balance_fen"],
        points_after=void["points"], at=txn.at, timezone=t.kiosk.ledger.rules.timezone, member_name=FULL_NAME,
        card_uid=txn.card_uid, txn_id=txn.txn_id, order_id="A2", void=True,
    )
    assert "撤销单" in "\n".join(receipt_lines(expected)) and jobs.bitmap(3) == drawn(expected)
    assert void["receipt_lines"] == receipt_lines(expected)


def test_the_till_reads_its_receipt_in_its_own_language(printed):
    """The till asked for English; the kiosk's own slip stays in the store's language."""
    t, printer, jobs = printed
    chip = t.kiosk.member(50_000, name="John Williams")
    r = t.post("/v1/charges", {"order_id": "A1", "amount_fen": 3_000, "apply_discount": False, "locale": "en"})
    assert r.status_code == 202
    t.driver.tap(chip)
    t.driver.wait_for(lambda: t.kiosk.state == S.charge_confirm)
    t.driver.do(t.kiosk.session.confirm_charge)
    if t.kiosk.state == S.charge_pin:
        t.driver.do(lambda: t.kiosk.enter_pin(PIN))
    t.driver.wait_for(lambda: t.get("/v1/charges/A1").json()["status"] != "pending")
    body = t.get("/v1/charges/A1").json()
    text = "\n".join(body["receipt_lines"])
    assert "Purchase receipt" in text and "¥30.00" in text and "J*** W." in text and "John" not in text
    assert printer.wait_idle() and len(jobs.paths) == 1
    spend = txn_of(t, Kind.SPEND)
    zh = receipt_for_charge(
        SHOP, amount_fen=3_000, points_earned=body["points_earned"], balance_after_fen=body["balance_fen"],
        points_after=body["points"], at=spend.at, timezone=t.kiosk.ledger.rules.timezone,
        member_name="John Williams", card_uid=spend.card_uid, txn_id=spend.txn_id, order_id="A1",
    )
    assert jobs.bitmap(0) == drawn(zh)


def test_a_failing_printer_leaves_the_charge_approved(tmp_path):
    printer = file_printer(tmp_path / "unplugged" / "lp0")
    t = Till(tmp_path / "k", make_kiosk(tmp_path / "k", printer=printer, shop=SHOP))
    try:
        chip = t.kiosk.member(50_000)
        before = t.kiosk.account(chip).balance_fen
        body = pay(t, chip, "A1", 3_000)
        assert body["status"] == "approved" and t.kiosk.account(chip).balance_fen == before - 3_000
        assert t.get("/v1/charges/A1").json()["status"] == "approved"
        assert printer.wait_idle() and (printer.printed, printer.failed) == (0, 1)
        assert t.kiosk.session.internal_errors == 0
    finally:
        t.close()
        printer.close()


def test_a_staff_menu_charge_prints_without_the_staff_card(tmp_path):
    jobs = Jobs(tmp_path)
    printer = jobs.printer()
    kiosk = make_kiosk(tmp_path / "k", printer=printer, shop=SHOP)
    jobs.kiosk = kiosk
    chip = kiosk.member(500_000, name=FULL_NAME)
    kiosk.tap(staff_card())
    assert kiosk.session.start_staff_charge()
    kiosk.lift()
    assert kiosk.session.charge_amount(25_000)
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    kiosk.enter_pin(PIN)
    assert kiosk.state == S.done
    assert printer.wait_idle() and len(jobs.paths) == 1
    spend = [x for x in kiosk.store.outbox() if x.kind is Kind.SPEND][-1]
    assert spend.txn_id in jobs.journal_at_print[0]
    expected = receipt_for_charge(
        SHOP, amount_fen=25_000, points_earned=spend.points_delta, balance_after_fen=spend.balance_after_fen,
        points_after=spend.points_after, at=spend.at, timezone=kiosk.ledger.rules.timezone,
        member_name=FULL_NAME, card_uid=spend.card_uid, txn_id=spend.txn_id, order_id="",
    )
    text = "\n".join(receipt_lines(expected))
    assert "¥250.00" in text and STAFF_UID not in text and "张**" in text
    assert jobs.bitmap(0) == drawn(expected)
    printer.close()
    kiosk.store.close()


def test_no_printer_configured_a_charge_and_a_refund_still_go_through(tmp_path):
    t = Till(tmp_path)  # make_kiosk's default: NoPrinter
    try:
        chip = t.kiosk.member(50_000)
        assert pay(t, chip, "A1", 3_000)["status"] == "approved"
        refund = t.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 1_000}).json()
        assert refund["status"] == "approved" and t.kiosk.session.internal_errors == 0
        assert t.kiosk.session.printer.describe() == "no printer configured"
    finally:
        t.close()
