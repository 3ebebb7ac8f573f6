"""What a printed receipt costs: drawing it as a bitmap and sending it through python-escpos,
against a baseline measured in the same run (laying the same receipt out as text lines, what
the till API returns), the bytes a receipt puts on the wire and what they take on a serial
line, and what the session's thread pays to hand a receipt to the printer (a queue put) against
printing it on the spot.

    .venv/bin/python bench/receipt.py [--runs N]"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from escpos.printer import Dummy, File  # noqa: E402

from kiosk.receipt.escpos_printer import EscposPrinter, escpos_job, width_profile  # noqa: E402
from kiosk.receipt.layout import receipt_lines  # noqa: E402
from kiosk.receipt.raster import render_receipt  # noqa: E402
from kiosk.receipt.receipt import Shop, receipt_for_charge  # noqa: E402
from kiosk.ui.fonts import find_cjk_font  # noqa: E402


def sample(n: int):
    return receipt_for_charge(
        Shop("静安寺店", "SH07-K1", "zh_CN"), amount_fen=10_000 + n, discount_fen=1_280, voucher_fen=1_000,
        points_earned=100, balance_after_fen=52_500, points_after=1_314, at=datetime.now(UTC),
        timezone="Asia/Shanghai", member_name="张三丰", card_uid="04A1B2C3", txn_id=f"SH07-K1:{n}", order_id="A1",
    )


def timed(runs: int, step: Callable[[int], object]) -> list[float]:
    out = []
    for n in range(runs):
        started = time.perf_counter()
        step(n)
        out.append((time.perf_counter() - started) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="receipts per measurement (default 30)")
    args = parser.parse_args(argv)
    font = find_cjk_font().path
    if font is None:
        print("no Chinese font: apt-get install fonts-wqy-microhei")
        return 1
    rows = []
    baseline = timed(args.runs, lambda n: receipt_lines(sample(n), 48))
    rows.append(("text lines (baseline)", baseline))
    for width in (384, 576):
        rows.append((f"bitmap {width} dots", timed(args.runs, lambda n, w=width: render_receipt(sample(n), w, font))))
        sizes = []

        def job(n: int, w: int = width, sizes: list = sizes) -> None:
            dummy = Dummy()
            dummy.profile = width_profile(w)
            escpos_job(dummy, render_receipt(sample(n), w, font))
            sizes.append(len(dummy.output))

        rows.append((f"bitmap + ESC/POS job {width}", timed(args.runs, job)))
        wire = statistics.median(sizes)
        print(f"{width} dots: {wire / 1024:.1f} KiB a receipt; on a serial line {wire * 10 / 9600:.1f} s at 9600 baud, "
              f"{wire * 10 / 115200:.2f} s at 115200 (8N1)")
    with tempfile.TemporaryDirectory() as tmp:
        def connect() -> File:
            made = File(str(Path(tmp) / "lp0"))
            made.profile = width_profile(576)
            return made

        printer = EscposPrinter(connect, 576, font, "bench", queue_size=args.runs + 1)
        rows.append(("printing on the spot (File)", timed(args.runs, lambda n: printer.print_now(sample(n)))))
        handed = timed(args.runs, lambda n: printer.print_receipt(sample(n)))
        rows.append(("handing over (session's share)", handed))
        printer.wait_idle(120)
        printer.close()
    base = statistics.median(baseline)
    print(f"\n{'per receipt, ' + str(args.runs) + ' runs':34} {'p50 ms':>9} {'p99 ms':>9} {'x baseline':>11}")
    for name, values in rows:
        print(f"{name:34} {statistics.median(values):9.2f} {p(values, 0.99):9.2f} {statistics.median(values) / base:11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
