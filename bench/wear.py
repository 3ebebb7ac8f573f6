"""Bytes the store writes to the SD card per transaction and per checkpoint (write amplification).

    python bench/wear.py            # 1,000 members, 2,000 top-ups (well under a minute)
    python bench/wear.py --full     # 10,000 members, 20,000 top-ups

Every file call goes through kiosk.store.files.disk; a RecordingDisk counts what the store asks for.
Against the transaction's own size (its compact JSON, as the journal encodes it) it prints:
  logical   bytes handed to write() (record header + JSON + the record's {"t":"txn"} wrapper)
  pages     4 KiB pages each fsync/fdatasync must write (an append re-writes its last, partly
            filled page every time): what the file system sends to the card, journal blocks aside
  io        /proc/self/io write_bytes over the same commits (pages dirtied, counted by the kernel:
            the cross-check of `pages`; 0 on tmpfs, so use --dir on the card's file system)
and what a checkpoint writes (the snapshot, the new segment), also spread over the
CHECKPOINT_EVERY records that trigger one. Not counted: ext4's own journal blocks (a few per
fdatasync that grows the file) and the card's erase-block amplification, which no host can see."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.ledger.operations import Ledger  # noqa: E402
from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.txn import txn_to_dict  # noqa: E402
from kiosk.store import files  # noqa: E402
from kiosk.store.recording import Op, RecordingDisk  # noqa: E402
from kiosk.store.store import CHECKPOINT_EVERY, Store  # noqa: E402

DEVICE = "BENCH-1"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
PAGE = 4096
ACK_EVERY = 10  # HQ acknowledges in small batches while online


def txn_size(txn) -> int:
    return len(json.dumps(txn_to_dict(txn), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode())


def page_bytes(log: list[Op]) -> int:
    """Pages each sync must write: every 4 KiB page dirtied since that file's last sync."""
    dirty: dict[int, set[int]] = {}
    total = 0
    for op in log:
        if op.kind == "write" and op.size:
            pages = range(op.offset // PAGE, (op.offset + op.size - 1) // PAGE + 1)
            dirty.setdefault(op.inode, set()).update(pages)
        elif op.kind == "sync":
            total += len(dirty.pop(op.inode, ())) * PAGE
    return total


def io_write_bytes() -> int | None:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def build(data_dir: Path, members: int) -> tuple[Store, list[str]]:
    """Members signed up in batches (one fsync each), acknowledged and checkpointed."""
    store = Store.open(data_dir, DEVICE, pepper=b"bench", pin_params=FAST_FOR_TESTS)
    scratch = Ledger(store.ledger.state.copy(), store.ledger.rules, DEVICE, b"bench", FAST_FOR_TESTS)
    cards = [f"{0x04000000 + n:08X}" for n in range(members)]
    for start in range(0, members, 500):
        batch = []
        for n in range(start, min(members, start + 500)):
            txn = scratch.sign_up(cards[n], 1, f"138{n:08d}", "246813", T0, name=f"M{n}")
            scratch.state.apply(txn)
            batch.append(txn)
        store.commit_many(batch)
    store.ack([t.txn_id for t in store.outbox()])
    store.checkpoint()
    return store, cards


def measure(directory: Path, members: int, commits: int) -> dict:
    store, cards = build(directory / "store", members)
    recorder = RecordingDisk(directory, keep_data=False)
    own = 0
    io_before = io_write_bytes()
    started = time.monotonic()
    with files.use(recorder):
        for i in range(commits):
            txn = store.ledger.top_up(cards[i % len(cards)], 10_000, f"PAY-{i}", T0 + timedelta(seconds=i))
            own += txn_size(txn)
            store.commit(txn)
    took = time.monotonic() - started
    io_after = io_write_bytes()
    commit_log = list(recorder.log)
    recorder.log.clear()
    with files.use(recorder):
        outbox = [t.txn_id for t in store.outbox()]
        for i in range(0, len(outbox), ACK_EVERY):
            store.ack(outbox[i : i + ACK_EVERY])
    ack_log = list(recorder.log)
    recorder.log.clear()
    with files.use(recorder):
        store.checkpoint()
    checkpoint_log = list(recorder.log)
    store.close()
    return {
        "commits": commits,
        "members": members,
        "own": own,
        "seconds": took,
        "logical": sum(op.size for op in commit_log if op.kind == "write"),
        "pages": page_bytes(commit_log),
        "syncs": sum(op.kind == "sync" for op in commit_log),
        "io": None if io_before is None or io_after is None else io_after - io_before,
        "ack_logical": sum(op.size for op in ack_log if op.kind == "write"),
        "ack_pages": page_bytes(ack_log),
        "checkpoint_logical": sum(op.size for op in checkpoint_log if op.kind == "write"),
        "checkpoint_pages": page_bytes(checkpoint_log),
        "checkpoint_syncs": sum(op.kind in ("sync", "dirsync") for op in checkpoint_log),
        "checkpoint_renames": sum(op.kind in ("rename", "link", "unlink") for op in checkpoint_log),
    }


def report(r: dict) -> None:
    n, own = r["commits"], r["own"] / r["commits"]
    print(f"{n:,} top-ups on a store of {r['members']:,} members ({r['seconds']:.1f} s); txn's own size {own:.0f} B")
    head = f"{'per transaction':<34}{'bytes':>10}{'x own size':>12}"
    print(head)
    print("-" * len(head))
    rows = [
        ("commit: logical (write())", r["logical"] / n),
        ("commit: 4 KiB pages synced", r["pages"] / n),
        ("ack (1 record per 10 txns)", r["ack_pages"] / n),
        (f"checkpoint share (1 per {CHECKPOINT_EVERY} rec)", r["checkpoint_pages"] / CHECKPOINT_EVERY),
    ]
    if r["io"]:
        rows.insert(2, ("commit: /proc/self/io write_bytes", r["io"] / n))
    for name, value in rows:
        print(f"{name:<34}{value:>10,.0f}{value / own:>11.1f}x")
    total = (r["pages"] + r["ack_pages"]) / n + r["checkpoint_pages"] / CHECKPOINT_EVERY
    print(f"{'total to the card':<34}{total:>10,.0f}{total / own:>11.1f}x")
    print(f"fdatasyncs per commit: {r['syncs'] / n:.2f}")
    if r["io"] is None or r["io"] == 0:
        print("/proc/self/io write_bytes: not counted here (tmpfs or no /proc); pass --dir on a real disk")
    else:
        print(f"cross-check: write_bytes / page model = {r['io'] / r['pages']:.2f}")
    print()
    print(f"one checkpoint of {r['members']:,} members:")
    print(f"  logical {r['checkpoint_logical']:,} B, pages synced {r['checkpoint_pages']:,} B "
          f"({r['checkpoint_pages'] / own:,.0f}x one txn), {r['checkpoint_syncs']} fsyncs, "
          f"{r['checkpoint_renames']} renames/links/unlinks")
    per_day = 2000 * total
    print(f"at 2,000 transactions a day: {per_day / 1e6:.1f} MB/day, {per_day * 365 / 1e9:.2f} GB/year to the card")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10,000 members, 20,000 top-ups")
    parser.add_argument("--dir", type=Path, help="where to put the store (default: a temp dir)")
    args = parser.parse_args()
    members, commits = (10_000, 20_000) if args.full else (1000, 2000)
    directory = Path(tempfile.mkdtemp(prefix="wear-", dir=args.dir))
    try:
        report(measure(directory, members, commits))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
