"""What the session costs per tap: from a card event handed to the session to the member home
view being published, with N members in the local replica (default 10,000), against a baseline
measured in the same run (the bare ledger.view() of the same card: the work any design must do).
Also: the reader side (simulated reader + card format read) per tap, and RSS as taps go on.

    /work/main/.venv/bin/python bench/session_tap.py [--members N] [--taps N]

The UI's bench/tap.py adds Kivy's rendering on top of this; this one isolates the session."""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.members import START, fill, pct  # noqa: E402
from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.sample import default_rules  # noqa: E402
from kiosk.reader import chips  # noqa: E402
from kiosk.reader.card import issue_card  # noqa: E402
from kiosk.reader.keys import SiteKeys  # noqa: E402
from kiosk.reader.simulated import SimulatedReader  # noqa: E402
from kiosk.session.card_access import FormatCardAccess  # noqa: E402
from kiosk.session.clock import ManualClock  # noqa: E402
from kiosk.session.inputs import CardKind, CardPresented, CardRead, CardRemoved  # noqa: E402
from kiosk.session.session import Session  # noqa: E402
from kiosk.store.store import Store  # noqa: E402

KEYS = SiteKeys(bytes(range(16)), b"bench")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--memory-taps", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = Store.open(Path(tmp), "bench-01", default_rules(), b"bench", FAST_FOR_TESTS)
        uids = fill(store, args.members)
        print(f"replica: {args.members} members in {time.perf_counter() - t0:.1f} s")
        clock = ManualClock(START)
        session = Session(store, clock=clock)
        published = []
        session.subscribe(published.append)

        step = max(1, len(uids) // args.taps)
        picks = [uids[(i * step) % len(uids)] for i in range(args.taps)]
        # warm-up: first visits give the new-member gift (a commit); measure returning members
        first = []
        for uid in picks:
            session.post(CardPresented(CardRead(uid, CardKind.MEMBER)))
            t = time.perf_counter()
            session.pump()
            first.append(time.perf_counter() - t)
            session.post(CardRemoved(uid))
            session.pump()

        base, tap = [], []
        for uid in picks:
            t = time.perf_counter()
            store.ledger.view(uid, clock.now())
            base.append(time.perf_counter() - t)
            session.post(CardPresented(CardRead(uid, CardKind.MEMBER)))
            t = time.perf_counter()
            view = session.pump()
            tap.append(time.perf_counter() - t)
            assert view.state == "home" and view.member is not None
            session.post(CardRemoved(uid))
            session.pump()

        # the reader side: simulated reader + card format read per tap
        reader = SimulatedReader()
        access = FormatCardAccess(KEYS, "bench-01", lambda: START.date())
        chip = chips.new_classic(bytes.fromhex("04AA0001"))
        reader.place(chip)
        issue_card(reader, reader.wait_for_card(0), KEYS, "M-bench-01-1", 1, START.date(), "bench-01")
        reads = []
        for _ in range(args.taps):
            reader.remove()
            reader.place(chip)
            info = reader.wait_for_card(0)
            t = time.perf_counter()
            access.read(reader, info)
            reads.append(time.perf_counter() - t)

        rss = {}
        for i in range(1, args.memory_taps + 1):
            uid = uids[i % len(uids)]
            session.post(CardPresented(CardRead(uid, CardKind.MEMBER)))
            session.pump()
            session.post(CardRemoved(uid))
            session.pump()
            if i in (200, args.memory_taps):
                rss[i] = rss_mb()
        store.close()

    ms = 1000
    print(f"\n{'per tap (ms)':<44}{'p50':>9}{'p99':>9}{'ratio p50':>11}")
    print(f"{'baseline: ledger.view() of the card':<44}{statistics.median(base) * ms:>9.3f}{pct(base, 0.99) * ms:>9.3f}{1:>11.1f}")
    print(
        f"{'session: card event -> home view published':<44}{statistics.median(tap) * ms:>9.3f}"
        f"{pct(tap, 0.99) * ms:>9.3f}{statistics.median(tap) / statistics.median(base):>11.1f}"
    )
    print(
        f"{'first visit: + new-member gift committed':<44}{statistics.median(first) * ms:>9.3f}"
        f"{pct(first, 0.99) * ms:>9.3f}{statistics.median(first) / statistics.median(base):>11.1f}"
    )
    print(
        f"{'reader side: card format read (simulated)':<44}{statistics.median(reads) * ms:>9.3f}"
        f"{pct(reads, 0.99) * ms:>9.3f}{statistics.median(reads) / statistics.median(base):>11.1f}"
    )
    print(f"\nRSS after tap 200: {rss[200]:.1f} MB, after tap {args.memory_taps}: {rss[args.memory_taps]:.1f} MB "
          f"({(rss[args.memory_taps] / rss[200] - 1) * 100:+.1f}%)")
    print(f"views published: {len(published)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
