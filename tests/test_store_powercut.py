"""Power cuts, not only kills: every crash state a power cut could leave on the SD card is built
from the store's own file operations (recorded through kiosk.store.files.disk) and opened with the
real Store (see tests/crash_states.py for the two file-system models, tests/powercut_workload.py for
what is checked in each state).

Both models must open every state by themselves (no refusal: a power cut is not damage) and keep
every commit_many batch whole or absent (one journal frame per append is its commit point).

Default run: a small workload, both models, well under a minute. KIOSK_FULL=1: 1,000 commits and
20 checkpoints. Each run prints the workload, crash states and violations."""

from __future__ import annotations

import os

import pytest

from kiosk.store import files, journal
from kiosk.store.files import write_all
from tests.powercut_workload import explore, run_workload, summary

FULL = os.environ.get("KIOSK_FULL") == "1"
COMMITS, CHECKPOINTS = (1000, 20) if FULL else (40, 4)


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    return run_workload(tmp_path_factory.mktemp("powercut"), COMMITS, CHECKPOINTS)


def _show(report, work) -> None:
    print("\n" + summary([report], work))
    if report.refused:
        print(f"  refused (named): {dict(report.refused)}")
        for example in report.refusal_examples:
            print(f"  e.g. {example}")
    for problem in report.violations[:20]:
        print(f"  VIOLATION {problem}")


def test_every_ext4_ordered_crash_state_opens_with_exactly_what_was_committed(workload):
    report = explore(workload, "ordered")
    _show(report, workload)
    assert report.images > workload.commits  # at least every commit's write was cut somewhere
    assert report.violations == []
    assert not report.refused, "after a power cut on ext4 the kiosk must come back by itself"
    assert report.split_batches == 0, "a commit_many batch must be whole or absent"


def test_every_strict_crash_state_opens_right_or_refuses_by_name(workload):
    report = explore(workload, "strict")
    _show(report, workload)
    assert report.candidates > report.images > workload.commits
    assert report.violations == []
    assert not report.refused, "a torn, unfinished append must be cut, not refused"
    assert report.split_batches == 0, "a commit_many batch must be whole or absent"


def test_the_explorer_finds_a_commit_that_returned_before_its_fdatasync(tmp_path, monkeypatch):
    """The explorer must be able to fail: a journal that forgets its fdatasync loses commits."""

    def append_without_sync(self, payloads):
        data = b"".join(journal.encode_record(p) for p in payloads)
        write_all(self._fd, data)
        self._end += len(data)

    monkeypatch.setattr(journal.Journal, "append", append_without_sync)
    work = run_workload(tmp_path, 12, 1)
    monkeypatch.undo()
    report = explore(work, "ordered")
    assert any("had returned, the store opened at" in v for v in report.violations), report.line()


def _append_frame_per_record(self, payloads):
    """The format-1 journal's append: several records of one append as separate frames."""
    data = b"".join(journal.encode_record(p) for p in payloads)
    try:
        write_all(self._fd, data)
        files.disk.fdatasync(self._fd)
    except OSError as exc:
        self._roll_back(exc)
        raise journal.JournalWriteError(exc.errno, str(exc)) from exc
    self._end += len(data)


def test_the_explorer_finds_batches_split_by_a_frame_per_record_journal(tmp_path, monkeypatch):
    """The batch assertions must be able to fail: the old journal (a frame per record, no commit
    point per append) leaves part of a batch durable, and refuses some strict states (the strict
    model's states include the ordered model's cut writes, so it alone shows both)."""
    monkeypatch.setattr(journal.Journal, "append", _append_frame_per_record)
    work = run_workload(tmp_path, COMMITS, CHECKPOINTS)
    strict = explore(work, "strict")
    monkeypatch.undo()
    print("\nold journal: " + summary([strict], work))
    assert strict.split_batches > 0, "no batch found partly durable"
    assert strict.refused, "a zeroed sector before a whole record of the same append was refused"
