"""Draws the sample receipts docs/receipts.md shows, exactly as the printer gets them (the same
bitmap python-escpos sends): `.venv/bin/python scripts/receipt_samples.py` rewrites
docs/receipts/*.png and prints the text lines the till API returns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kiosk.receipt.layout import receipt_lines
from kiosk.receipt.raster import render_receipt
from kiosk.receipt.receipt import Shop, receipt_for_charge, receipt_for_refund, receipt_for_top_up
from kiosk.ui.fonts import find_cjk_font

OUT = Path(__file__).resolve().parent.parent / "docs" / "receipts"
AT = datetime(2026, 12, 7, 6, 32, 5, tzinfo=UTC)  # 14:32 in Shanghai


def samples() -> dict:
    who = {"at": AT, "timezone": "Asia/Shanghai", "card_uid": "04A1B2C3", "balance_after_fen": 62_500}
    zh, en = Shop("静安寺店", "SH07-K1", "zh_CN"), Shop("Jing'an Temple", "SH07-K1", "en")
    top_up = {"amount_fen": 50_000, "bonus_fen": 2_500, "points_earned": 500, "points_after": 1_734,
              "txn_id": "SH07-K1:128", **who}
    return {
        "top_up.zh_CN": receipt_for_top_up(zh, member_name="张三丰", **top_up),
        "top_up.en": receipt_for_top_up(en, member_name="John Williams", **top_up),
        "charge.zh_CN": receipt_for_charge(
            zh, member_name="张三丰", amount_fen=10_000, discount_fen=1_280, voucher_fen=1_000, points_used=520,
            points_used_fen=520, points_earned=100, points_after=1_314, txn_id="SH07-K1:129", order_id="A1",
            **{**who, "balance_after_fen": 52_500},
        ),
        "refund.zh_CN": receipt_for_refund(
            zh, member_name="张三丰", refund_fen=3_000, points_reversed=30, points_after=1_284, txn_id="SH07-K1:130",
            order_id="A1", refund_id="R1", **{**who, "balance_after_fen": 55_500},
        ),
    }


def main() -> None:
    font = find_cjk_font().path
    if font is None:
        raise SystemExit("no Chinese font: apt-get install fonts-wqy-microhei")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, receipt in samples().items():
        render_receipt(receipt, 576, font).save(OUT / f"{name}.png", optimize=True)
        print(f"== {name}")
        print("\n".join(receipt_lines(receipt)))


if __name__ == "__main__":
    main()
