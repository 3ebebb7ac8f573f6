"""Write failures are real kernel errors, not mocks: a full tmpfs (ENOSPC) when the test may mount
one, and a file-size limit (EFBIG via RLIMIT_FSIZE) in a child process everywhere. Either way the
failing commit raises StoreWriteError, nothing changes in memory or on disk, and the store reopens
with exactly what was committed before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kiosk.store.store import StoreWriteError
from tests.store_helpers import open_store, sign_up, snapshot_of, top_up

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
