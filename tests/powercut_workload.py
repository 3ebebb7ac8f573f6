"""The crash-state explorer's workload and checker (see tests/crash_states.py for the models).

The workload runs a real Store through a RecordingDisk: sign-ups, top-ups one at a time and in
batches (commit_many), acks of part of the outbox, checkpoints (which drop acknowledged segments)
and one close + reopen. It marks in the log when each commit and ack was called and when it
returned, and keeps the ledger state expected after exactly the first h transactions for every h.

Each distinct crash image is written to a scratch directory and opened with the real Store:
- it opens, or refuses with StoreCorrupt naming a file (any other exception is a violation);
- if it opens at high-water h: every commit that had returned is there (h >= the last returned
  seq), nothing that had not been called is (h <= the last called seq), and the state is exactly
  the state after transactions 1..h, each once; no transaction id twice in the journal;
- the outbox is transactions 1..h minus acks: an ack that had returned is gone, one not yet
  called is not; `check()` finds nothing;
- the next commit gets seq h+1 (never one already handed out) and is there after a reopen."""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.store import files
from kiosk.store.errors import StoreCorrupt, StoreError
from kiosk.store.journal import read_segment, segment_numbers
from kiosk.store.recording import Op, RecordingDisk
from tests.crash_states import Candidate, ordered_candidates, strict_candidates
from tests.store_helpers import DEVICE, T0, later, open_store, uid

STORE = "store"


@dataclass
class Workload:
    log: list[Op]
    expected: list[str]  # canonical state JSON after transactions 1..h, index h
    batches: list[tuple[int, int]]  # (first, last) seq of each commit_many of more than one txn
    commits: int
    checkpoints: int
    acks: int
    # per log position: last seq called / returned before it
    called: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)
    ack_called_at: dict[str, int] = field(default_factory=dict)
    ack_returned_at: dict[str, int] = field(default_factory=dict)

    def index(self) -> None:
        called = returned = 0
        for position, op in enumerate(self.log):
            self.called.append(called)
            self.returned.append(returned)
            if op.kind != "mark":
                continue
            what, *rest = op.note
            if what == "commit":
                called = max(called, *rest)
            elif what == "committed":
                returned = max(returned, *rest)
            elif what == "ack":
                self.ack_called_at.update((i, position) for i in rest)
            elif what == "acked":
                self.ack_returned_at.update((i, position) for i in rest)
        self.called.append(called)
        self.returned.append(returned)


def without_lock(log: list[Op]) -> list[Op]:
    """The lock file only names its holder for messages and is never trusted, so its writes are
    left out of the crash states (they would multiply them without testing anything)."""
    lock = {op.inode for op in log if op.kind in ("create", "adopt") and op.path == f"{STORE}/lock"}
    return [op for op in log if op.inode not in lock or op.kind in ("mark", "dirsync", "mkdir")]


def canonical(state) -> str:
    return json.dumps(state_to_dict(state), sort_keys=True)


def run_workload(root: Path, commits: int, checkpoints: int, seed: int = 17) -> Workload:
    """Run the store under a recorder; `commits` transactions in all, `checkpoints` spread evenly."""
    rng = random.Random(seed)
    recorder = RecordingDisk(root)
    batches: list[tuple[int, int]] = []
    acks = 0
    with files.use(recorder):
        store = open_store(root / STORE)
        scratch = Ledger(store.ledger.state.copy(), store.ledger.rules, DEVICE, b"test-pepper", FAST_FOR_TESTS)
        expected = [canonical(scratch.state)]
        cards: list[str] = []
        every = max(1, commits // max(1, checkpoints))
        done = 0
        reopened = False

        def commit(txns: list) -> None:
            seqs = [t.seq for t in txns]
            recorder.mark("commit", *seqs)
            store.commit_many(txns)
            recorder.mark("committed", *seqs)
            if len(txns) > 1:
                batches.append((seqs[0], seqs[-1]))

        while done < commits:
            size = 1 if len(cards) < 3 or rng.random() < 0.9 else min(commits - done, rng.randrange(2, 4))
            txns = []
            for _ in range(size):
                if len(cards) < 3:
                    n = len(cards) + 1
                    txn = scratch.sign_up(uid(n), 1, f"138{n:08d}", "246813", T0, name=f"M{n}")
                    cards.append(uid(n))
                else:
                    amount = rng.randrange(1000, 100_000)
                    txn = scratch.top_up(rng.choice(cards), amount, f"P{done}", later(done))
                scratch.state.apply(txn)
                expected.append(canonical(scratch.state))
                txns.append(txn)
            commit(txns)
            done += size
            if rng.random() < 0.2 and store.outbox_depth():
                outbox = [t.txn_id for t in store.outbox()]
                ids = outbox if rng.random() < 0.5 else outbox[: rng.randrange(1, len(outbox) + 1)]
                recorder.mark("ack", *ids)
                store.ack(ids)
                recorder.mark("acked", *ids)
                acks += 1
            if done // every > (done - size) // every and checkpoints:
                recorder.mark("checkpoint")
                store.checkpoint()
                recorder.mark("checkpointed")
            if not reopened and done >= commits // 2:
                reopened = True
                store.close()
                recorder.mark("reopen")
                store = open_store(root / STORE)
        assert canonical(store.ledger.state) == expected[-1]
        store.close()
    work = Workload(without_lock(recorder.log), expected, batches, commits, checkpoints, acks)
    work.index()
    return work


@dataclass(frozen=True)
class Facts:
    """What a crash image opened as."""

    refused: str = ""
    error: str = ""
    high: int = 0
    state: str = ""
    outbox: frozenset = frozenset()
    journal_dupes: tuple = ()
    problems: tuple = ()
    next_problem: str = ""


def open_image(data_dir: Path) -> Facts:
    try:
        store = open_store(data_dir)
    except StoreCorrupt as exc:
        return Facts(refused=f"{Path(exc.path).name}: {exc.problem}")
    except Exception as exc:  # noqa: BLE001 - anything but a named refusal is what we look for
        return Facts(error=f"{type(exc).__name__}: {exc}")
    try:
        high = store.ledger.state.last_seq.get(DEVICE, 0)
        facts = dict(
            high=high,
            state=canonical(store.ledger.state),
            outbox=frozenset(t.txn_id for t in store.outbox()),
            journal_dupes=tuple(journal_dupes(data_dir)),
            problems=tuple(store.check()),
        )
        txn = store.ledger.sign_up(uid(900), 1, "13900000900", "246813", T0, name="after")
        store.commit(txn)
    except Exception as exc:  # noqa: BLE001
        return Facts(error=f"after open: {type(exc).__name__}: {exc}")
    finally:
        store.close()
    next_problem = "" if txn.seq == high + 1 else f"next commit got seq {txn.seq}, not {high + 1}"
    try:
        again = open_store(data_dir)
    except StoreError as exc:
        return Facts(**facts, next_problem=f"reopen after the next commit refused: {exc}")
    with again:
        if again.ledger.state.last_seq.get(DEVICE, 0) != high + 1:
            next_problem = "the commit made after the power cut is not there after a reopen"
    return Facts(**facts, next_problem=next_problem)


def journal_dupes(data_dir: Path) -> list[str]:
    journal = data_dir / "journal"
    numbers = segment_numbers(journal)
    seen: Counter[str] = Counter()
    for n in numbers:
        segment = read_segment(journal / f"{n:08d}.jnl", n, last=n == numbers[-1])
        seen.update(r["txn"]["txn_id"] for r in segment.records if r.get("t") == "txn")
    return [i for i, c in seen.items() if c > 1]


def violations(work: Workload, facts: Facts, lo: int, hi: int) -> list[str]:
    if facts.refused:
        return []
    if facts.error:
        return [f"did not open cleanly: {facts.error}"]
    out = []
    h, must, may = facts.high, work.returned[hi], work.called[lo]
    if h < must:
        out.append(f"commits up to seq {must} had returned, the store opened at {h}")
    if h > may:
        out.append(f"opened at seq {h}, only {may} had been called")
    if h < len(work.expected) and facts.state != work.expected[h] and must <= h <= may:
        out.append(f"state at seq {h} is not the state after transactions 1..{h}")
    own = {f"{DEVICE}:{s}" for s in range(1, h + 1)}
    if not facts.outbox <= own:
        out.append(f"outbox holds transactions not committed: {sorted(facts.outbox - own)[:3]}")
    gone = own - facts.outbox
    acked = {i for i in own if work.ack_returned_at.get(i, len(work.log) + 1) < hi}
    unacked = {i for i in own if work.ack_called_at.get(i, len(work.log) + 1) >= lo}
    if acked - gone:
        out.append(f"acknowledged but back in the outbox: {sorted(acked - gone)[:3]}")
    if gone & unacked:
        out.append(f"missing from the outbox, never acknowledged: {sorted(gone & unacked)[:3]}")
    if facts.journal_dupes:
        out.append(f"in the journal twice: {list(facts.journal_dupes)[:3]}")
    out += [f"check(): {p}" for p in facts.problems]
    if facts.next_problem:
        out.append(facts.next_problem)
    return out


@dataclass
class Report:
    model: str
    crash_points: int = 0
    candidates: int = 0
    images: int = 0
    opened: int = 0
    refused: Counter = field(default_factory=Counter)
    split_batches: int = 0
    violations: list[str] = field(default_factory=list)
    refusal_examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        refused = sum(self.refused.values())
        return (
            f"{self.model}: {self.crash_points} crash points, {self.candidates} crash states, "
            f"{self.images} distinct disk images opened ({self.opened} opened, {refused} refused), "
            f"{self.split_batches} states with a commit_many batch partly durable, "
            f"{len(self.violations)} violations"
        )


def explore(work: Workload, model: str, scratch: Path | None = None) -> Report:
    make = {"ordered": ordered_candidates, "strict": strict_candidates}[model]
    report = Report(model)
    cache: dict[str, Facts] = {}
    points: set[int] = set()
    base = Path(tempfile.mkdtemp(prefix="powercut-", dir=scratch or _scratch_root()))
    try:
        for candidate in make(work.log):
            report.candidates += 1
            points.add(candidate.lo)
            facts = _facts(candidate, cache, base, report)
            if any(first <= facts.high < last for first, last in work.batches) and not facts.refused:
                report.split_batches += 1
            if facts.refused and len(report.refusal_examples) < 5:
                report.refusal_examples.append(f"{facts.refused} [{candidate.how}; {_where(work, candidate)}]")
            for problem in violations(work, facts, candidate.lo, candidate.hi):
                report.violations.append(f"{problem} [{candidate.how}; {_where(work, candidate)}]")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report.crash_points = len(points)
    return report


def _facts(candidate: Candidate, cache: dict[str, Facts], base: Path, report: Report) -> Facts:
    key = candidate.image.key()
    if key in cache:
        return cache[key]
    report.images += 1
    where = base / str(report.images)
    candidate.image.materialize(where)
    (where / STORE).mkdir(parents=True, exist_ok=True)
    facts = open_image(where / STORE)
    shutil.rmtree(where, ignore_errors=True)
    if facts.refused:
        report.refused[re.sub(r"\d+", "N", facts.refused)] += 1
    else:
        report.opened += 1
    cache[key] = facts
    return facts


def _where(work: Workload, candidate: Candidate) -> str:
    marks = [op.note for op in work.log[: candidate.lo] if op.kind == "mark"]
    last = marks[-1] if marks else ("start",)
    return f"log position {candidate.lo}..{candidate.hi}, after mark {last[0]} {last[1:3]}"


def _scratch_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and _writable(shm) else None


def _writable(path: Path) -> bool:
    try:
        with tempfile.TemporaryDirectory(dir=path):
            return True
    except OSError:
        return False


def summary(reports: Iterable[Report], work: Workload) -> str:
    head = (
        f"workload: {work.commits} commits ({len(work.batches)} batches), {work.checkpoints} checkpoints, "
        f"{work.acks} acks, 1 reopen, {len(work.log)} logged operations"
    )
    return "\n".join([head, *(r.line() for r in reports)])
