"""Every state a power cut could leave on disk, built from a RecordingDisk log (ALICE-style).

Two models of the file system:

ordered  ext4 data=ordered as the store relies on it: the disk holds a prefix of the operations in
         program order, at least up to the last fsync/fdatasync issued (on ext4 an fsync commits the
         whole journal, so it is a barrier for everything before it); the write at the cut may be
         cut short at a 512-byte sector boundary (a prefix of the append reached the card).
strict   a weaker file system: fsync makes only that file's data durable and a directory fsync only
         that directory's entries. Unsynced writes to different files persist independently (any
         prefix per file, so they reorder across files); unsynced creates, renames, links and unlinks
         persist as any subset that keeps operations on the same name in order (so an unsynced rename
         can be dropped while a later one lands); the last write kept may be torn at sector
         granularity with the missing sectors reading as zeros (the size grew, the data did not).

A candidate is a disk image plus the window of crash points [lo, hi] (positions in the log) at
which the power cut could have left it; the checker holds it to what had returned by `hi` and to
nothing beyond what had been called by `lo`."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.store.recording import DIR_KINDS, SYNC_KINDS, Op

SECTOR = 512
MAX_SECTOR_VARIANTS = 8  # a longer write is torn at its first, middle and last sectors only
MAX_PENDING_DIR_OPS = 12


@dataclass
class Image:
    names: dict[str, int] = field(default_factory=dict)  # path -> inode
    dirs: set[str] = field(default_factory=set)
    data: dict[int, bytes] = field(default_factory=dict)  # inode -> content

    def copy(self) -> Image:
        return Image(dict(self.names), set(self.dirs), dict(self.data))

    def key(self) -> str:
        digest = hashlib.sha1()
        for name in sorted(self.names):
            digest.update(name.encode() + b"\0" + hashlib.sha1(self.data[self.names[name]]).digest())
        for name in sorted(self.dirs):
            digest.update(b"D" + name.encode() + b"\0")
        return digest.hexdigest()

    def materialize(self, root: Path) -> None:
        for name in sorted(self.dirs):
            (root / name).mkdir(parents=True, exist_ok=True)
        for name, inode in self.names.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.data[inode])


@dataclass(frozen=True)
class Candidate:
    image: Image
    lo: int
    hi: int
    how: str  # what made it, for the report


def write_into(content: bytes, offset: int, data: bytes) -> bytes:
    if offset > len(content):
        content += bytes(offset - len(content))
    return content[:offset] + data + content[offset + len(data) :]


def apply_data(content: bytes, op: Op) -> bytes:
    if op.kind == "write":
        return write_into(content, op.offset, op.data)
    if op.kind == "truncate":
        return content[: op.offset] + bytes(max(0, op.offset - len(content)))
    return content


def apply_names(image: Image, op: Op) -> None:
    if op.kind in ("create", "adopt"):
        image.names[op.path] = op.inode
        image.data[op.inode] = op.data if op.kind == "adopt" else b""
    elif op.kind == "rename":
        if op.path in image.names:
            image.names[op.target] = image.names.pop(op.path)
    elif op.kind == "link":
        if op.path in image.names:
            image.names[op.target] = image.names[op.path]
    elif op.kind == "unlink":
        image.names.pop(op.path, None)
    elif op.kind == "mkdir":
        image.dirs.add(op.path)


def apply(image: Image, op: Op) -> None:
    if op.kind in ("write", "truncate"):
        image.data[op.inode] = apply_data(image.data.get(op.inode, b""), op)
    else:
        apply_names(image, op)


def _sector_starts(op: Op) -> list[int]:
    """Offsets into op.data where each sector the write touches begins (the first is 0)."""
    first = op.offset // SECTOR * SECTOR
    return [max(0, s - op.offset) for s in range(first, op.offset + op.size, SECTOR)]


def _pick(indices: list[int]) -> list[int]:
    if len(indices) <= MAX_SECTOR_VARIANTS:
        return indices
    n = len(indices)
    return sorted({indices[i] for i in (0, 1, n // 2, n - 2, n - 1)})


def cut_writes(content: bytes, op: Op) -> Iterator[tuple[bytes, str]]:
    """ordered: a prefix of the write, ending at a sector boundary inside it."""
    for start in _pick(_sector_starts(op)[1:]):
        yield write_into(content, op.offset, op.data[:start]), f"write cut at byte {op.offset + start}"


def torn_writes(content: bytes, op: Op) -> Iterator[tuple[bytes, str]]:
    """strict: the file grew by the whole write but some sectors never landed (zeros)."""
    starts = _sector_starts(op)
    bounds = [*starts, op.size]
    zeroed = write_into(content, op.offset, bytes(op.size))
    for j in _pick(list(range(len(starts)))):  # sectors j.. missing
        yield write_into(zeroed, op.offset, op.data[: bounds[j]]), f"torn: sectors from {j} are zeros"
    if len(starts) > 1:
        for j in _pick(list(range(len(starts)))):  # only sector j missing
            data = op.data[: bounds[j]] + bytes(bounds[j + 1] - bounds[j]) + op.data[bounds[j + 1] :]
            yield write_into(content, op.offset, data), f"torn: sector {j} is zeros"


def _next_sync(log: list[Op]) -> list[int]:
    nxt, out = len(log), [0] * (len(log) + 1)
    out[len(log)] = len(log)
    for i in range(len(log) - 1, -1, -1):
        if log[i].kind in SYNC_KINDS:
            nxt = i
        out[i] = nxt
    return out


def ordered_candidates(log: list[Op]) -> Iterator[Candidate]:
    """Prefixes of the log (each a power cut after the op before it), plus cut-short writes."""
    nxt = _next_sync(log)
    image = Image()
    for p, op in enumerate(log):
        if p == 0 or log[p - 1].kind != "mark":
            yield Candidate(image.copy(), p, nxt[p], "prefix")
        if op.kind == "write":
            for content, how in cut_writes(image.data.get(op.inode, b""), op):
                cut = image.copy()
                cut.data[op.inode] = content
                yield Candidate(cut, p + 1, nxt[p + 1], how)
        apply(image, op)
    yield Candidate(image.copy(), len(log), len(log), "everything")


def _touches(op: Op) -> set[str]:
    return {n for n in (op.path, op.target) if n}


def _parent(name: str) -> str:
    return os.path.dirname(name) or "."


def dir_subsets(pending: list[Op]) -> Iterator[list[Op]]:
    """Subsets of unsynced directory operations in which an op on a name comes with every earlier
    op on that name (and its directory's mkdir): what a weaker file system could have kept."""
    if len(pending) > MAX_PENDING_DIR_OPS:
        raise ValueError(f"{len(pending)} unsynced directory operations; the explorer allows {MAX_PENDING_DIR_OPS}")
    needs = []
    for i, op in enumerate(pending):
        names = _touches(op)
        parents = {_parent(n) for n in names}
        needs.append(
            {
                j
                for j, earlier in enumerate(pending[:i])
                if names & _touches(earlier) or (earlier.kind == "mkdir" and earlier.path in parents)
            }
        )
    for mask in range(1 << len(pending)):
        chosen = [i for i in range(len(pending)) if mask >> i & 1]
        if all(needs[i] <= set(chosen) for i in chosen):
            yield [pending[i] for i in chosen]


def data_variants(base: bytes, ops: list[Op]) -> Iterator[tuple[bytes, str]]:
    content = base
    yield content, ""
    for i, op in enumerate(ops):
        if op.kind == "write":
            for torn, how in torn_writes(content, op):
                yield torn, f"{i} of {len(ops)} unsynced ops, then {how}"
        content = apply_data(content, op)
        yield content, f"{i + 1} of {len(ops)} unsynced ops" if i + 1 < len(ops) else ""


class _Strict:
    """The volatile file system (what programs see) beside the durable one (what fsync made so)."""

    def __init__(self) -> None:
        self.volatile = Image()
        self.durable = Image()
        self.pending_data: dict[int, list[Op]] = {}
        self.pending_dir: list[Op] = []

    def step(self, op: Op) -> None:
        apply(self.volatile, op)
        if op.kind in ("write", "truncate"):
            self.pending_data.setdefault(op.inode, []).append(op)
        elif op.kind in DIR_KINDS:
            self.pending_dir.append(op)
            if op.kind == "create":
                self.durable.data.setdefault(op.inode, b"")
        elif op.kind == "adopt":  # there before recording began: durable
            apply(self.durable, op)
        elif op.kind == "sync":
            self.durable.data[op.inode] = self.volatile.data[op.inode]
            self.pending_data.pop(op.inode, None)
        elif op.kind == "dirsync":
            self._dirsync(op.path)

    def _dirsync(self, directory: str) -> None:
        here = [n for n in self.volatile.names if _parent(n) == directory]
        for name in [n for n in self.durable.names if _parent(n) == directory]:
            del self.durable.names[name]
        for name in here:
            self.durable.names[name] = self.volatile.names[name]
        self.durable.dirs |= {d for d in self.volatile.dirs if _parent(d) == directory}
        self.pending_dir = [
            op for op in self.pending_dir if not all(_parent(n) == directory for n in _touches(op))
        ]

    def states(self) -> Iterator[tuple[Image, str]]:
        for chosen in dir_subsets(self.pending_dir):
            image = self.durable.copy()
            for op in chosen:
                apply_names(image, op)
                if op.kind == "create":
                    image.data[op.inode] = self.durable.data.get(op.inode, b"")
            dropped = len(self.pending_dir) - len(chosen)
            base_how = f"{dropped} unsynced dir ops dropped" if dropped else ""
            live = sorted({i for i in image.names.values() if self.pending_data.get(i)})
            choices = [list(data_variants(image.data.get(i, b""), self.pending_data[i])) for i in live]
            for combo in itertools.product(*choices):
                variant = image.copy()
                hows = [base_how]
                for inode, (content, how) in zip(live, combo, strict=True):
                    variant.data[inode] = content
                    hows.append(how)
                yield variant, "; ".join(h for h in hows if h) or "durable + all unsynced"


def strict_candidates(log: list[Op]) -> Iterator[Candidate]:
    """At each crash point (after each file op), every state the weaker model allows."""
    fs = _Strict()
    positions = [p for p in range(len(log) + 1) if p == 0 or log[p - 1].kind != "mark"]
    for index, p in enumerate(positions):
        end = positions[index + 1] - 1 if index + 1 < len(positions) else len(log)
        for image, how in fs.states():
            yield Candidate(image, p, end, how)
        for op in log[p:end]:
            fs.step(op)
        if index + 1 < len(positions):
            fs.step(log[end])
