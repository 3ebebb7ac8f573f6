"""The replica snapshot: the ledger state, rules and small metadata as one TinyDB JSON file.

Stock TinyDB's JSONStorage rewrites its file in place, so a crash mid-write leaves it unreadable.
SnapshotStorage is a TinyDB storage that instead writes a whole new file atomically (temp file,
fsync, rename, fsync the directory), first keeping the replaced file as snapshot.prev.json, and
guards the whole file, the store header included, with a CRC32 so bit rot is refused rather
than loaded (format 1 left the header out: one flipped digit in replay_from dropped committed
money; format 1 files are still read, and the next checkpoint rewrites them as format 3). Writes go through
TinyDB's tables with a CachingMiddleware, so the file is ordinary TinyDB JSON that tools
(and `TinyDB(path, storage=SnapshotStorage)`) can read.

Format 3 holds what fits TinyDB's whole-document model: the rules (with the reward catalogue),
small settings (meta) and the journal position; members, cards, accounts, stock and seqs live in
the member replica (replica.py), which a checkpoint updates by what changed. Formats 1 and 2 also
held the whole ledger state: still read (the store moves it into the replica at open)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from kiosk.ledger.codec import CodecError, encode, state_from_dict
from kiosk.ledger.state import LedgerState
from kiosk.ledger.utc import utc_text
from kiosk.store import files
from kiosk.store.files import atomic_write, fsync_dir

FORMAT = 3
READABLE_FORMATS = (1, 2, 3)
STATE_FORMATS = (1, 2)  # formats that carry the ledger state
STORE_TABLE = "store"  # one document: format, device, journal position, checksum
TABLES = ("members", "cards", "accounts", "stock", "last_seq", "rules", "meta")


class SnapshotError(Exception):
    def __init__(self, path: Path, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


def _dump(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _content_crc(data: dict, fmt: int = FORMAT) -> int:
    """Format 2: everything but the checksum itself. Format 1: the tables without the header."""
    if fmt == 1:
        return zlib.crc32(_dump({k: v for k, v in data.items() if k != STORE_TABLE}))
    header = {k: v for k, v in data[STORE_TABLE]["1"].items() if k != "crc32"}
    return zlib.crc32(_dump({**data, STORE_TABLE: {**data[STORE_TABLE], "1": header}}))


class SnapshotStorage(Storage):
    """TinyDB storage that never leaves a half-written file and detects damaged content."""

    def __init__(self, path: str | Path, keep_previous: bool = True):
        self.path = Path(path)
        self.keep_previous = keep_previous

    def read(self) -> dict | None:
        try:
            raw = files.disk.read_bytes(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SnapshotError(self.path, f"cannot be read: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SnapshotError(self.path, f"not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get(STORE_TABLE), dict):
            raise SnapshotError(self.path, "not a kiosk snapshot (no store table)")
        header = data[STORE_TABLE].get("1")
        if not isinstance(header, dict) or header.get("format") not in READABLE_FORMATS:
            raise SnapshotError(self.path, f"unknown snapshot format (expected {FORMAT})")
        if header.get("crc32") != _content_crc(data, header["format"]):
            raise SnapshotError(self.path, "content checksum mismatch (damaged file)")
        return data

    def write(self, data: dict) -> None:
        header = data.get(STORE_TABLE, {}).get("1")
        if header is None:
            raise ValueError("a snapshot needs its store table")
        header.pop("crc32", None)
        header["crc32"] = _content_crc(data)
        if self.keep_previous and self.path.exists():
            prev = self.path.with_name(self.path.stem + ".prev.json")
            link = prev.with_name(prev.name + ".tmp")
            if link.exists():
                files.disk.unlink(link)  # a leftover hard link to a good snapshot from an interrupted write
            files.disk.link(self.path, link)
            files.disk.replace(link, prev)
        atomic_write(self.path, _dump(data))
        fsync_dir(self.path.parent)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Snapshot:
    device_id: str
    replay_from: int  # the first journal segment whose records are not in this snapshot
    state: LedgerState | None  # formats 1-2 only; format 3 keeps the rows in the replica
    rules_doc: dict | None = None
    meta: dict = field(default_factory=dict)
    prev_replay_from: int = 1  # the previous snapshot's replay_from (it is kept as .prev.json)
    written_at: str = ""


def write_snapshot(path: Path, snap: Snapshot) -> None:
    """Write through TinyDB tables; CachingMiddleware holds everything until one atomic flush."""
    db = TinyDB(path, storage=CachingMiddleware(SnapshotStorage))
    try:
        db.drop_tables()
        state = snap.state
        db.table(STORE_TABLE).insert(
            {
                "format": FORMAT if state is None else 2,
                "device_id": snap.device_id,
                "replay_from": snap.replay_from,
                "prev_replay_from": snap.prev_replay_from,
                "written_at": utc_text(datetime.now(UTC)),
            }
        )
        if state is not None:  # the old whole-state form (tests and benches write it to check reading it)
            db.table("members").insert_multiple(encode(m) for m in state.members.values())
            db.table("cards").insert_multiple(encode(c) for c in state.cards.values())
            db.table("accounts").insert_multiple(encode(a) for a in state.accounts.values())
            db.table("stock").insert_multiple({"reward_id": k, "units": v} for k, v in state.stock.items())
            db.table("last_seq").insert_multiple({"device_id": k, "seq": v} for k, v in state.last_seq.items())
        if snap.rules_doc is not None:
            db.table("rules").insert({"doc": snap.rules_doc})
        db.table("meta").insert_multiple({"key": k, "value": v} for k, v in snap.meta.items())
    finally:
        db.close()  # flushes the cache: the one atomic write


def read_snapshot(path: Path) -> Snapshot | None:
    """The snapshot at `path`, None if there is none; SnapshotError if it cannot be used."""
    data = SnapshotStorage(path).read()
    if data is None:
        return None
    header = data[STORE_TABLE]["1"]
    try:
        tables = {name: list(_table(path, data, name)) for name in TABLES}
        state = None
        if header["format"] in STATE_FORMATS:
            state = state_from_dict(
                {
                    "members": tables["members"],
                    "cards": tables["cards"],
                    "accounts": tables["accounts"],
                    "stock": {d["reward_id"]: d["units"] for d in tables["stock"]},
                    "last_seq": {d["device_id"]: d["seq"] for d in tables["last_seq"]},
                }
            )
        meta = {d["key"]: d["value"] for d in tables["meta"]}
        rules_doc = tables["rules"][0]["doc"] if tables["rules"] else None
        device_id, replay_from = header["device_id"], header["replay_from"]
        prev_replay_from = header.get("prev_replay_from", 1)
    except CodecError as exc:
        raise SnapshotError(path, f"bad content at {exc.path}: {exc.problem}") from None
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise SnapshotError(path, f"bad content: {type(exc).__name__} {exc}") from None
    for name, value in (("replay_from", replay_from), ("prev_replay_from", prev_replay_from)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SnapshotError(path, f"store.{name} must be a positive integer")
    if not isinstance(device_id, str):
        raise SnapshotError(path, "store.device_id must be a string")
    return Snapshot(
        device_id=device_id,
        replay_from=replay_from,
        state=state,
        rules_doc=rules_doc,
        meta=meta,
        prev_replay_from=prev_replay_from,
        written_at=str(header.get("written_at", "")),
    )


def _table(path: Path, data: dict, name: str):
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise SnapshotError(path, f"table {name} is not an object")
    return table.values()
