"""A torn write and a corrupted committed record are told apart (issue 17, defect 2).

A power cut can only tear the last append, whose fdatasync had not returned: its bytes end
short or read as zeros where sectors were never written. A flipped byte in a record that was
acknowledged as committed, even the newest segment's last one, is a refusal naming the file
and the byte, never a quiet cut (it used to be cut and kept aside 20 times out of 20)."""

from __future__ import annotations

import random

import pytest

from kiosk.store.errors import StoreCorrupt
from kiosk.store.journal import HEADER, MAGIC, SECTOR, encode_record
from tests.store_helpers import later, open_store, sign_up, top_up


def _store_with_five_top_ups(data_dir):
    with open_store(data_dir) as store:
        card = sign_up(store, 1)
        for i in range(5):
            top_up(store, card, 10_000, later(i + 1), ref=f"P{i}")
        (segment,) = store.journal_segments()
    return data_dir / "journal" / f"{segment:08d}.jnl"


def _last_record_start(data: bytes) -> int:
    offset, last = len(MAGIC), len(MAGIC)
    while offset < len(data):
        last = offset
        offset += HEADER.size + HEADER.unpack_from(data, offset)[0]
    return last


@pytest.mark.parametrize("trial", range(20))
def test_a_flipped_byte_in_the_last_committed_record_is_refused_not_cut(tmp_path, trial):
    path = _store_with_five_top_ups(tmp_path)
    data = bytearray(path.read_bytes())
    start = _last_record_start(bytes(data))
    at = random.Random(trial).randrange(start + HEADER.size, len(data))
    data[at] ^= 1 << random.Random(-trial).randrange(8)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt) as caught:
        open_store(tmp_path)
    assert str(path) in str(caught.value) and f"at byte {start}" in str(caught.value)
    assert "committed record" in str(caught.value)
    assert path.read_bytes() == bytes(data)  # left exactly as found
    assert not (tmp_path / "journal" / "damaged").exists()


def test_a_flipped_header_byte_of_the_last_record_is_refused(tmp_path):
    path = _store_with_five_top_ups(tmp_path)
    data = bytearray(path.read_bytes())
    start = _last_record_start(bytes(data))
    data[start + 2] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match="header checksum"):
        open_store(tmp_path)


def _append_torn(path, payloads, keep) -> bytes:
    """Append records whose bytes only partly reached the disk: `keep(raw)` says what did."""
    raw = b"".join(encode_record(p) for p in payloads)
    with open(path, "ab") as f:
        f.write(keep(raw))
    return raw


def _top_up_record(n: int) -> dict:
    return {"t": "meta", "k": f"k{n}", "v": "x" * 700}  # spans more than one sector


@pytest.mark.parametrize(
    "shape",
    ["cut-short", "last-sector-unwritten", "middle-sector-unwritten", "first-bytes-only-then-zeros"],
)
def test_the_shapes_a_power_cut_leaves_are_cut_as_a_torn_tail(tmp_path, shape):
    path = _store_with_five_top_ups(tmp_path)
    good_size = path.stat().st_size

    def keep(raw: bytes) -> bytes:
        if shape == "cut-short":
            return raw[: len(raw) // 2 + 100]
        if shape == "last-sector-unwritten":
            return raw[:-100] + bytes(100)
        if shape == "middle-sector-unwritten":
            hole_start = SECTOR - good_size % SECTOR  # the second sector the append touched
            return raw[:hole_start] + bytes(SECTOR) + raw[hole_start + SECTOR :]
        first = SECTOR - good_size % SECTOR  # only the part in the already-started sector made it
        return raw[:first] + bytes(len(raw) - first)

    raw = _append_torn(path, [_top_up_record(1), _top_up_record(2)], keep)
    with open_store(tmp_path) as store:
        assert store.outbox_depth() == 6
        assert len(store.repaired) == 1
        assert store.meta_get("k2") is None  # the torn record is gone, nothing made up
        whole_first = store.meta_get("k1") is not None
    first_size = len(encode_record(_top_up_record(1)))
    assert path.stat().st_size == good_size + (first_size if whole_first else 0) < good_size + len(raw)


def test_a_zeroed_record_followed_by_a_whole_one_is_refused(tmp_path):
    """Zeros then a whole, checksummed record: the damaged one was written before a later
    append, so it was committed; cutting would drop committed records."""
    path = _store_with_five_top_ups(tmp_path)
    with open(path, "ab") as f:
        damaged = bytearray(encode_record(_top_up_record(1)))
        damaged[40:60] = bytes(20)
        f.write(bytes(damaged) + encode_record(_top_up_record(2)))
    with pytest.raises(StoreCorrupt, match="committed record"):
        open_store(tmp_path)
