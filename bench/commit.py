"""Commit latency of the kiosk store against baselines measured in the same run.

    python bench/commit.py            # 1k, 10k and 100k transactions of history, 10k members
    python bench/commit.py --quick    # a small run (1k and 5k history, 1k members)

For each history size it times `Store.commit` (validate, journal append + fdatasync, apply)
interleaved, sample by sample, with three baselines fed the same record bytes:
  floor   raw append of the record to a file + fdatasync (what durability costs at least)
  sqlite  the record inserted into SQLite (WAL, synchronous=FULL), one transaction each
  tinydb  stock TinyDB insert (JSONStorage rewrites the whole file; sampled, it is slow)
Interleaving means a burst of load from other processes hits all of them alike.

Then it prints the start-up time (replica + journal replay) at the largest size, and what a
checkpoint costs (the rows changed into replica.sqlite, rules and settings into snapshot.json).
Targets (from the store issue): p99 at 100k <= 3x the floor's p99; p50 at 100k <= 1.5x p50 at 1k."""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.ledger.operations import Ledger  # noqa: E402
from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.txn import txn_to_dict  # noqa: E402
from kiosk.store.journal import encode_record  # noqa: E402
from kiosk.store.snapshot import read_snapshot  # noqa: E402
from kiosk.store.store import CHECKPOINT_EVERY, Store  # noqa: E402

DEVICE = "BENCH-1"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
BATCH = 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Baselines:
    """The floor, SQLite and TinyDB, each holding `history` records like the store's journal."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.floor_fd = os.open(directory / "floor.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.sql = sqlite3.connect(directory / "journal.sqlite", isolation_level=None)
        self.sql.execute("PRAGMA journal_mode=WAL")
        self.sql.execute("PRAGMA synchronous=FULL")
        self.sql.execute("CREATE TABLE journal (n INTEGER PRIMARY KEY, record BLOB NOT NULL)")
        from tinydb import TinyDB

        self.tiny = TinyDB(directory / "tinydb.json")

    def grow(self, records: list[bytes]) -> None:
        os.write(self.floor_fd, b"".join(records))
        os.fdatasync(self.floor_fd)
        self.sql.execute("BEGIN")
        self.sql.executemany("INSERT INTO journal (record) VALUES (?)", [(r,) for r in records])
        self.sql.execute("COMMIT")

    def grow_tinydb(self, docs: list[dict]) -> None:
        self.tiny.insert_multiple(docs)  # one rewrite of the file for the whole step

    def floor(self, record: bytes) -> float:
        start = time.perf_counter()
        os.write(self.floor_fd, record)
        os.fdatasync(self.floor_fd)
        return time.perf_counter() - start

    def sqlite(self, record: bytes) -> float:
        start = time.perf_counter()
        self.sql.execute("INSERT INTO journal (record) VALUES (?)", (record,))  # autocommit: one txn
        return time.perf_counter() - start

    def tinydb(self, doc: dict) -> float:
        start = time.perf_counter()
        self.tiny.insert(doc)
        return time.perf_counter() - start


class Workload:
    """Top-ups spread over the members, each one a fresh valid transaction for the store."""

    def __init__(self, store: Store, cards: list[str], seed: int = 7):
        self.store, self.cards, self.rng, self.n = store, cards, random.Random(seed), 0

    def next_txn(self, ledger: Ledger | None = None):
        self.n += 1
        card = self.rng.choice(self.cards)
        at = T0 + timedelta(seconds=self.n)
        return (ledger or self.store.ledger).top_up(
            card, 1000 + self.rng.randrange(0, 9000), f"P{self.n}", at
        )


def scratch(store: Store) -> Ledger:
    """A ledger over a copy of the state: decide a batch ahead, then commit it in one go."""
    ledger = store.ledger
    return Ledger(ledger.state.copy(), ledger.rules, ledger.device_id, ledger.pepper, ledger.pin_params)


def build_members(store: Store, members: int) -> list[str]:
    cards = []
    for start in range(0, members, BATCH):
        ahead, txns = scratch(store), []
        for n in range(start, min(members, start + BATCH)):
            uid = f"{0x04000000 + n:08X}"
            txn = ahead.sign_up(uid, 1, f"139{n:08d}", "258013", T0, name=f"M{n}")
            ahead.apply(txn)
            txns.append(txn)
            cards.append(uid)
        store.commit_many(txns)
    store.ack([t.txn_id for t in store.outbox()])
    store.checkpoint()
    store.checkpoint()  # both kept snapshots hold the members; their journal segments go
    return cards


def grow_history(store: Store, work: Workload, base: Baselines, count: int) -> None:
    """Add `count` committed, unacknowledged top-ups (the worst case: HQ unreachable)."""
    all_docs = []
    while count > 0:
        ahead, batch = scratch(store), []
        for _ in range(min(BATCH, count)):
            txn = work.next_txn(ahead)
            ahead.apply(txn)
            batch.append(txn)
        store.commit_many(batch)
        docs = [txn_to_dict(t) for t in batch]
        base.grow([encode_record({"t": "txn", "txn": d}) for d in docs])
        all_docs += docs
        count -= len(batch)
    base.grow_tinydb(all_docs)


def measure(setups: dict[int, tuple[Store, Workload, Baselines]], samples: int, tiny: dict[int, int]) -> dict:
    """Round-robin over the history sizes, sample by sample, so load from other processes hits
    every size and every baseline alike."""
    times = {size: {"store": [], "floor": [], "sqlite": [], "tinydb": []} for size in setups}
    gc.collect()
    for i in range(samples):
        for size, (store, work, base) in setups.items():
            txn = work.next_txn()
            record = encode_record({"t": "txn", "txn": txn_to_dict(txn)})
            start = time.perf_counter()
            store.commit(txn)
            times[size]["store"].append(time.perf_counter() - start)
            times[size]["floor"].append(base.floor(record))
            times[size]["sqlite"].append(base.sqlite(record))
            if i < tiny[size]:
                times[size]["tinydb"].append(base.tinydb(txn_to_dict(txn)))
    return times


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


LABELS = {
    "store": "kiosk store commit (journal)",
    "floor": "raw append + fdatasync (floor)",
    "sqlite": "SQLite WAL synchronous=FULL",
    "tinydb": "TinyDB default insert",
}


def print_latency(results: dict, samples: int, members: int) -> None:
    print(
        f"commit latency, ms ({samples} samples per size, TinyDB sampled; {members:,} members in the replica)"
    )
    head = f"{'history':>9}  {'what':<34}{'n':>6}{'p50':>9}{'p99':>9}{'p50/floor':>11}{'p99/floor':>11}"
    print(head)
    print("-" * len(head))
    for size, res in results.items():
        f50, f99 = percentile(res["floor"], 50), percentile(res["floor"], 99)
        for key, label in LABELS.items():
            values = res[key]
            p50, p99 = percentile(values, 50), percentile(values, 99)
            print(
                f"{size:>9,}  {label:<34}{len(values):>6}{p50 * 1e3:>9.3f}{p99 * 1e3:>9.3f}"
                f"{p50 / f50:>10.1f}x{p99 / f99:>10.1f}x"
            )
    sizes = list(results)
    small, big = results[sizes[0]]["store"], results[sizes[-1]]["store"]
    p99_ratio = percentile(big, 99) / percentile(results[sizes[-1]]["floor"], 99)
    growth = percentile(big, 50) / percentile(small, 50)
    mean_growth = statistics.mean(big) / statistics.mean(small)
    print()
    verdict = "PASS" if p99_ratio <= 3 else "FAIL"
    print(f"target: store p99 at {sizes[-1]:,} <= 3x floor p99: {p99_ratio:.2f}x  {verdict}")
    verdict = "PASS" if growth <= 1.5 else "FAIL"
    print(
        f"target: store p50 at {sizes[-1]:,} <= 1.5x p50 at {sizes[0]:,}: {growth:.2f}x "
        f"(mean {mean_growth:.2f}x)  {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small run: 1k/5k history, 1k members")
    parser.add_argument("--dir", type=Path, help="where to put the files (default: a temp dir)")
    args = parser.parse_args()
    members = 1000 if args.quick else 10_000
    sizes = [1000, 5000] if args.quick else [1000, 10_000, 100_000]
    samples = 200 if args.quick else 1000
    tiny = {1000: 30, 5000: 5, 10_000: 10, 100_000: 3}

    root = Path(tempfile.mkdtemp(prefix="kiosk-bench-", dir=args.dir))
    try:
        base_dir = root / "members"
        store = Store.open(base_dir, DEVICE, pin_params=FAST_FOR_TESTS)
        took = timed(lambda: build_members(store, members))
        cards = sorted(store.ledger.state.cards)
        store.close()
        print(f"# {members:,} members built and checkpointed in {took:.1f}s", flush=True)

        setups: dict[int, tuple[Store, Workload, Baselines]] = {}
        for size in sizes:  # one store per history size, all starting from the same members
            where = root / f"history-{size}"
            shutil.copytree(base_dir, where / "store")
            store = Store.open(where / "store", DEVICE, pin_params=FAST_FOR_TESTS)
            work, base = Workload(store, cards, seed=size), Baselines(where)
            took = timed(lambda: grow_history(store, work, base, size))  # noqa: B023
            print(f"# history {size:,} built in {took:.1f}s", flush=True)
            setups[size] = (store, work, base)
        results = measure(setups, samples, tiny)
        print()
        print_latency(results, samples, members)

        big = sizes[-1]
        store = setups[big][0]
        data_dir = store.data_dir
        outbox, unsnapped = store.outbox_depth(), store.records_since_checkpoint
        for s, _, _ in setups.values():
            s.close()
        print()
        print(f"start-up at {big:,} (replica + journal replay), {members:,} members in the replica:")
        startup = timed(lambda: Store.open(data_dir, DEVICE, pin_params=FAST_FOR_TESTS).close())
        print(
            f"  as the commits left it: outbox {outbox:,} unacknowledged, {unsnapped:,} records since the "
            f"last (automatic) snapshot: {startup:.2f}s"
            + (
                " (includes the checkpoint open writes after a long replay)"
                if unsnapped >= CHECKPOINT_EVERY
                else ""
            )
        )
        store = Store.open(data_dir, DEVICE, pin_params=FAST_FOR_TESTS)
        checkpoint_s = timed(store.checkpoint)
        store.close()
        startup = timed(lambda: Store.open(data_dir, DEVICE, pin_params=FAST_FOR_TESTS).close())
        print(f"  after a checkpoint (outbox {outbox:,} still journalled, nothing to apply): {startup:.2f}s")
        store = Store.open(data_dir, DEVICE, pin_params=FAST_FOR_TESTS)
        store.ack([t.txn_id for t in store.outbox()])
        store.checkpoint()
        store.checkpoint()
        segments = store.journal_segments()
        store.close()
        startup = timed(lambda: Store.open(data_dir, DEVICE, pin_params=FAST_FOR_TESTS).close())
        print(
            f"  after HQ acknowledged everything and two checkpoints (segments {segments} left): {startup:.2f}s"
        )
        decode_s = timed(lambda: read_snapshot(data_dir / "snapshot.json"))
        print(f"  of which reading + decoding snapshot.json alone: {decode_s:.2f}s")

        print()
        print(f"checkpoint of {members:,} members after {big:,} txns: {checkpoint_s:.2f}s")
        sizes_mb = {p.name: p.stat().st_size / 1e6 for p in (data_dir / "snapshot.json", data_dir / "replica.sqlite")}
        print(f"  writes the rows changed since the last one to replica.sqlite ({sizes_mb['replica.sqlite']:.1f} MB) "
              f"and the rules and settings to snapshot.json ({sizes_mb['snapshot.json'] * 1000:.1f} KB)")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
