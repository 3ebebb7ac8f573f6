"""Fuzzing the store's two parsers of bytes from disk: whatever a damaged SD card holds, opening
either works (and then only ever loses a torn tail) or refuses with StoreCorrupt; nothing else."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.store.journal import JournalCorrupt, read_segment
from kiosk.store.snapshot import SnapshotError, read_snapshot
from kiosk.store.store import StoreCorrupt
from tests.store_helpers import DEVICE, open_store, sign_up, snapshot_of, top_up


@pytest.fixture(scope="module")
def pristine():
    """A store with a snapshot and a journal segment after it, closed."""
    root = Path(tempfile.mkdtemp(prefix="kiosk-fuzz-"))
    store = open_store(root)
    card = sign_up(store, 1)
    top_up(store, card, 50000)
    store.checkpoint()
    for i in range(3):
        top_up(store, card, 1000 + i, ref=f"P{i}")
    store.ack([f"{DEVICE}:1"])
    expected = snapshot_of(store)
    store.close()
    yield root, expected
    shutil.rmtree(root, ignore_errors=True)


def mutated(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits, cut=st.none() | st.integers(0, 4000))
def test_damaged_journal_opens_or_is_refused(pristine, edits, cut):
    root, expected = pristine
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "store"
        shutil.copytree(root, data_dir)
        path = data_dir / "journal" / "00000002.jnl"
        original = path.read_bytes()
        damaged = mutated(original, edits, cut)
        path.write_bytes(damaged)
        try:
            read_segment(path, 2, last=True)
        except JournalCorrupt as exc:
            assert exc.path == path
        try:
            store = open_store(data_dir)
        except StoreCorrupt as exc:
            assert str(path) in str(exc)
            assert path.read_bytes() == damaged  # refused and left as found
            event("refused")
            return
        event("opened")
        with store:
            got = snapshot_of(store)
            # whatever survived is a prefix of what was written: never a changed record
            assert original.startswith(path.read_bytes())
            # a lost tail may lose commits or an ack (HQ then gets a txn again; it applies ids once)
            assert set(got["outbox"]) <= {f"{DEVICE}:{n}" for n in range(1, 6)}
            assert got["state"]["last_seq"][DEVICE] <= expected["state"]["last_seq"][DEVICE]
            assert store.check() == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits.filter(bool), cut=st.none() | st.integers(0, 10**5))
def test_damaged_snapshot_is_refused(pristine, edits, cut):
    root, expected = pristine
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "store"
        shutil.copytree(root, data_dir)
        path = data_dir / "snapshot.json"
        original = path.read_bytes()
        damaged = mutated(original, edits, cut)
        path.write_bytes(damaged)
        try:
            read_snapshot(path)
        except SnapshotError:
            pass
        try:
            store = open_store(data_dir)
        except StoreCorrupt as exc:
            assert str(path) in str(exc)
            assert path.read_bytes() == damaged
            return
        with store:  # only an edit that changes no content (same byte, JSON whitespace) may open
            assert snapshot_of(store) == expected
