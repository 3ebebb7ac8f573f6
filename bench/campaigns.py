"""A voucher campaign to a whole segment on PostgreSQL: 10k members by default, 100k with --full
(the issue's size; every member is in the segment, the worst case).

    .venv/bin/python bench/campaigns.py            # 10,000 members
    .venv/bin/python bench/campaigns.py --full     # 100,000 members

Members are written as bench/console.py writes them (one real sign-up's rows, copied). Measured
in the same run:
- the segment scan (kiosk.hq.vouchers.members_in, what the preview and the campaign read) beside
  reading every account row alone (the SQL the first scan ran, before it decoded each account);
- the old way, one admin.issue_voucher transaction per member, on the first OLD members (its
  per-member time, the baseline);
- the campaign as the console runs it (kiosk.hq.console.campaigns.run: issue_to_segment, batches
  of vouchers.BATCH in one transaction each) on the whole segment, and its per-member time
  against the baseline's;
- the campaigns list's used count for that campaign (SQL over the accounts' JSON)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.console import populate  # noqa: E402
from kiosk.hq import admin, vouchers  # noqa: E402
from kiosk.hq.console import campaigns  # noqa: E402
from kiosk.hq.db import open_database  # noqa: E402
from kiosk.hq.schema import create_schema  # noqa: E402
from tests.fixtures.postgres import PostgresServer  # noqa: E402

OLD = 500  # members issued one transaction each (the baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="100,000 members (default 10,000)")
    parser.add_argument("--members", type=int, help="another size")
    args = parser.parse_args()
    count = args.members or (100_000 if args.full else 10_000)
    now = datetime.now(UTC)
    with PostgresServer(durable=True) as pg:
        url = pg.create_database("campaigns")
        db = open_database(url)
        create_schema(db)
        started = time.perf_counter()
        populate(db, count)
        print(f"campaign on PostgreSQL: {count:,} members written in {time.perf_counter() - started:.1f} s")
        rules = admin.current_rules(db)

        started = time.perf_counter()
        db.all("SELECT a.member_id, a.body, m.status, m.body FROM accounts a JOIN members m ON m.member_id = a.member_id")
        sql_s = time.perf_counter() - started
        started = time.perf_counter()
        found = sum(1 for _ in vouchers.members_in(db, "active", "campaign:active:none", rules, now))
        scan_s = time.perf_counter() - started
        print(f"segment scan: {found:,} in the segment in {scan_s:.2f} s; every account row read alone "
              f"{sql_s:.2f} s ({scan_s / sql_s:.1f}x)")

        uids = [u for (u,) in db.all("SELECT uid FROM cards ORDER BY member_id LIMIT ?", (OLD,))]
        started = time.perf_counter()
        for uid in uids:
            admin.issue_voucher(db, uid, "winback20", "campaign:active:old-way", now)
        old_ms = (time.perf_counter() - started) * 1000 / len(uids)
        print(f"old way (one transaction a member): {old_ms:.2f} ms a member over {len(uids)}; "
              f"{old_ms * count / 1000:.0f} s projected for {count:,}")

        campaign_id, _ = campaigns.start(db, "bench", "a-bench-form-key-0001", "active", "winback20", "bench", count)
        started = time.perf_counter()
        result = campaigns.run(db, campaign_id)
        took = time.perf_counter() - started
        new_ms = took * 1000 / max(1, result.issued)
        print(f"campaign (batches of {vouchers.BATCH}): {result.issued:,} issued, {result.skipped} skipped in "
              f"{took:.1f} s = {new_ms:.2f} ms a member ({old_ms / new_ms:.1f}x faster than the old way)")
        started = time.perf_counter()
        used = campaigns.listed_one(db, result).used
        print(f"used count of that campaign: {used} in {time.perf_counter() - started:.2f} s")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        db.close()


if __name__ == "__main__":
    main()
