"""HQ -> one kiosk: its store's snapshot (protocol v2), built once and sent in bounded chunks.

A store's members are those signed up at one of its kiosks (their home store) and those seen at
it in the last `replica_seen_days` days (HQ setting, default 90), as `member_seen` lists them
(kept by store_feed.py). The snapshot is read in one consistent read (REPEATABLE READ on
PostgreSQL, a read transaction on SQLite): the device's applied seq, the store's last delta and
the rows all describe the same moment, so the kiosk re-applies exactly its own transactions
above `own_high_water`. Its chunks are kept in `store_snapshots` until the next one for the
device, so a kiosk restarted mid-load asks for the chunks it misses and gets the same ones."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from kiosk.hq import tunables
from kiosk.hq.db import Database
from kiosk.hq.delta_retention import kept_run
from kiosk.hq.tunables import CHUNK_BUDGET, CHUNK_BYTES_KEY, SEEN_DAYS_KEY
from kiosk.ledger.utc import utc_text
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics

log = logging.getLogger(__name__)

ID_BATCH = 1000  # member ids per query while reading a store's rows
REUSE_S = 600  # a snapshot built this recently answers a request for a new one


def seen_text(at: datetime) -> str:
    """`member_seen.at`'s one spelling (and the cutoff's): utc_text to the microsecond, fixed width,
    so SQL's text order (>=, MAX, GREATEST) is time order even within a second."""
    return utc_text(at, "microseconds")


def seen_cutoff(db: Database, now: datetime) -> str:
    """The oldest `member_seen.at` that still counts (members seen since are kept at the store)."""
    days = tunables.value(db, SEEN_DAYS_KEY)
    return seen_text(now - timedelta(days=days))


@contextmanager
def consistent_read(db: Database) -> Iterator[Database]:
    """Every statement inside sees the same committed state, and no write lock is taken."""
    if db.dialect == "postgresql":
        with db.conn.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield db
        return
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        db.conn.execute("COMMIT")


SEEN = "SELECT DISTINCT member_id FROM member_seen WHERE store = ? AND (home = 1 OR at >= ?)"


def store_member_ids(db: Database, store: str, cutoff: str) -> list[str]:
    """The store's members: `member_seen`'s, and those of its kiosks' events applied since the
    feed last noted them (so a snapshot never misses a member its own `own_high_water` covers)."""
    ids = {r[0] for r in db.all(SEEN, (store, cutoff))}
    return sorted(ids | unnoted_ids(db, store))


def unnoted_ids(db: Database, store: str) -> set[str]:
    """Members of the store's kiosks' events the feed has not noted in `member_seen` yet."""
    ids: set[str] = set()
    row = db.one("SELECT value FROM settings WHERE key = 'feed_published'")
    noted = json.loads(row[0]) if row and row[0] else {}
    for (device,) in db.all("SELECT device_id FROM devices WHERE store = ?", (store,)):
        ids.update(r[0] for r in db.all(
            "SELECT member_id FROM events WHERE device_id = ? AND seq > ?", (device, int(noted.get(device, 0)))
        ))
    return ids


def store_rows_texts(db: Database, store: str, cutoff: str) -> dict[str, list[str]]:
    """The store's rows: one joined query per table for `member_seen`'s members (no id lists at
    100,000 members), then the few not noted there yet."""
    out = {}
    for table, order in (("members", "member_id"), ("cards", "uid"), ("accounts", "member_id")):
        out[table] = [b for (b,) in db.all(
            f"SELECT t.body FROM {table} t JOIN ({SEEN}) s ON s.member_id = t.member_id ORDER BY t.{order}",  # noqa: S608
            (store, cutoff),
        )]
    seen = {r[0] for r in db.all(SEEN, (store, cutoff))}
    extra = rows_texts(db, sorted(unnoted_ids(db, store) - seen))
    return {table: out[table] + extra[table] for table in out}


def chunk_budget(db: Database) -> int:
    """Bytes of rows per chunk: HQ setting `snapshot_chunk_bytes` (1 KiB .. CHUNK_BUDGET, kiosk/hq/tunables.py)."""
    return tunables.value(db, CHUNK_BYTES_KEY)


def rows_texts(db: Database, member_ids: list[str]) -> dict[str, list[str]]:
    """The stored JSON texts (exactly the ledger codec's, compact) of these members' rows."""
    out: dict[str, list[str]] = {"members": [], "cards": [], "accounts": []}
    for i in range(0, len(member_ids), ID_BATCH):
        ids = member_ids[i : i + ID_BATCH]
        marks = db.in_list(ids)
        out["members"] += [b for (b,) in db.all(f"SELECT body FROM members WHERE member_id IN {marks} ORDER BY member_id", ids)]
        out["cards"] += [b for (b,) in db.all(f"SELECT body FROM cards WHERE member_id IN {marks} ORDER BY uid", ids)]
        out["accounts"] += [b for (b,) in db.all(f"SELECT body FROM accounts WHERE member_id IN {marks} ORDER BY member_id", ids)]
    return out


def rows_body(texts: dict[str, list[str]]) -> str:
    """MemberRows.body() as JSON text, spliced from stored texts (no decoding, no encoding)."""
    return "{" + ",".join(f'"{name}":[' + ",".join(texts[name]) + "]" for name in ("members", "cards", "accounts")) + "}"


def split_rows(texts: dict[str, list[str]], budget: int = CHUNK_BUDGET) -> list[dict[str, list[str]]]:
    """The rows in parts of at most `budget` bytes (a row larger than that goes alone); at least one."""
    parts: list[dict[str, list[str]]] = []
    part: dict[str, list[str]] = {"members": [], "cards": [], "accounts": []}
    size = 0
    for name in ("members", "cards", "accounts"):
        for text in texts[name]:
            length = len(text.encode()) + 1
            if size and size + length > budget:
                parts.append(part)
                part, size = {"members": [], "cards": [], "accounts": []}, 0
            part[name].append(text)
            size += length
    parts.append(part)
    return parts


def build_snapshot(db: Database, store: str, device: str, now: datetime | None = None) -> tuple[int, int]:
    """Read the store's snapshot consistently and keep it in chunks; (snapshot_id, chunks)."""
    now = now or datetime.now(UTC)
    with consistent_read(db):
        row = db.one("SELECT applied_seq FROM progress WHERE device_id = ?", (device,))
        own = int(row[0]) if row else 0
        row = db.one("SELECT MAX(seq) FROM store_deltas WHERE store = ?", (store,))
        delta_seq = int(row[0] or 0) if row else 0
        texts = store_rows_texts(db, store, seen_cutoff(db, now))
        stock = {r: int(n) for r, n in db.all("SELECT reward_id, units FROM stock ORDER BY reward_id")}
    parts = split_rows(texts, chunk_budget(db))
    snapshot_id = time.time_ns() // 1000  # increasing per device, across receivers
    head = {"own_high_water": own, "delta_seq": delta_seq, "stock": stock, "at": utc_text(now)}
    bodies = [
        (device, snapshot_id, i, len(parts), json.dumps(head if i == 0 else {**head, "stock": {}}) + "\n" + rows_body(p))
        for i, p in enumerate(parts)
    ]

    def keep(db: Database) -> None:
        db.execute("DELETE FROM store_snapshots WHERE device_id = ?", (device,))
        keep_chunks(db, bodies)

    db.run(keep)
    log.info("store %s snapshot %d for %s: %d members in %d chunks", store, snapshot_id, device,
             len(texts["members"]), len(parts))
    return snapshot_id, len(parts)


def keep_chunks(db: Database, bodies: list[tuple]) -> None:
    """A few large rows: executemany. (insert_many's COPY through a temporary table, right for many
    small rows, cost ten times as much here: 6.6 vs 0.6 s for 36 chunks, bench/snapshot_build.py.)"""
    db.executemany("INSERT INTO store_snapshots (device_id, snapshot_id, idx, chunks, body) VALUES (?, ?, ?, ?, ?)",
                   bodies)


def chunk_payload(snapshot_id: int, index: int, chunks: int, body: str) -> bytes:
    """The snapshot_chunk message of a kept chunk, as m.encode would write it."""
    head_text, rows = body.split("\n", 1)
    head = json.loads(head_text)
    fields = {"type": "snapshot_chunk", "v": m.SnapshotChunk.SPEC.version, "snapshot_id": snapshot_id,
              "index": index, "chunks": chunks, "own_high_water": head["own_high_water"],
              "delta_seq": head["delta_seq"]}
    text = json.dumps(fields, separators=(",", ":"))[:-1]
    tail = json.dumps({"stock": head["stock"], "at": head["at"]}, separators=(",", ":"))[1:]
    return (text + ',"rows":' + rows + "," + tail).encode()


def recent_snapshot(db: Database, device: str, store: str) -> int:
    """The device's kept snapshot if built in the last REUSE_S seconds and HQ still keeps every
    delta after its `delta_seq`, else 0. Serving it again is then right: those deltas follow, and
    the kiosk's own transactions since its `own_high_water` are still in its journal so soon after."""
    row = db.one("SELECT snapshot_id, body FROM store_snapshots WHERE device_id = ? AND idx = 0 "
                 "ORDER BY snapshot_id DESC LIMIT 1", (device,))
    if row is None or time.time_ns() // 1000 - int(row[0]) >= REUSE_S * 1_000_000:
        return 0
    delta_seq = int(json.loads(row[1].split("\n", 1)[0])["delta_seq"])
    return int(row[0]) if delta_seq >= kept_run(db, store).oldest - 1 else 0


def answer_request(db: Database, client, store: str, request: m.SnapshotRequest) -> int:
    """Publish the chunks a kiosk asks for (building its store's snapshot when it asks for a new
    one or for one HQ no longer keeps). Returns how many chunks went out."""
    snapshot_id = request.snapshot_id
    first = request.first
    if snapshot_id == 0:  # a new one: the one built lately serves (the kiosk asks again while HQ builds)
        snapshot_id, first = recent_snapshot(db, request.device, store), 0
    kept = db.one("SELECT chunks FROM store_snapshots WHERE device_id = ? AND snapshot_id = ? AND idx = 0",
                  (request.device, snapshot_id))
    if kept is None:
        snapshot_id, _ = build_snapshot(db, store, request.device)
        first = 0
    rows = db.all(
        "SELECT idx, chunks, body FROM store_snapshots WHERE device_id = ? AND snapshot_id = ? AND idx >= ? "
        "ORDER BY idx LIMIT ?",
        (request.device, snapshot_id, first, request.count),
    )
    topic = DeviceTopics(store, request.device).topic("snapshot_chunk")
    for idx, chunks, body in rows:
        client.publish(topic, chunk_payload(snapshot_id, int(idx), int(chunks), body), qos=1)
    return len(rows)
