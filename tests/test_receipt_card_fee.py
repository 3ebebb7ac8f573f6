"""The card fee a top-up's payment settled is on that visit's receipt, in both languages: paid
beside the top-up, waived by it, or paid alone (a 卡费单). Printed for real through the file
printer and compared with the receipt drawn from the ledger's own txns."""

from __future__ import annotations

import pytest

from kiosk.ledger.txn import Kind
from kiosk.receipt.layout import receipt_lines, text_width
from kiosk.receipt.raster import render_receipt
from kiosk.receipt.receipt import Shop, receipt_for_top_up
from tests.test_receipt import EN, WHO, ZH, value_of
from tests.test_receipt_printing import FONT, decode, file_printer, ink
from tests.test_session_fees import pay_staff_cash, signed_up

SHOP = Shop("静安寺店", "kiosk-01", "zh_CN")


def _visit(tmp_path, amount_fen: int):
    """Sign up (the fee rules: ¥38, waived from ¥500), pay `amount_fen` plus what is due in cash;
    the printed bitmap, the fee and top-up txns, the kiosk."""
    printer = file_printer(tmp_path / "lp0")
    kiosk, chip = signed_up(tmp_path / "k", staff_tap=False, printer=printer, shop=SHOP)
    assert kiosk.session.choose_amount(amount_fen)
    pay_staff_cash(kiosk)
    assert printer.wait_idle() and printer.printed == 1
    txns = kiosk.store.outbox()
    fee = next(t for t in txns if t.kind is Kind.CARD_FEE)
    topup = next((t for t in txns if t.kind is Kind.TOP_UP), None)
    _, bitmap, _ = decode((tmp_path / "lp0").read_bytes())
    printer.close()
    return bitmap, fee, topup, kiosk


def _expected(kiosk, fee, topup):
    last = topup or fee
    member = kiosk.ledger.state.card_account(last.card_uid)[1]
    return receipt_for_top_up(
        SHOP, amount_fen=topup.amount_fen if topup else 0, bonus_fen=topup.bonus_fen if topup else 0,
        points_earned=topup.points_delta if topup else 0, balance_after_fen=last.balance_after_fen,
        points_after=last.points_after, at=last.at, timezone="Asia/Shanghai", member_name=member.name,
        card_uid=last.card_uid, txn_id=last.txn_id, card_fee_fen=fee.amount_fen, card_fee_waived=bool(fee.waiver),
    )


@pytest.mark.parametrize(
    ("amount_fen", "fee_says", "topped_up"),
    [(10_000, "¥38.00", "¥100.00"), (50_000, "免收", "¥500.00"), (0, "¥38.00", None)],
)
def test_the_receipt_of_the_visit_that_settled_the_card_fee_shows_it(tmp_path, amount_fen, fee_says, topped_up):
    bitmap, fee, topup, kiosk = _visit(tmp_path, amount_fen)
    expected = _expected(kiosk, fee, topup)
    assert bitmap.tobytes() == ink(render_receipt(expected, 576, FONT)).tobytes()
    lines = receipt_lines(expected)
    assert value_of(lines, "卡费") == fee_says
    if topped_up is None:
        assert expected.title == "卡费单" and not any(line.startswith(("充值金额", "到账")) for line in lines)
    else:
        assert expected.title == "储值单" and value_of(lines, "充值金额") == topped_up


@pytest.mark.parametrize(("shop", "label", "waived"), [(ZH, "卡费", "免收"), (EN, "Card fee", "waived")])
def test_the_card_fee_line_in_both_languages_fits_the_till_width(shop, label, waived):
    values = {"amount_fen": 10_000, "bonus_fen": 0, "points_earned": 100, "balance_after_fen": 10_000,
              "points_after": 100, **WHO}
    paid = receipt_lines(receipt_for_top_up(shop, card_fee_fen=3800, **values))
    assert value_of(paid, label) == "¥38.00" and max(map(text_width, paid)) <= 32
    assert value_of(receipt_lines(receipt_for_top_up(shop, card_fee_waived=True, **values)), label) == waived
    assert not any(line.startswith(label) for line in receipt_lines(receipt_for_top_up(shop, **values)))
