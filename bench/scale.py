"""What the kiosk's store costs as the chain grows: RSS, open time, tap lookup, commit, checkpoint.

    python bench/scale.py            # 10k and 100k members (quick: well under a minute here)
    python bench/scale.py --full     # 10k, 100k and 1,000,000 members
    python bench/scale.py --sizes 0 5000
    python bench/scale.py --no-hq    # the kiosk's side only

For each size it generates N members straight into the store's on-disk format (no journal
replay, no ledger operations: fast), then starts a fresh Python process that opens the real
`Store` and measures, in that process:
  open        Store.open (what start-up waits for before the idle screen can show)
  RSS         resident memory after open, minus the same figure for a process that opened a
              store with 0 members in this run (the baseline); again after the commits, the
              checkpoint and 5,000 more taps on random members (the row cache full); and the peak
  tap p99     Ledger.view(uid) for random cards: the first look at a card (cold) and again (warm)
  phone p99   the sign-up's "phone number already in use?" question (was a scan of every member)
  commit p99  Store.commit of a top-up beside the floor: a raw append + fdatasync of the same
              record bytes to a file in the same directory, interleaved sample by sample
  checkpoint  Store.checkpoint after those commits
  disk        bytes under the data directory after the checkpoint
  run s       `kiosk run` (the real entry point) to its first frame (its "idle screen shown" log
              line), at the largest size, beside the same for 0 members and for a bare Kivy window
              (a Label, nothing of ours: Kivy's own floor on this machine); medians of interleaved
              starts (bench/startup.py; --tree DIR adds another tree's `kiosk run` at the largest size)
  cpu s       the CPU seconds `kiosk run` had used by then (read from /proc as the line arrives)
  ready s     `kiosk run` to its "kiosk ready" line: the session wired behind the idle screen,
              READY=1 to systemd, a tap served from then on
Then HQ's side (bench/store_feed.py): a store's snapshot built and loaded by a real kiosk through
Mosquitto at each size (SQLite), and tap -> member screen for members fetched from HQ on
PostgreSQL at the largest size.
Targets (issue 16): RSS above baseline <= 30 MB at 1M and flat 10k -> 1M (<= 1.2x); open <= 1.5 s
at 1M; tap p99 <= 100 ms; commit p99 <= 3x the floor's p99; checkpoint independent of size."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import startup  # noqa: E402  (bench/ runs as a script: the path first)

DEVICE = "SCALE-1"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
TAPS = 400
COMMITS = 150
GEN_CHUNK = 20_000
FILL_TAPS = 5000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def uid_of(i: int) -> str:
    return f"04{i:012X}"


def member_rows(i: int):
    """Member i as the ledger holds it: a realistic account (lots, top-ups, recent activity)."""
    from kiosk.ledger.model import Account, Activity, Card, Member, PointsLot, TopUpRecord

    mid = f"M-{i:08d}"
    at = T0 - timedelta(days=i % 700, minutes=i % 1440)
    member = Member(
        member_id=mid, name=f"Member {i}", phone=f"138{i:08d}", birthday=date(1970 + i % 40, 1 + i % 12, 1 + i % 28),
        joined_at=at, pin_hash="pbkdf2$1$" + "ab" * 16 + "$" + "cd" * 32,
    )
    card = Card(uid_of(i), mid, 1, card_counter=i % 50)
    account = Account(
        mid, balance_fen=10_000 + i % 90_000, bonus_fen=i % 1000,
        lots=(PointsLot(date(2026, 12, 31), 100 + i % 500), PointsLot(date(2027, 6, 30), 50)),
        lifetime_topup_fen=50_000, lifetime_spend_fen=30_000,
        recent_topups=(TopUpRecord(at, 20_000), TopUpRecord(at + timedelta(days=30), 30_000)),
        last_visit=at,
        recent=tuple(Activity(at + timedelta(days=k), "top_up", 20_000, 200) for k in range(3)),
    )
    return member, card, account


def generate(data_dir: Path, n: int) -> None:
    """N members in the store's format, as if HQ had sent them and a checkpoint had written them:
    rows streamed into the member replica in chunks (a million never sit in memory at once). Each
    row's JSON is member_rows(0)'s with the ids swapped in: the codec would make it 10x slower."""
    from kiosk.ledger.model import referral_code_of
    from kiosk.ledger.state import LedgerState
    from kiosk.store.replica import Replica, _text

    data_dir.mkdir(parents=True, exist_ok=True)
    replica = Replica.open(data_dir, DEVICE)
    conn = replica._writer
    conn.execute("PRAGMA synchronous=OFF")  # generating test data, not committing money
    member, card, account = (_text(v) for v in member_rows(0))
    mid0, uid0, phone0 = "M-00000000", uid_of(0), "13800000000"
    conn.execute("BEGIN")
    for start in range(0, n, GEN_CHUNK):
        ids = [(f"M-{i:08d}", uid_of(i), f"138{i:08d}") for i in range(start, min(n, start + GEN_CHUNK))]
        conn.executemany(
            "INSERT INTO members (member_id, phone, referral, body) VALUES (?, ?, ?, ?)",
            [(m, ph, referral_code_of(m), member.replace(mid0, m).replace(phone0, ph)) for m, _, ph in ids],
        )
        conn.executemany(
            "INSERT INTO cards (uid, member_id, body) VALUES (?, ?, ?)",
            [(u, m, card.replace(mid0, m).replace(uid0, u)) for m, u, _ in ids],
        )
        conn.executemany(
            "INSERT INTO accounts (member_id, body) VALUES (?, ?)", [(m, account.replace(mid0, m)) for m, _, _ in ids]
        )
    conn.execute("COMMIT")
    replica.write(LedgerState(), absorbed=1)  # the position row: nothing in the journal yet
    replica.close()


def rss_kb() -> tuple[int, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def child(data_dir: Path, n: int) -> dict:
    """Runs in a fresh process: open the store and measure."""
    from kiosk.ledger.pin import FAST_FOR_TESTS
    from kiosk.ledger.txn import txn_to_dict
    from kiosk.store.journal import encode_record
    from kiosk.store.store import Store

    out: dict = {"n": n}
    start = time.perf_counter()
    store = Store.open(data_dir, DEVICE, pin_params=FAST_FOR_TESTS)
    out["open_s"] = time.perf_counter() - start
    out["rss_kb"], out["hwm_kb"] = rss_kb()
    if n:
        rng = random.Random(n)
        picks = [rng.randrange(n) for _ in range(TAPS)]
        cold, warm = [], []
        for i in picks:
            for sink in (cold, warm):
                t = time.perf_counter()
                store.ledger.view(uid_of(i), T0)
                sink.append(time.perf_counter() - t)
        phones = []
        for i in picks[:200]:  # the sign-up check: is this phone number already a member's?
            t = time.perf_counter()
            store.ledger.state.members_with_phone(f"138{i:08d}")
            phones.append(time.perf_counter() - t)
        out["phone_p99_ms"] = percentile(phones, 99) * 1e3
        for name, values in (("cold", cold), ("warm", warm)):
            out[f"tap_{name}_p50_ms"] = percentile(values, 50) * 1e3
            out[f"tap_{name}_p99_ms"] = percentile(values, 99) * 1e3
        floor_fd = os.open(data_dir / "floor.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        commits, floors = [], []
        for k in range(COMMITS):
            txn = store.ledger.top_up(uid_of(rng.randrange(n)), 10_000, f"bench-{k}", T0 + timedelta(seconds=k))
            t = time.perf_counter()
            store.commit(txn)
            commits.append(time.perf_counter() - t)
            data = encode_record({"t": "txn", "txn": txn_to_dict(txn)})
            t = time.perf_counter()
            os.write(floor_fd, data)
            os.fdatasync(floor_fd)
            floors.append(time.perf_counter() - t)
        os.close(floor_fd)
        os.unlink(data_dir / "floor.bin")
        out["commit_p99_ms"] = percentile(commits, 99) * 1e3
        out["floor_p99_ms"] = percentile(floors, 99) * 1e3
        out["commit_p50_ms"] = percentile(commits, 50) * 1e3
        out["floor_p50_ms"] = percentile(floors, 50) * 1e3
        t = time.perf_counter()
        store.checkpoint()
        out["checkpoint_s"] = time.perf_counter() - t
        for _ in range(FILL_TAPS):  # more members than the row cache holds: its bound shows in RSS
            store.ledger.view(uid_of(rng.randrange(n)), T0)
        out["rss_after_kb"], out["hwm_kb"] = rss_kb()
    store.close()
    out["disk_mb"] = sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file()) / 1e6
    return out


def run_child(data_dir: Path, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(data_dir), str(n)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child for {n} members failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also 1,000,000 members")
    parser.add_argument("--sizes", type=int, nargs="+", help="member counts to measure (default 10000 100000)")
    parser.add_argument("--no-hq", action="store_true", help="skip HQ's side (bench/store_feed.py)")
    parser.add_argument("--child", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="another tree of the project: its `kiosk run` start-up measured beside this one's "
                             "at the largest size, interleaved (bench/startup.py)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), int(args.child[1]))))
        return
    sizes = args.sizes or ([10_000, 100_000, 1_000_000] if args.full else [10_000, 100_000])
    root = Path(tempfile.mkdtemp(prefix="kiosk-scale-"))
    try:
        base_dir = root / "n0"
        generate(base_dir, 0)
        base = run_child(base_dir, 0)
        starts = startup.measure(base_dir, root / "run")
        base_run, bare_run = starts["kiosk"], starts["bare"]
        print(f"baseline (0 members): RSS {base['rss_kb'] / 1024:.1f} MB, open {base['open_s'] * 1e3:.0f} ms, "
              f"`kiosk run` to its first frame {base_run.wall_s:.2f} s wall / {base_run.cpu_s:.2f} s CPU, serving "
              f"taps at {base_run.ready_s:.2f} s; a bare Kivy window to its first frame {bare_run.wall_s:.2f} s / "
              f"{bare_run.cpu_s:.2f} s CPU (Kivy's floor here)")
        head = (
            f"{'members':>9} {'gen s':>6} {'open s':>7} {'RSS+ MB':>8} {'after+ MB':>9} {'peak+ MB':>9} {'tap cold p50/p99':>17} "
            f"{'tap warm p50/p99':>17} {'phone p99':>9} {'commit p50/p99':>15} {'floor p50/p99':>14} {'ratio':>6} {'ckpt s':>7} "
            f"{'disk MB':>8} {'run s':>6} {'cpu s':>6} {'ready s':>7}"
        )
        print(head)
        for n in sizes:
            data_dir = root / f"n{n}"
            t = time.perf_counter()
            generate(data_dir, n)
            gen_s = time.perf_counter() - t
            r = run_child(data_dir, n)
            largest = n == sizes[-1]
            starts = startup.measure(data_dir, root / "run", tuple(t.resolve() for t in args.tree)) if largest else {}
            run = starts.get("kiosk", startup.Start(float("nan"), float("nan"), float("nan")))

            def pair(name: str, r: dict = r) -> str:
                return f"{r.get(name + '_p50_ms', 0):.2f}/{r.get(name + '_p99_ms', 0):.2f}ms"

            print(
                f"{n:>9,} {gen_s:>6.1f} {r['open_s']:>7.2f} {(r['rss_kb'] - base['rss_kb']) / 1024:>8.1f} "
                f"{(r.get('rss_after_kb', base['rss_kb']) - base['rss_kb']) / 1024:>9.1f} "
                f"{(r['hwm_kb'] - base['hwm_kb']) / 1024:>9.1f} {pair('tap_cold'):>17} {pair('tap_warm'):>17} "
                f"{r.get('phone_p99_ms', 0):>7.2f}ms {pair('commit'):>15} {pair('floor'):>14} "
                f"{r.get('commit_p99_ms', 0) / max(r.get('floor_p99_ms', 1e-9), 1e-9):>5.1f}x "
                f"{r.get('checkpoint_s', 0):>7.3f} {r['disk_mb']:>8.1f} {run.wall_s:>6.2f} {run.cpu_s:>6.2f} {run.ready_s:>7.2f}",
                flush=True,
            )
            if largest:
                startup.report(starts)
            shutil.rmtree(data_dir)
        print("(ratio = commit p99 / floor p99; RSS+ and peak+ are above the 0-member baseline; run s / cpu s ="
              " `kiosk run` to its first frame, wall and CPU, at the largest size; ready s: to serving taps)")
        if not args.no_hq:
            from bench.store_feed import report

            report(sizes, sizes[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
