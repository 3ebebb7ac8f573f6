"""What the card format costs on top of the bytes: per operation, the reader commands and
bytes on air it needs, and its time over the simulated reader against a baseline measured in
the same run (the same commands sent straight to the chip model, no parsing or crypto).

    /work/main/.venv/bin/python bench/cards.py [--runs N]

Bytes on air count command and answer payloads as a PN532 InDataExchange carries them (MIFARE
auth 12 bytes out, read 2 out / 16 back, write 18 out; NTAG read 2 / 16, write 6 / 1, PWD_AUTH
5 / 2, READ_SIG 2 / 32), so a driver's floor is these bytes plus its own framing."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.reader import originality  # noqa: E402
from kiosk.reader.base import CardInfo, KeyType, Reader  # noqa: E402
from kiosk.reader.card import issue_card, read_member_card, update_purse  # noqa: E402
from kiosk.reader.chips import new_classic, new_ntag  # noqa: E402
from kiosk.reader.keys import SiteKeys  # noqa: E402
from kiosk.reader.simulated import SimulatedReader  # noqa: E402

AIR = {
    "mifare_auth": (12, 0),
    "mifare_read": (2, 16),
    "mifare_write": (18, 0),
    "ntag_read": (2, 16),
    "ntag_write": (6, 1),
    "ntag_pwd_auth": (5, 2),
    "read_signature": (2, 32),
}
SITE = SiteKeys(bytes(range(16)), b"bench")
SIGNERS = (originality.TEST_PUBLIC_KEY,)


class Counting(Reader):
    """Passes every call to a reader and counts commands and bytes on air."""

    def __init__(self, inner: Reader) -> None:
        self.inner = inner
        self.commands = 0
        self.out = 0
        self.back = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def wait_for_card(self, timeout: float) -> CardInfo | None:
        return self.inner.wait_for_card(timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        return self.inner.wait_for_removal(timeout)

    def __getattribute__(self, name: str):
        if name in AIR:
            inner = object.__getattribute__(self, "inner")
            out, back = AIR[name]

            def call(*args):
                self.commands += 1
                self.out += out
                self.back += back
                return getattr(inner, name)(*args)

            return call
        return object.__getattribute__(self, name)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    runs = parser.parse_args().runs

    sim = SimulatedReader()
    classic = new_classic()
    sim.place(classic)
    info = sim.wait_for_card(0)
    issue_card(sim, info, SITE, "M-bench-1", 1, date(2026, 11, 23), "k", 1000, 10)
    keys = SITE.for_card(info.uid)

    def raw_classic_read() -> None:
        for sector, n in ((1, 3), (2, 2), (3, 2)):
            classic.authenticate(sector * 4 + 3, KeyType.A, keys.key_a)
            for i in range(n):
                classic.read_block(sector * 4 + i)

    tag = new_ntag()
    sim_n = SimulatedReader()
    sim_n.place(tag)
    info_n = sim_n.wait_for_card(0)
    issue_card(sim_n, info_n, SITE, "M-bench-2", 1, date(2026, 11, 23), signers=SIGNERS)

    def raw_ntag_read() -> None:
        tag.pwd_auth(keys_n.ntag_pwd)
        for page in (4, 8, 12):
            tag.read(page)
        tag.read_sig()

    keys_n = SITE.for_card(info_n.uid)
    balance = [1000]

    def update() -> None:
        balance[0] += 1
        update_purse(sim, info, SITE, balance[0], 10, "k")

    rows = [
        (
            "Classic read_member_card",
            sim,
            info,
            lambda: read_member_card(sim, info, SITE),
            raw_classic_read,
        ),
        ("Classic update_purse", sim, info, update, None),
        (
            "NTAG213 read_member_card",
            sim_n,
            info_n,
            lambda: read_member_card(sim_n, info_n, SITE, SIGNERS),
            raw_ntag_read,
        ),
        (
            "  originality verify, cached",
            None,
            None,
            lambda: originality.verify(info_n.uid, tag.signature, originality.TEST_PUBLIC_KEY),
            None,
        ),
        (
            "  originality verify, first tap",
            None,
            None,
            lambda: originality.verify.__wrapped__(
                info_n.uid, tag.signature, originality.TEST_PUBLIC_KEY
            ),
            None,
        ),
        ("  AN10922 + sub-keys per tap", None, None, lambda: SITE.for_card(info.uid), None),
    ]
    print(
        f"{'operation':32} {'cmds':>5} {'out B':>6} {'back B':>7} {'median us':>10} "
        f"{'p99 us':>9} {'raw chip us':>12} {'ratio':>6}"
    )
    for name, reader, card_info, op, raw in rows:
        cmds = out = back = "-"
        if reader is not None:
            counting = Counting(reader)
            if name.startswith("Classic update"):
                update_purse(counting, card_info, SITE, balance[0], 10, "k")
            elif name.startswith("Classic"):
                read_member_card(counting, card_info, SITE)
            else:
                read_member_card(counting, card_info, SITE, SIGNERS)
            cmds, out, back = counting.commands, counting.out, counting.back
        med, p99 = timed(op, runs)
        raw_med = timed(raw, runs)[0] if raw else None
        raw_text = f"{raw_med:12.1f}" if raw_med else f"{'-':>12}"
        ratio = f"{med / raw_med:6.1f}" if raw_med else f"{'-':>6}"
        print(
            f"{name:32} {cmds!s:>5} {out!s:>6} {back!s:>7} {med:10.1f} {p99:9.1f} "
            f"{raw_text} {ratio}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
