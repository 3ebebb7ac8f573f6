"""A check of the member replica whose cost does not grow with the chain (`kiosk doctor`).

`PRAGMA quick_check` reads every page: 1.6 GB at a million members, minutes on a Pi's SD card.
This reads a bounded part instead: the file header (SQLite's magic, a valid page size, the file a
whole number of pages and at least the pages the header counts), `quick_check` of the small
tables (position, feed, seqs, stock) and their indexes, and one walk from the root to the first
and the last key of every large table and index (members, cards, accounts, till orders), which
finds a broken root or a torn edge page. Damage in the middle of a large table shows when a tap
reads that row (the store then names the file); the whole-file check stays one command away:
`sqlite3 replica.sqlite 'PRAGMA quick_check'` with the kiosk stopped."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

MAGIC = b"SQLite format 3\x00"
SMALL_TABLES = ("position", "hq_feed", "last_seq", "stock")
LARGE_KEYS = (
    ("members", "member_id"), ("members", "phone"), ("members", "referral"), ("cards", "uid"),
    ("cards", "member_id"), ("accounts", "member_id"), ("account_orders", "order_key"),
    ("account_orders", "member_id"),
)


def header_problems(path: Path) -> list[str]:
    """What is wrong with the file's header and size ([] when nothing)."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
        size = path.stat().st_size
    except OSError as exc:
        return [f"{path}: cannot be read ({exc.strerror})"]
    if len(head) < 100 or head[:16] != MAGIC:
        return [f"{path}: not an SQLite database (bad header)"]
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages = struct.unpack(">I", head[28:32])[0]
    if page_size < 512 or page_size & (page_size - 1):
        return [f"{path}: bad page size {page_size} in the header"]
    if size % page_size:
        return [f"{path}: {size} bytes is not a whole number of {page_size}-byte pages (cut short?)"]
    if pages * page_size > size:
        return [f"{path}: the header counts {pages} pages, the file holds {size // page_size}"]
    return []


def bounded_check(path: Path, conn: sqlite3.Connection) -> list[str]:
    """Problems found reading a bounded part of the replica through `conn` ([] when none)."""
    problems = header_problems(path)
    if problems:
        return problems
    try:
        for table in SMALL_TABLES:
            rows = conn.execute(f"PRAGMA quick_check({table})").fetchall()
            problems += [] if rows == [("ok",)] else [f"{path}: {table}: {r[0]}" for r in rows]
        for table, column in LARGE_KEYS:
            conn.execute(f"SELECT MIN({column}), MAX({column}) FROM {table}").fetchone()  # noqa: S608
    except sqlite3.DatabaseError as exc:
        problems.append(f"{path}: {exc}")
    return problems
