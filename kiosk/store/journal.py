"""The append-only journal: numbered segment files of length-prefixed, checksummed frames.

A segment starts with its format's magic; each frame is a 12-byte header (payload length, CRC32
of the length, CRC32 of the payload) and a JSON payload. Appends go in one write() and are
fdatasync'd before `append` returns, so the cost of a commit does not depend on how long the
journal is.

Format 2 (MAGIC): one append is one frame, its commit point: a JSON object (one record) or a JSON
array of objects (several records committed together, e.g. `commit_many`). A batch is then whole
or absent after a power cut, and a torn batch is cut whole. Format 1 (MAGIC_V1, still read, never
written): one frame per record, an object, so a batch's records were separate frames and a torn
write could leave a prefix of a batch, or a zeroed sector before a whole record of the same
append that reads as damage to a committed record. A store whose newest segment is format 1
starts a format-2 segment when it opens for writing.

Reading tells a torn tail (the last append of the last segment, whose fdatasync never returned,
cut short by a power cut) from corruption of a committed record, which is never skipped: it
raises JournalCorrupt with the file and the byte offset. A torn append shows as a file that ends
inside a record, or as bytes that were never written: after a power cut ext4 reads those as
zeros, a whole sector at a time, while a committed record's JSON payload never holds a zero
byte. So damage counts as a torn tail only when nothing whole follows it and it ends the file
short or holds such an unwritten hole; a flipped bit in a record that was acknowledged as
committed, even the very last one, is corruption."""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk.store import files
from kiosk.store.files import fsync_dir, make_dir, write_all

MAGIC = b"KJOURNL2"  # the format written: one frame per append
MAGIC_V1 = b"KJOURNL1"  # one frame per record; read, never written
_FORMATS = {MAGIC: 2, MAGIC_V1: 1}
HEADER = struct.Struct(">III")
MAX_RECORD = 1 << 20  # a rules document is the biggest record; anything larger is damage
MAX_FRAME = 16 << 20  # one append: a batch of records (a big HQ push, a long ack)
_SEGMENT = re.compile(r"^(\d{8})\.jnl$")
_LENGTH_SEED = 0x4B494F53  # "KIOS": a zeroed header never has a valid length checksum


class JournalCorrupt(Exception):
    """Damage that is not a torn tail: refuse to use the journal, never repair it silently."""

    def __init__(self, path: Path, offset: int, problem: str):
        self.path, self.offset, self.problem = path, offset, problem
        super().__init__(f"{path}: at byte {offset}: {problem}")


class JournalWriteError(OSError):
    """An append could not be made durable (disk full, I/O error); nothing was added."""


@dataclass(frozen=True)
class TornTail:
    good_end: int  # the segment is whole up to here
    size: int  # the file's size, damaged bytes included
    problem: str


@dataclass(frozen=True)
class Segment:
    number: int
    path: Path
    records: list[dict]
    torn: TornTail | None


def _json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _frame(body: bytes) -> bytes:
    length = len(body).to_bytes(4, "big")
    return HEADER.pack(len(body), zlib.crc32(length, _LENGTH_SEED), zlib.crc32(body)) + body


def encode_record(payload: dict) -> bytes:
    """One record as its own frame (an append of one record; the only shape format 1 knows)."""
    body = _json(payload)
    if len(body) > MAX_RECORD:
        raise ValueError(f"journal record of {len(body)} bytes is over the {MAX_RECORD} limit")
    return _frame(body)


def encode_append(payloads: list[dict]) -> bytes:
    """One append as one frame: a single record as itself, several as a JSON array, so that the
    frame's checksum is the commit point of the whole batch."""
    if len(payloads) == 1:
        return encode_record(payloads[0])
    if not payloads:
        raise ValueError("an append needs at least one record")
    bodies = [_json(p) for p in payloads]
    if big := [len(b) for b in bodies if len(b) > MAX_RECORD]:
        raise ValueError(f"journal record of {big[0]} bytes is over the {MAX_RECORD} limit")
    body = b"[" + b",".join(bodies) + b"]"
    if len(body) > MAX_FRAME:
        raise ValueError(f"an append of {len(body)} bytes is over the {MAX_FRAME} limit: split it")
    return _frame(body)


def segment_name(number: int) -> str:
    return f"{number:08d}.jnl"


def segment_numbers(directory: Path) -> list[int]:
    """Segment numbers present, ascending; raises JournalCorrupt if one is missing in between."""
    numbers = sorted(int(m.group(1)) for p in directory.iterdir() if (m := _SEGMENT.match(p.name)))
    for before, after in zip(numbers, numbers[1:], strict=False):
        if after != before + 1:
            raise JournalCorrupt(directory / segment_name(before + 1), 0, "segment missing from the journal")
    return numbers


def read_segment(path: Path, number: int, last: bool) -> Segment:
    """All records of one segment. A torn tail is reported (only allowed in the last segment)."""
    try:
        data = files.disk.read_bytes(path)
    except OSError as exc:
        raise JournalCorrupt(path, 0, f"cannot be read: {exc.strerror}") from None
    version = _FORMATS.get(data[: len(MAGIC)])
    if version is None:
        raise JournalCorrupt(path, 0, "not a journal segment (bad magic)")
    records: list[dict] = []
    offset, size = len(MAGIC), len(data)
    while offset < size:
        damage = _damage_at(data, offset)
        if damage is None:
            length = HEADER.unpack_from(data, offset)[0]
            body = data[offset + HEADER.size : offset + HEADER.size + length]
            records += _frame_records(path, offset, body, version)
            offset += HEADER.size + length
            continue
        problem, tail_possible = damage
        if not tail_possible:
            raise JournalCorrupt(path, offset, problem)
        if not last:
            raise JournalCorrupt(path, offset, f"{problem} in a segment that is not the newest")
        return Segment(number, path, records, TornTail(offset, size, problem))
    return Segment(number, path, records, None)


def _frame_records(path: Path, offset: int, body: bytes, version: int) -> list[dict]:
    """The records of one whole frame: an object, or (format 2) a non-empty array of objects."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise JournalCorrupt(path, offset, "record checksum matches but it is not JSON") from None
    if isinstance(value, dict):
        return [value]
    if version == 1:
        raise JournalCorrupt(path, offset, "record is not a JSON object (format 1 has one record per frame)")
    if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
        raise JournalCorrupt(path, offset, "frame is not a JSON object or a non-empty array of objects")
    return value


def segment_format(path: Path) -> int:
    """The segment's format version from its magic (JournalCorrupt if it has none)."""
    try:
        head = files.disk.read_bytes(path)[: len(MAGIC)]
    except OSError as exc:
        raise JournalCorrupt(path, 0, f"cannot be read: {exc.strerror}") from None
    if head not in _FORMATS:
        raise JournalCorrupt(path, 0, "not a journal segment (bad magic)")
    return _FORMATS[head]


SECTOR = 512  # the unit a power cut leaves written or not
_HOLE = 8  # zero bytes in a row that no committed record holds (its header has at most 3)


def _damage_at(data: bytes, offset: int) -> tuple[str, bool] | None:
    """None if a whole good record starts at `offset`; else (problem, could be a torn tail)."""
    size = len(data)
    rest = size - offset
    if rest < HEADER.size:
        return "short record header at the end", True
    length, length_crc, body_crc = HEADER.unpack_from(data, offset)
    if zlib.crc32(data[offset : offset + 4], _LENGTH_SEED) != length_crc:
        if not any(data[offset:]):
            return "zero-filled tail", True
        return "record header checksum mismatch", _unfinished_append(data, offset)
    if length > MAX_FRAME:
        return f"record length {length} over the limit", False
    end = offset + HEADER.size + length
    if end > size:
        return "record runs past the end of the file", True
    if zlib.crc32(data[offset + HEADER.size : end]) != body_crc:
        if _unfinished_append(data, offset):
            return "record payload never fully written (unwritten zeros)", True
        return "record payload checksum mismatch in a committed record", False
    return None


def _unfinished_append(data: bytes, offset: int) -> bool:
    """Do the bytes from `offset` to the end look like an append a power cut interrupted: an
    unwritten hole in them, and no whole record after it (a committed one would prove the
    damaged record was written and synced before)?"""
    tail = data[offset:]
    if not _has_unwritten_hole(tail, offset):
        return False
    return not any(_whole_record_at(data, at) for at in range(offset + 1, len(data) - HEADER.size + 1))


def _has_unwritten_hole(tail: bytes, offset: int) -> bool:
    if tail.endswith(b"\0"):
        return True
    if b"\0" * _HOLE in tail:
        return True
    lead = len(tail) - len(tail.lstrip(b"\0"))  # the record's first sector was cut at its end
    return lead > 0 and (offset + lead) % SECTOR == 0


def _whole_record_at(data: bytes, offset: int) -> bool:
    """True if a whole, checksummed record starts at `offset`."""
    length, length_crc, body_crc = HEADER.unpack_from(data, offset)
    if zlib.crc32(data[offset : offset + 4], _LENGTH_SEED) != length_crc or length > MAX_FRAME:
        return False
    end = offset + HEADER.size + length
    return end <= len(data) and zlib.crc32(data[offset + HEADER.size : end]) == body_crc


class Journal:
    """Appends to the newest segment; starts new segments; deletes old ones when told to."""

    def __init__(self, directory: Path, numbers: list[int]):
        self.directory = directory
        self.numbers = list(numbers)
        self._fd: int | None = None
        self._end = 0
        self.broken = ""  # why a failed append could not be cut off: no more writes until reopened
        if not self.numbers:
            self.new_segment(1)
        elif segment_format(directory / segment_name(self.numbers[-1])) < 2:
            self.new_segment()  # never mix formats in one segment: appends go to a format-2 one
        else:
            self._open_for_append(self.numbers[-1])

    @property
    def current(self) -> int:
        return self.numbers[-1]

    @property
    def position(self) -> tuple[int, int]:
        return self.current, self._end

    def _open_for_append(self, number: int) -> None:
        fd = files.disk.open(self.directory / segment_name(number), os.O_WRONLY | os.O_APPEND)
        if self._fd is not None:
            files.disk.close(self._fd)
        self._fd = fd
        self._end = os.fstat(fd).st_size

    def new_segment(self, number: int | None = None) -> int:
        """Create the next segment atomically (a crash leaves it whole or absent) and append there."""
        self._refuse_if_broken()
        number = number if number is not None else self.current + 1
        path = self.directory / segment_name(number)
        tmp = path.with_name(path.name + ".tmp")
        fd = files.disk.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, MAGIC)
            files.disk.fsync(fd)
        finally:
            files.disk.close(fd)
        files.disk.replace(tmp, path)
        fsync_dir(self.directory)
        self._open_for_append(number)  # first: if it fails, appends still go where `current` says
        self.numbers.append(number)
        return number

    def _refuse_if_broken(self) -> None:
        """After an append that could not be cut off, try the cut again (the fault may have
        cleared: space freed, the card back): the journal then goes on without a restart. If it
        still fails, no write may follow the garbage, so refuse until it can be cut or reopened."""
        if not self.broken:
            return
        try:
            files.disk.ftruncate(self._fd, self._end)
            files.disk.fdatasync(self._fd)
        except OSError as exc:
            self.broken = exc.strerror or str(exc)
            raise JournalWriteError(exc.errno, f"the journal needs reopening after a failed write ({self.broken})") from exc
        self.broken = ""

    def append(self, payloads: Iterable[dict]) -> None:
        """Write the records as one frame and make them durable: all of them or, after a power
        cut before the fdatasync returned, none. On failure nothing was added."""
        data = encode_append(list(payloads))
        if self._fd is None:
            raise JournalWriteError("journal is closed")
        self._refuse_if_broken()
        try:
            write_all(self._fd, data)
            files.disk.fdatasync(self._fd)
        except OSError as exc:
            self._roll_back(exc)
            raise JournalWriteError(exc.errno, f"journal append failed: {exc.strerror or exc}") from exc
        self._end += len(data)

    def _roll_back(self, cause: OSError) -> None:
        """Cut a partly written append off so it can never be mistaken for a commit."""
        try:
            files.disk.ftruncate(self._fd, self._end)
            files.disk.fdatasync(self._fd)
        except OSError as exc:
            # Garbage may remain at the end: the next open treats it as the torn tail it is, as
            # long as nothing is written after it, so refuse every further write until then.
            self.broken = exc.strerror or cause.strerror or str(exc)

    def delete_below(self, number: int) -> list[int]:
        """Delete segments numbered below `number`, oldest first (so the rest stays a suffix)."""
        gone = []
        for n in [n for n in self.numbers if n < number]:
            files.disk.unlink(self.directory / segment_name(n))
            self.numbers.remove(n)
            gone.append(n)
        if gone:
            fsync_dir(self.directory)
        return gone

    def close(self) -> None:
        if self._fd is not None:
            files.disk.close(self._fd)
            self._fd = None


def cut_torn_tail(segment: Segment, damaged_dir: Path) -> Path:
    """Copy the whole damaged segment aside (durably), then truncate it to its good end.

    Nothing is lost: the copy keeps every byte as found, named after the segment, the offset
    where the damage starts, and the time."""
    assert segment.torn is not None
    make_dir(damaged_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = damaged_dir / f"{segment.path.name}.torn-at-{segment.torn.good_end}.{stamp}"
    fd = files.disk.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        write_all(fd, files.disk.read_bytes(segment.path))
        files.disk.fsync(fd)
    finally:
        files.disk.close(fd)
    fsync_dir(damaged_dir)
    fd = files.disk.open(segment.path, os.O_WRONLY)
    try:
        files.disk.ftruncate(fd, segment.torn.good_end)
        files.disk.fsync(fd)
    finally:
        files.disk.close(fd)
    return aside
