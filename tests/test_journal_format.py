"""Journal format 2: one frame per append, the append's commit point (issue 17).

A commit_many batch is one frame, so a power cut leaves it whole or absent, and an unfinished
batch with a zeroed sector before a whole record of its own is cut as the torn tail it is. A
damaged frame that a later append follows was committed: refused, naming file and byte.
Format-1 segments (one frame per record) are still read, and never appended to."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.store import files, journal
from kiosk.store.errors import StoreCorrupt
from kiosk.store.files import Disk
from kiosk.store.journal import (
    HEADER,
    MAGIC,
    MAGIC_V1,
    SECTOR,
    JournalCorrupt,
    encode_append,
    encode_record,
    read_segment,
)
from tests.store_helpers import DEVICE, later, open_store, sign_up, top_up, uid


def _meta(n: int, size: int = 300) -> dict:
    return {"t": "meta", "k": f"k{n}", "v": "x" * size}


def _store(data_dir, top_ups: int = 2):
    with open_store(data_dir) as store:
        card = sign_up(store, 1)
        for i in range(top_ups):
            top_up(store, card, 10_000, later(i + 1), ref=f"P{i}")
        (segment,) = store.journal_segments()
    return data_dir / "journal" / f"{segment:08d}.jnl"


def test_a_batch_is_one_frame_and_reads_back_as_its_records(tmp_path):
    path = tmp_path / "00000001.jnl"
    records = [_meta(1), _meta(2), {"t": "ack", "ids": ["K1:1"]}]
    path.write_bytes(MAGIC + encode_append(records) + encode_append([_meta(3)]))
    assert read_segment(path, 1, last=True).records == [*records, _meta(3)]
    assert encode_append([_meta(3)]) == encode_record(_meta(3))  # a lone record: same bytes as before


def test_commit_many_writes_one_frame(tmp_path):
    path = _store(tmp_path, top_ups=0)
    before = path.stat().st_size
    with open_store(tmp_path) as store:
        scratch = Ledger(store.ledger.state.copy(), store.ledger.rules, DEVICE, b"test-pepper", FAST_FOR_TESTS)
        batch = []
        for i in range(3):
            batch.append(scratch.top_up(uid(1), 1000 + i, f"B{i}", later(10 + i)))
            scratch.state.apply(batch[-1])
        store.commit_many(batch)
    data = path.read_bytes()
    assert before + HEADER.size + HEADER.unpack_from(data, before)[0] == len(data), "three records, one frame"
    assert [r["txn"]["seq"] for r in read_segment(path, 1, last=True).records[-3:]] == [2, 3, 4]


def _batch_torn(path, keep) -> None:
    """A three-record append whose fdatasync never returned: `keep(raw)` is what reached the card."""
    raw = encode_append([_meta(1, 700), _meta(2, 700), _meta(3, 200)])
    with open(path, "ab") as f:
        f.write(keep(raw))


@pytest.mark.parametrize(
    "shape",
    ["cut-after-first-record", "zeroed-sector-before-a-whole-record", "first-sector-zeros", "all-but-last-byte"],
)
def test_an_unfinished_batch_is_cut_whole(tmp_path, shape):
    """The strict crash model's 97 refusals: a zeroed sector, then a whole record of the same
    append. And the ordered model's split batches: the first record whole, the rest cut."""
    path = _store(tmp_path)
    good = path.read_bytes()
    first = len(encode_record(_meta(1, 700)))

    def keep(raw: bytes) -> bytes:
        if shape == "cut-after-first-record":
            return raw[: HEADER.size + 1 + first]
        if shape == "zeroed-sector-before-a-whole-record":
            hole = SECTOR - len(good) % SECTOR
            return raw[:hole] + bytes(SECTOR) + raw[hole + SECTOR :]
        if shape == "first-sector-zeros":
            return bytes(SECTOR - len(good) % SECTOR) + raw[SECTOR - len(good) % SECTOR :]
        return raw[:-1]

    _batch_torn(path, keep)
    with open_store(tmp_path) as store:
        assert [store.meta_get(f"k{n}") for n in (1, 2, 3)] == [None, None, None]
        assert store.outbox_depth() == 3 and len(store.repaired) == 1
    assert path.read_bytes() == good


def test_a_damaged_batch_followed_by_a_later_append_is_refused_by_name(tmp_path):
    """A later append proves the batch's fdatasync had returned: it was committed."""
    path = _store(tmp_path)
    at = path.stat().st_size
    damaged = bytearray(encode_append([_meta(1, 700), _meta(2, 700)]))
    damaged[SECTOR : SECTOR + 64] = bytes(64)
    with open(path, "ab") as f:
        f.write(bytes(damaged) + encode_append([_meta(3)]))
    found = path.read_bytes()
    with pytest.raises(StoreCorrupt) as caught:
        open_store(tmp_path)
    assert str(path) in str(caught.value) and f"at byte {at}" in str(caught.value)
    assert "committed record" in str(caught.value)
    assert path.read_bytes() == found


def test_a_flipped_bit_in_the_last_batch_is_refused(tmp_path):
    path = _store(tmp_path)
    at = path.stat().st_size
    data = bytearray(encode_append([_meta(1), _meta(2)]))
    data[HEADER.size + 40] ^= 0x04
    with open(path, "ab") as f:
        f.write(bytes(data))
    with pytest.raises(StoreCorrupt, match=f"at byte {at}: record payload checksum mismatch in a committed"):
        open_store(tmp_path)


def _format_1_store(data_dir):
    """A store as today's kiosks leave it: format-1 segments, a batch as a frame per record."""
    path = _store(data_dir)
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    path.write_bytes(MAGIC_V1 + data[len(MAGIC) :] + encode_record(_meta(1)) + encode_record(_meta(2)))
    return path


def test_format_1_segments_are_read_and_the_next_append_starts_a_format_2_segment(tmp_path):
    old = _format_1_store(tmp_path)
    kept = old.read_bytes()
    with open_store(tmp_path) as store:
        assert store.meta_get("k1") and store.meta_get("k2")
        assert store.outbox_depth() == 3
        top_up(store, uid(1), 5000, later(30), ref="after")
        numbers = store.journal_segments()
    assert old.read_bytes() == kept, "a format-1 segment is never appended to"
    newest = tmp_path / "journal" / f"{numbers[-1]:08d}.jnl"
    assert len(numbers) == 2 and newest.read_bytes().startswith(MAGIC)
    with open_store(tmp_path) as store:
        assert store.outbox_depth() == 4


def test_a_format_1_segment_keeps_its_own_torn_tail_rule(tmp_path):
    old = _format_1_store(tmp_path)
    with open(old, "ab") as f:
        f.write(encode_record(_meta(9, 700))[:-50])
    with open_store(tmp_path) as store:
        assert store.meta_get("k9") is None and len(store.repaired) == 1


def test_an_array_in_a_format_1_segment_is_refused(tmp_path):
    path = tmp_path / "00000001.jnl"
    path.write_bytes(MAGIC_V1 + encode_append([_meta(1), _meta(2)]))
    with pytest.raises(JournalCorrupt, match="format 1 has one record per frame"):
        read_segment(path, 1, last=True)


@pytest.mark.parametrize("body", [b"[]", b"[1]", b'[{"t":"meta"},[]]', b'"x"'])
def test_a_frame_that_is_not_records_is_refused(tmp_path, body):
    frame = journal._frame(body)
    path = tmp_path / "00000001.jnl"
    path.write_bytes(MAGIC + frame)
    with pytest.raises(JournalCorrupt, match=f"{path}: at byte {len(MAGIC)}: frame is not"):
        read_segment(path, 1, last=True)


_values = st.none() | st.integers(-(2**53), 2**53) | st.text(max_size=30) | st.lists(st.text(max_size=6), max_size=3)
_records = st.dictionaries(st.text(max_size=8), _values, max_size=4)


class _Bytes(Disk):
    """Serves one segment's bytes from memory: the property below reads hundreds of cuts."""

    data = b""

    def read_bytes(self, path: Path) -> bytes:
        return self.data


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(_records, min_size=1, max_size=4), min_size=1, max_size=5))
def test_appends_read_back_as_written_and_any_cut_loses_whole_appends_only(appends):
    """Round trip of any appends; a file cut anywhere reads back as a prefix of whole appends."""
    frames = [encode_append(a) for a in appends]
    data = MAGIC + b"".join(frames)
    bounds = [len(MAGIC)]
    for frame in frames:
        bounds.append(bounds[-1] + len(frame))
    disk, path = _Bytes(), Path("00000001.jnl")
    with files.use(disk):
        disk.data = data
        assert read_segment(path, 1, last=True).records == [r for a in appends for r in a]
        for cut in sorted({*bounds, *range(len(MAGIC), len(data), max(1, len(data) // 16))}):
            disk.data = data[:cut]
            whole = sum(1 for b in bounds[1:] if b <= cut)
            segment = read_segment(path, 1, last=True)
            assert segment.records == [r for a in appends[:whole] for r in a]
            assert (segment.torn is None) == (cut in bounds)
