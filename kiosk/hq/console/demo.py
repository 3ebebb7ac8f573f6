"""`kiosk hq console --demo`: the console on a throw-away demo chain, for a newcomer to click
through. A temp SQLite database gets HQ's schema; the `kiosk demo` morning (kiosk/demo/story.py)
runs at its kiosk DEMO-01 in store S1 and HQ takes its transactions the way the receiver does;
a few recent members in S1 and S2 put people on the follow-up lists; one account per role
shares one random password, printed at the start (nothing here is kept)."""

from __future__ import annotations

import contextlib
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from kiosk.hq import devices
from kiosk.hq.console import auth
from kiosk.hq.console.reporting import today
from kiosk.hq.console.sample import NewMember, seed
from kiosk.hq.db import open_database
from kiosk.hq.ledger import apply_pending, now_text, store_events
from kiosk.hq.schema import create_schema

DEMO_KIOSK, DEMO_STORE = "DEMO-01", "S1"
ACCOUNTS = {"demo-admin": ("admin", ()), "demo-finance": ("finance", ()), "demo-s1": ("store-manager", ("S1",)),
            "demo-programme": ("programme-manager", ()), "demo-auditor": ("auditor", ())}


def make_demo(folder: Path) -> tuple[str, str]:
    """Build the demo chain in `folder`; returns (database path, the accounts' password)."""
    from kiosk.demo.story import MORNING, PEPPER, run_morning
    from kiosk.store.store import Store

    path = str(folder / "hq-demo.sqlite3")
    db = open_database(path)
    try:
        create_schema(db)
        with contextlib.redirect_stdout(io.StringIO()), Store.open(folder / "kiosk", DEMO_KIOSK, pepper=PEPPER) as store:
            run_morning(store, MORNING)
            txns = store.outbox()
        db.run(lambda db: devices.record_status(db, DEMO_KIOSK, DEMO_STORE, True, 0, "kiosk demo", "", now_text()))
        store_events(db, txns)
        apply_pending(db, [DEMO_KIOSK])
        _recent(db)
        password = secrets.token_urlsafe(12)
        for name, (role, stores) in ACCOUNTS.items():
            auth.add_user(db, name, role, password, stores, by="demo")
    finally:
        db.close()
    return path, password


def _recent(db) -> None:
    """Members who bought three days ago (one with a birthday this week) and one gone quiet for
    four months: the 3-day call, birthday and win-back lists have someone on them."""
    day = today(db)
    birthday = date(1990, day.month, min(day.day, 28))
    now = datetime.now(UTC)
    kiosks = {"DEMO-02": "S1", "DEMO-03": "S2"}
    seed(db, kiosks, [
        NewMember("DEMO-02", "04C0FFEE", "13500135001", "周婷", 30000, spend_fen=6800, birthday=birthday),
        NewMember("DEMO-02", "04C0FFEF", "13500135002", "Lucy Wu", 10000, spend_fen=2500),
        NewMember("DEMO-03", "04D0FFEE", "13500135003", "赵磊", 50000, spend_fen=12000),
    ], now=now - timedelta(days=3))
    seed(db, {"DEMO-04": "S1"}, [NewMember("DEMO-04", "04E0FFEE", "13500135004", "孙悦", 20000, spend_fen=3000)],
         now=now - timedelta(days=120))
