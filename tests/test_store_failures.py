"""Write failures are real kernel errors, not mocks: a full tmpfs (ENOSPC) when the test may mount
one, and a file-size limit (EFBIG via RLIMIT_FSIZE) in a child process everywhere. Either way the
failing commit raises StoreWriteError, nothing changes in memory or on disk, and the store reopens
with exactly what was committed before."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kiosk.store import files
from kiosk.store.store import StoreCorrupt, StoreWriteError
from tests.faulty_disk import CHANGES, FaultyDisk, count_calls
from tests.store_helpers import DEVICE, open_store, sign_up, snapshot_of, top_up, uid

ROOT = Path(__file__).resolve().parent.parent


def journal_bytes(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data_dir / "journal").glob("*.jnl"))}


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=256k,mode=700",
            f"kiosk-test-{uuid.uuid4().hex[:8]}",
            str(mount_point),
        ],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_changes_nothing(small_disk):
    data_dir = small_disk / "store"
    store = open_store(data_dir)
    card = sign_up(store, 1)
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:  # fill the disk, then give back a little room
        while os.write(fd, b"\1" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    filler_size = filler.stat().st_size
    os.truncate(filler, max(0, filler_size - 3 * 4096))
    committed = 0
    with pytest.raises(StoreWriteError, match="could not save"):
        for i in range(10_000):
            before = snapshot_of(store)
            on_disk = journal_bytes(data_dir)
            top_up(store, card, 1000, ref=f"P{i}")
            committed += 1
    assert committed > 0
    assert snapshot_of(store) == before
    assert journal_bytes(data_dir) == on_disk  # the partial record was cut off again
    with pytest.raises(StoreWriteError):
        store.checkpoint()
    assert snapshot_of(store) == before
    with pytest.raises(StoreWriteError):
        store.meta_put("k", "v" * 20000)
    assert store.meta_get("k") is None
    store.close()
    again = open_store(data_dir)  # still full: opening needs no space
    assert snapshot_of(again) == before
    os.unlink(filler)  # room again: the store carries on
    top_up(again, card, 1000, ref="after")
    again.checkpoint()
    again.close()
    assert open_store(data_dir).outbox_depth() == committed + 2


CHILD = r"""
import json, resource, signal, sys
from pathlib import Path
from tests.store_helpers import open_store, snapshot_of, top_up, uid
from kiosk.store.store import StoreWriteError

data_dir = Path(sys.argv[1])
store = open_store(data_dir)
card = uid(1)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
size = max(p.stat().st_size for p in (data_dir / "journal").glob("*.jnl"))
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 2000, resource.RLIM_INFINITY))
committed = 0
try:
    for i in range(1000):
        before = snapshot_of(store)
        top_up(store, card, 1000, ref=f"L{i}")
        committed += 1
except StoreWriteError as exc:
    print(json.dumps({"committed": committed, "same": snapshot_of(store) == before, "error": str(exc),
                      "state": before}))
"""


def test_file_size_limit_changes_nothing(tmp_path):
    store = open_store(tmp_path)
    sign_up(store, 1)
    store.close()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["committed"] > 0 and result["same"], result
    assert "could not save" in result["error"] and "File too large" in result["error"]
    again = open_store(tmp_path)
    assert snapshot_of(again) == result["state"]
    assert again.outbox_depth() == 1 + result["committed"]
    assert again.check() == []
    assert not again.repaired  # the partial record was cut off by the writer, not left as a torn tail
    again.close()


# -- a failing SD card, through the kiosk.store.files seam: every write of a commit and of a
# checkpoint fails in turn (disk full, I/O error), the card goes read-only, an old segment cannot be
# read, the snapshot cannot be fsync'd. Each time: a StoreError that says so, nothing committed
# lost, and once the fault clears the store works again (after a reopen at worst).


def prepared(tmp_path: Path) -> Path:
    """A store with a checkpoint behind it, acked and unacked transactions, two segments."""
    base = tmp_path / "base"
    store = open_store(base)
    card = sign_up(store, 1)
    for i in range(3):
        top_up(store, card, 1000 + i, ref=f"B{i}")
    store.ack([t.txn_id for t in store.outbox()[:2]])
    store.checkpoint()
    for i in range(2):
        top_up(store, card, 2000 + i, ref=f"C{i}")
    store.close()
    return base


def copy_of(base: Path, name: str) -> Path:
    target = base.parent / name
    shutil.copytree(base, target)
    return target


def carry_on(store, data_dir: Path, before: dict):
    """After the fault clears: commit again, reopening once if the store asks for it."""
    try:
        top_up(store, uid(1), 5000, ref="after")
    except StoreWriteError as exc:
        assert "reopening" in str(exc), exc
        store.close()
        store = open_store(data_dir)
        assert snapshot_of(store) == before
        top_up(store, uid(1), 5000, ref="after")
    assert store.ledger.state.last_seq[DEVICE] == before_high(before) + 1  # no seq handed out twice
    return store


def before_high(snap: dict) -> int:
    return snap["state"]["last_seq"][DEVICE]


def assert_reopens_with(data_dir: Path, expected: dict) -> None:
    again = open_store(data_dir)
    try:
        assert snapshot_of(again) == expected
        assert again.check() == []
    finally:
        again.close()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_fault_at_every_write_of_a_commit_loses_nothing(tmp_path, code):
    base = prepared(tmp_path)
    probe = open_store(copy_of(base, "probe"))
    calls = count_calls(lambda: top_up(probe, uid(1), 3000, ref="X"))
    probe.close()
    assert calls >= 2  # the append and its fdatasync
    for at in range(calls):
        data_dir = copy_of(base, f"at{at}")
        store = open_store(data_dir)
        before = snapshot_of(store)
        disk = FaultyDisk(code, after=at)
        with files.use(disk), pytest.raises(StoreWriteError, match=os.strerror(code)):
            top_up(store, uid(1), 3000, ref="X")
        assert disk.failed and snapshot_of(store) == before, f"fault at call {at + 1}"
        store = carry_on(store, data_dir, before)
        after = snapshot_of(store)
        store.close()
        assert_reopens_with(data_dir, after)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_fault_at_every_write_of_a_checkpoint_loses_nothing(tmp_path, code):
    base = prepared(tmp_path)
    probe = open_store(copy_of(base, "probe"))
    probe.ack([t.txn_id for t in probe.outbox()])  # so the checkpoint also drops a segment
    calls = count_calls(probe.checkpoint)
    probe.close()
    assert calls >= 8  # new segment, snapshot and its previous copy, the directory fsyncs
    for at in range(calls):
        data_dir = copy_of(base, f"at{at}")
        store = open_store(data_dir)
        store.ack([t.txn_id for t in store.outbox()])
        before = snapshot_of(store)
        disk = FaultyDisk(code, after=at)
        with files.use(disk), pytest.raises(StoreWriteError, match=os.strerror(code)):
            store.checkpoint()
        assert snapshot_of(store) == before, f"fault at call {at + 1}"
        store = carry_on(store, data_dir, before)
        store.checkpoint()
        after = snapshot_of(store)
        store.close()
        assert_reopens_with(data_dir, after)


def test_read_only_remount_refuses_every_change_by_name_and_recovers(tmp_path):
    data_dir = prepared(tmp_path)
    store = open_store(data_dir)
    before = snapshot_of(store)
    on_disk = journal_bytes(data_dir)
    read_only = FaultyDisk(errno.EROFS, kinds=CHANGES)
    with files.use(read_only):
        for step in (
            lambda: top_up(store, uid(1), 3000, ref="RO"),
            lambda: store.ack([t.txn_id for t in store.outbox()]),
            lambda: store.meta_put("k", "v"),
            store.checkpoint,
        ):
            with pytest.raises(StoreWriteError, match="Read-only file system"):
                step()
            assert snapshot_of(store) == before
        store.close()
        with pytest.raises(StoreWriteError, match="Read-only file system"):
            open_store(data_dir)  # a restart while the card is still read-only says why
    assert journal_bytes(data_dir) == on_disk
    store = open_store(data_dir)  # remounted read-write
    assert snapshot_of(store) == before
    store = carry_on(store, data_dir, before)
    after = snapshot_of(store)
    store.close()
    assert_reopens_with(data_dir, after)


def test_an_unreadable_old_segment_is_refused_by_name_and_opens_once_readable(tmp_path):
    data_dir = prepared(tmp_path)
    store = open_store(data_dir)
    expected = snapshot_of(store)
    store.close()
    with files.use(FaultyDisk(errno.EIO, kinds=frozenset({"read"}), path_contains="00000001.jnl")):
        with pytest.raises(StoreCorrupt, match=r"00000001\.jnl.*cannot be read: Input/output error"):
            open_store(data_dir)
    assert_reopens_with(data_dir, expected)


def test_a_snapshot_that_cannot_be_fsynced_keeps_the_old_one_and_commits_go_on(tmp_path):
    data_dir = prepared(tmp_path)
    store = open_store(data_dir)
    snapshot = (data_dir / "snapshot.json").read_bytes()
    failing = FaultyDisk(errno.EIO, kinds=frozenset({"sync"}), path_contains="snapshot.json.tmp")
    with files.use(failing), pytest.raises(StoreWriteError, match="could not write the snapshot"):
        store.checkpoint()
    assert failing.failed == 1
    assert (data_dir / "snapshot.json").read_bytes() == snapshot
    assert not (data_dir / "snapshot.json.tmp").exists()
    top_up(store, uid(1), 4000, ref="still")
    expected = snapshot_of(store)
    store.close()
    assert_reopens_with(data_dir, expected)
    store = open_store(data_dir)
    store.checkpoint()  # the fault cleared: checkpoints work again
    store.close()
    assert_reopens_with(data_dir, expected)


def test_a_failed_append_that_could_not_be_cut_heals_once_the_fault_clears(tmp_path):
    """The append's bytes landed, its fdatasync and the cut both failed (a card gone read-only):
    refused while the fault lasts, then cut and carried on without a reopen (a restart)."""
    data_dir = prepared(tmp_path)
    store = open_store(data_dir)
    before = snapshot_of(store)
    disk = FaultyDisk(errno.EIO, kinds=CHANGES, after=1)  # the write lands; all after it fail
    with files.use(disk):
        with pytest.raises(StoreWriteError, match=os.strerror(errno.EIO)):
            top_up(store, uid(1), 3000, ref="X")
        assert store._journal.broken
        with pytest.raises(StoreWriteError, match="reopening"):
            top_up(store, uid(1), 3000, ref="X")
        disk.clear()
        assert snapshot_of(store) == before
        top_up(store, uid(1), 4000, ref="Y")
    assert not store._journal.broken
    assert store.ledger.state.last_seq[DEVICE] == before_high(before) + 1
    after = snapshot_of(store)
    store.close()
    assert_reopens_with(data_dir, after)
