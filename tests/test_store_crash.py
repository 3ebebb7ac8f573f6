"""Crash test: a real child process commits in a loop and is killed with SIGKILL at random
moments (while committing, acking, checkpointing, and while opening the store), at least 200
times by default (KIOSK_CRASH_KILLS to change). After every kill the store must open and hold:

- every top-up the child reported as committed ("C" line), exactly once;
- nothing else, except the one top-up in flight ("W" line without its "C"), which is
  "possibly committed": on disk = reported, or reported + the in-flight one, and then it is whole.
  Formally: reported ⊆ on disk ⊆ reported ∪ {in flight}, checked through the device high-water mark,
  the sum of balances (each amount is random) and the journal's record ids;
- an outbox of exactly the durable top-ups minus those whose ack returned (an ack in flight
  may or may not have landed).

Some rounds also append a torn record to the journal, as a power cut mid-append leaves it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kiosk.store.journal import encode_record, read_segment, segment_numbers
from tests.store_helpers import open_store, sign_up

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "store_crash_child.py"
KILLS = int(os.environ.get("KIOSK_CRASH_KILLS", "200"))
MEMBERS = 80  # enough that a snapshot takes a few milliseconds to write
DEVICE = "K1"


def parse(lines: list[str]) -> dict:
    out = {"committed": {}, "in_flight": None, "acked": set(), "ack_in_flight": set(), "ready": False}
    checkpoint_open = False
    for line in lines:
        tag, _, rest = line.partition(" ")
        if tag == "R":
            out["ready"] = True
        elif tag == "W":
            seq, amount = map(int, rest.split())
            out["in_flight"] = (seq, amount)
        elif tag == "C":
            seq, amount = map(int, rest.split())
            assert out["in_flight"] == (seq, amount)
            out["committed"][seq] = amount
            out["in_flight"] = None
        elif tag == "a":
            out["ack_in_flight"] = set(rest.split(","))
        elif tag == "A":
            out["acked"] |= set(rest.split(","))
            out["ack_in_flight"] = set()
        elif tag == "K":
            checkpoint_open = True
        elif tag == "k":
            checkpoint_open = False
    out["in_checkpoint"] = checkpoint_open
    return out


def journal_txn_ids(data_dir: Path) -> list[str]:
    journal = data_dir / "journal"
    numbers = segment_numbers(journal)
    ids = []
    for n in numbers:
        segment = read_segment(journal / f"{n:08d}.jnl", n, last=n == numbers[-1])
        ids += [r["txn"]["txn_id"] for r in segment.records if r["t"] == "txn"]
    return ids


def damaged_count(data_dir: Path) -> int:
    damaged = data_dir / "journal" / "damaged"
    return len(list(damaged.iterdir())) if damaged.exists() else 0


def total_balance(store) -> int:
    return sum(a.balance_fen for a in store.ledger.state.accounts.values())


def inject_torn_record(data_dir: Path, rng: random.Random) -> None:
    """A power cut during an append: only a prefix of the record reached the disk."""
    journal = data_dir / "journal"
    last = segment_numbers(journal)[-1]
    record = encode_record({"t": "txn", "txn": {"txn_id": "K1:999999", "torn": "x" * 200}})
    with open(journal / f"{last:08d}.jnl", "ab") as f:
        f.write(record[: rng.randrange(1, len(record))])


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    rng = random.Random(int(os.environ.get("KIOSK_CRASH_SEED", "20261123")))
    data_dir = tmp_path / "store"
    store = open_store(data_dir)
    for n in range(MEMBERS):
        sign_up(store, n)
    store.ack([t.txn_id for t in store.outbox()])
    store.checkpoint()
    model: dict[int, int] = {}  # seq -> amount of every top-up known durable
    base_balance = total_balance(store)
    high = store.ledger.state.last_seq[DEVICE]
    first_topup = high + 1
    acked: set[str] = set()
    store.close()

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    moments: Counter[str] = Counter()
    started = time.monotonic()
    for round_no in range(KILLS):
        torn = rng.random() < 0.1
        damaged_before = damaged_count(data_dir)
        if torn:
            inject_torn_record(data_dir, rng)
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(data_dir), str(round_no)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,  # unbuffered: communicate() must see every byte readline() did not take
        )
        mode = rng.random()
        lines: list[str] = []
        if mode < 0.12:
            time.sleep(rng.uniform(0.0, 0.25))  # anywhere, often while the store opens
        else:
            wanted = "K" if mode < 0.35 else "R"
            while True:
                line = child.stdout.readline().decode()
                assert line.endswith("\n"), f"child ended early: {child.stderr.read().decode()[-2000:]}"
                lines.append(line[:-1])
                if line.split(" ")[0].strip() == wanted:
                    break
            time.sleep(rng.uniform(0.0, 0.004 if wanted == "K" else 0.05))
        child.send_signal(signal.SIGKILL)
        rest, err = child.communicate()
        assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
        lines += rest.decode().split("\n")[:-1]  # a last line without its newline was never said
        got = parse(lines)
        moments["checkpoint" if got["in_checkpoint"] else "open" if not got["ready"] else "commit loop"] += 1

        store = open_store(data_dir)
        try:
            if torn:  # cut off and kept aside, by the child's open or by ours
                assert damaged_count(data_dir) > damaged_before, "the torn record was not kept aside"
                moments["torn tail injected"] += 1
            on_disk = store.ledger.state.last_seq[DEVICE]
            reported = got["committed"]
            assert all(seq <= on_disk for seq in reported), "a reported commit is missing"
            known = max([high, *reported])
            in_flight = got["in_flight"][0] if got["in_flight"] else None
            assert on_disk in (known, in_flight), f"on disk up to {on_disk}, reported up to {known}"
            model.update(reported)
            if got["in_flight"] and on_disk == got["in_flight"][0]:
                model[on_disk] = got["in_flight"][1]  # possibly committed, and it was: whole
                moments["in-flight commit found durable"] += 1
            high = on_disk
            assert sorted(model) == list(range(first_topup, high + 1))
            assert total_balance(store) == base_balance + sum(model.values())

            ids = journal_txn_ids(data_dir)
            assert len(ids) == len(set(ids)), "a transaction is in the journal twice"
            acked |= got["acked"]
            outbox = {t.txn_id for t in store.outbox()}
            expected = {f"{DEVICE}:{seq}" for seq in model} - acked
            uncertain = got["ack_in_flight"]
            assert expected - uncertain <= outbox <= expected
            acked |= expected - outbox  # an ack in flight that did land
            assert store.check() == []
        finally:
            store.close()

    elapsed = time.monotonic() - started
    print(f"\n{KILLS} kills in {elapsed:.0f}s, {len(model)} durable top-ups; kill moments: {dict(moments)}")
    assert moments["checkpoint"] >= KILLS // 20, f"too few kills landed in a checkpoint: {moments}"
    assert len(model) > KILLS
