"""HQ report time on a chain-sized database: PostgreSQL and SQLite.

    /work/main/.venv/bin/python bench/report.py           # 100,000 members, 2,000,000 transactions
    /work/main/.venv/bin/python bench/report.py --quick   # 10,000 members, 200,000 transactions

Generates a chain (20 stores, 2 kiosks each, two years of sign-ups, top-ups, spends, check-ins,
redemptions and surveys), bulk-loads it into HQ's schema (PostgreSQL: COPY into a throwaway
server with its durable defaults; SQLite: executemany in one transaction, WAL), then times:
- the one-time migration that adds events.amount_fen to a database loaded without it;
- `build_report` for the chain and for one store (median of 3 runs), and the text rendering.
Baseline for the ratios: one full scan of events (`SELECT COUNT(*), SUM(amount_fen)`) on the
same engine in the same run. Target: the chain report under 10 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.hq.db import Database, open_database  # noqa: E402
from kiosk.hq.report.build import build_report  # noqa: E402
from kiosk.hq.report.migration import migrate  # noqa: E402
from kiosk.hq.report.model import Period  # noqa: E402
from kiosk.hq.report.tables import render_text  # noqa: E402
from kiosk.hq.schema import create_schema  # noqa: E402
from kiosk.ledger.sample import default_rules  # noqa: E402
from tests.fixtures.postgres import PostgresServer  # noqa: E402

STORES = 20
DEVICES_PER_STORE = 2
END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
KINDS = ["spend"] * 45 + ["top_up"] * 20 + ["check_in"] * 22 + ["redemption"] * 5 + ["survey"] * 5 + ["birthday_gift"] * 3
PERIOD = Period(date(2025, 11, 1), date(2026, 10, 31), "Asia/Shanghai")
CHUNK = 50_000


def devices() -> list[tuple[str, str]]:
    return [(f"K{s:02d}{d}", f"S{s:02d}") for s in range(1, STORES + 1) for d in "ab"[:DEVICES_PER_STORE]]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def generate(members: int, txns: int, seed: int = 7) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """Chunks of (event rows, member rows). Each member signs up at a home kiosk, then visits
    mostly there; activity decays for some members so every segment is populated."""
    rng = random.Random(seed)
    devs = [d for d, _ in devices()]
    seqs = dict.fromkeys(devs, 0)
    start, end = (END - SPAN).timestamp(), END.timestamp()
    per_member = (txns - members) / members
    counts = [1 + int(rng.expovariate(1 / per_member)) for _ in range(members)]
    total = sum(counts)
    while total != txns:  # nudge to the exact total
        i = rng.randrange(members)
        if total < txns:
            counts[i], total = counts[i] + 1, total + 1
        elif counts[i] > 1:
            counts[i], total = counts[i] - 1, total - 1
    events: list[tuple] = []
    people: list[tuple] = []
    received = _iso(end)
    for n in range(members):
        mid = f"M{n:06d}"
        home = rng.choice(devs)
        joined = rng.uniform(start, end - 86400)
        phone = f"138{n:08d}"
        birthday = (date(1960, 1, 1) + timedelta(days=rng.randrange(16000))).isoformat()
        name = rng.choice("王李张刘陈杨黄赵") + rng.choice(["伟", "芳", "娜", "秀英", "敏"])
        people.append((mid, phone, "active", json.dumps(
            {"member_id": mid, "name": name, "phone": phone, "birthday": birthday, "joined_at": _iso(joined),
             "pin_hash": "x"}, ensure_ascii=False, separators=(",", ":"))))
        count = counts[n]
        life = rng.choice([30, 120, 400, 9e9]) * 86400  # some drift away: every segment gets members
        times = sorted(rng.uniform(joined, min(end, joined + life)) for _ in range(count - 1))
        for i, at in enumerate([joined] + times):
            kind = "sign_up" if i == 0 else rng.choice(KINDS)
            dev = home if rng.random() < 0.8 else rng.choice(devs)
            seqs[dev] += 1
            amount = rng.randrange(500, 40000) if kind == "spend" else rng.choice([5000, 10000, 50000]) if kind == "top_up" else 0
            at_text = _iso(at)
            body = (
                f'{{"txn_id":"{dev}:{seqs[dev]}","device_id":"{dev}","seq":{seqs[dev]},"at":"{at_text[:19]}Z",'
                f'"kind":"{kind}","member_id":"{mid}","card_uid":"{0x04000000 + n:08X}",'
                f'"balance_before_fen":0,"balance_after_fen":0,"points_before":0,"points_after":0'
                + (f',"amount_fen":{amount}' if amount else "") + "}"
            )
            events.append((dev, seqs[dev], kind, mid, at_text, body, received))
        if len(events) >= CHUNK:
            yield events, people
            events, people = [], []
    if events or people:
        yield events, people


def load_postgres(db: Database, members: int, txns: int) -> int:
    n = 0
    with db.conn.cursor() as cur:
        for events, people in generate(members, txns):
            with cur.copy("COPY events (device_id, seq, kind, member_id, at, body, received_at) FROM STDIN") as cp:
                for row in events:
                    cp.write_row(row)
            with cur.copy("COPY members (member_id, phone, status, body) FROM STDIN") as cp:
                for row in people:
                    cp.write_row(row)
            n += len(events)
        for dev, store in devices():
            cur.execute(
                "INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
                "VALUES (%s, %s, 1, '2026-11-01T00:00:00Z', 0, '', '')", (dev, store))
        cur.execute("ANALYZE")
    return n


def load_sqlite(db: Database, members: int, txns: int) -> int:
    n = 0
    with db.transaction():
        for events, people in generate(members, txns):
            db.executemany("INSERT INTO events (device_id, seq, kind, member_id, at, body, received_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", events)
            db.executemany("INSERT INTO members (member_id, phone, status, body) VALUES (?, ?, ?, ?)", people)
            n += len(events)
        for dev, store in devices():
            db.execute("INSERT INTO devices (device_id, store, online, last_contact, outbox_depth, software, last_error) "
                       "VALUES (?, ?, 1, '2026-11-01T00:00:00Z', 0, '', '')", (dev, store))
    db.execute("ANALYZE")
    return n


def timed(fn, runs: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def measure(engine: str, db: Database, members: int, txns: int, runs: int) -> dict:
    rules = default_rules()
    t0 = time.perf_counter()
    loaded = (load_postgres if engine == "postgresql" else load_sqlite)(db, members, txns)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    migrate(db)
    if engine == "postgresql":
        db.execute("ANALYZE events")
    migrate_s = time.perf_counter() - t0
    scan_s, _ = timed(lambda: db.one("SELECT COUNT(*), SUM(amount_fen) FROM events"), runs)
    chain_s, report = timed(lambda: build_report(db, rules, PERIOD), runs)
    store_s, _ = timed(lambda: build_report(db, rules, PERIOD, store="S01"), runs)
    render_s, text = timed(lambda: render_text(report), 1)
    chain = report.metrics[-1]
    return {
        "engine": engine, "events": loaded, "load": load_s, "migrate": migrate_s, "scan": scan_s,
        "chain": chain_s, "store": store_s, "render": render_s, "members": chain.members,
        "segments": {s: report.segment_total("*", s) for s in ("active", "at_risk", "dormant", "lost")},
        "top20": report.pareto[-1].top_share, "lines": text.count("\n"), "report": report,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 members / 200,000 transactions")
    parser.add_argument("--engine", choices=("both", "postgresql", "sqlite"), default="both")
    args = parser.parse_args()
    members, txns = (10_000, 200_000) if args.quick else (100_000, 2_000_000)
    runs = 3
    print(f"HQ report benchmark: {members:,} members, {txns:,} transactions, {STORES} stores; "
          f"period {PERIOD.start} .. {PERIOD.end}; median of {runs} runs; CPUs {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    rows = []
    if args.engine in ("both", "postgresql"):
        with PostgresServer(durable=True) as pg:
            db = open_database(pg.create_database("bench"))
            create_schema(db)
            rows.append(measure("postgresql", db, members, txns, runs))
            db.close()
    if args.engine in ("both", "sqlite"):
        with tempfile.TemporaryDirectory(prefix="kiosk-report-bench-") as tmp:
            db = open_database(str(Path(tmp) / "hq.sqlite3"))
            create_schema(db)
            rows.append(measure("sqlite", db, members, txns, runs))
            db.close()
    print(f"\n{'engine':<11} {'events':>10} {'load s':>7} {'migrate s':>9} {'scan s':>7} {'chain s':>8} "
          f"{'x scan':>7} {'store s':>8} {'x scan':>7} {'render s':>8} {'target':>8}")
    for r in rows:
        target = "<10 s ok" if r["chain"] < 10 else "MISSED"
        print(f"{r['engine']:<11} {r['events']:>10,} {r['load']:>7.1f} {r['migrate']:>9.2f} {r['scan']:>7.2f} "
              f"{r['chain']:>8.2f} {r['chain'] / r['scan']:>6.1f}x {r['store']:>8.2f} {r['store'] / r['scan']:>6.1f}x "
              f"{r['render']:>8.2f} {target if r['engine'] == 'postgresql' else '':>8}")
    print("\nsame answers on both engines:" if len(rows) == 2 else "\nanswers:")
    for r in rows:
        print(f"  {r['engine']:<11} members {r['members']:,}; segments {r['segments']}; "
              f"top 20% of buyers bring {r['top20'] * 100:.1f}% of value")
    if len(rows) == 2:
        same = rows[0]["report"] == rows[1]["report"]
        print(f"  every section of the chain report identical: {'yes' if same else 'NO'}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print("scan = SELECT COUNT(*), SUM(amount_fen) FROM events (baseline); migrate = adding events.amount_fen "
          "to a loaded database (once; PostgreSQL rewrites the table)")


if __name__ == "__main__":
    main()
