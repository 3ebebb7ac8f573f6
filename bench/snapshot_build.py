"""HQ building one store's snapshot on PostgreSQL, by phase, with the old way of keeping the chunks
beside the new one in the same run.

    .venv/bin/python bench/snapshot_build.py            # a 200,000-member chain (store S1: 20,000)
    .venv/bin/python bench/snapshot_build.py --full     # 1,000,000 members (S1: 100,000; or KIOSK_FULL=1)

The chain is generated straight into HQ's tables (bench/store_feed.py). Printed: the consistent read
of the store's rows (the three joined queries' plans are printed with their EXPLAIN ANALYZE times),
the whole build (read, split into chunks, keep), and keeping the same chunks by executemany (as
build_snapshot does) against insert_many (COPY through a temporary table: the old way)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.store_feed import generate_hq  # noqa: E402
from kiosk.hq import store_snapshots as ss  # noqa: E402
from kiosk.hq.db import open_database  # noqa: E402
from kiosk.hq.schema import create_schema  # noqa: E402
from tests.fixtures.postgres import PostgresServer  # noqa: E402

MEMBERS = 1_000_000 if os.environ.get("KIOSK_FULL") == "1" or "--full" in sys.argv else 200_000
ROUNDS = 3
COLUMNS = ("device_id", "snapshot_id", "idx", "chunks", "body")


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    with PostgresServer(durable=True) as pg:
        db = open_database(pg.create_database("snapshot_build"))
        create_schema(db)
        print(f"generating {MEMBERS:,} members: {timed(lambda: generate_hq(db, MEMBERS)):.1f} s")
        db.conn.execute("ANALYZE")
        cutoff = ss.seen_cutoff(db, datetime.now(UTC))
        for table, order in (("members", "member_id"), ("cards", "uid"), ("accounts", "member_id")):
            plan = [r[0] for r in db.all(f"EXPLAIN ANALYZE SELECT t.body FROM {table} t JOIN ({ss.SEEN}) s "  # noqa: S608
                                         f"ON s.member_id = t.member_id ORDER BY t.{order}", ("S1", cutoff))]
            print(f"{table}: {plan[0].split('(')[0].strip()}; {plan[-1]}")
        texts: dict = {}

        def read() -> None:
            with ss.consistent_read(db):
                texts.update(ss.store_rows_texts(db, "S1", cutoff))

        reads = [timed(read) for _ in range(ROUNDS)]
        parts = ss.split_rows(texts, ss.chunk_budget(db))
        bodies = [("B1", 1, i, len(parts), "{}\n" + ss.rows_body(p)) for i, p in enumerate(parts)]
        size = sum(len(b[4]) for b in bodies) / 1e6

        def keep_old(db) -> None:
            db.execute("DELETE FROM store_snapshots WHERE device_id = 'B1'")
            db.insert_many("store_snapshots", COLUMNS, bodies)

        def keep_new(db) -> None:
            db.execute("DELETE FROM store_snapshots WHERE device_id = 'B1'")
            ss.keep_chunks(db, bodies)

        old, new = [], []
        for _ in range(ROUNDS):
            old.append(timed(lambda: db.run(keep_old)))
            new.append(timed(lambda: db.run(keep_new)))
        builds = [timed(lambda: ss.build_snapshot(db, "S1", "D1")) for _ in range(ROUNDS)]
        med = statistics.median
        print(f"\nstore S1: {len(texts['members']):,} members, {len(parts)} chunks, {size:.1f} MB; medians of {ROUNDS}")
        print(f"read (consistent, 3 joined queries)   {med(reads):7.2f} s")
        print(f"keep chunks, insert_many (old)        {med(old):7.2f} s")
        print(f"keep chunks, executemany (new)        {med(new):7.2f} s   {med(old) / med(new):.1f}x faster")
        print(f"whole build_snapshot (new)            {med(builds):7.2f} s")


if __name__ == "__main__":
    main()
