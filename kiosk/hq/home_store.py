"""Which store a member belongs to: the store of the kiosk that signed them up (the `sign_up`
event's device, looked up in `devices`), "HQ" for members HQ signed up itself. The console, the
reports and HQ's own operations (whose fees are the rules in force there) share this one answer."""

from __future__ import annotations

from kiosk.hq.db import Database
from kiosk.hq.report.model import HQ_STORE


def home_store_sql() -> str:
    """SQL for the home store of member `m.member_id` (correlated; one events_member probe)."""
    return (
        f"(SELECT COALESCE(MIN(d.store), '{HQ_STORE}') FROM events e LEFT JOIN devices d ON d.device_id = e.device_id "
        "WHERE e.member_id = m.member_id AND e.kind = 'sign_up')"
    )


def home_store(db: Database, member_id: str) -> str | None:
    """The member's store, or None when HQ has no such member."""
    row = db.one(f"SELECT {home_store_sql()} FROM members m WHERE m.member_id = ?", (member_id,))
    return None if row is None else row[0]


def home_store_of_card(db: Database, uid: str) -> str | None:
    """The home store of the member holding card `uid`, or None for a card HQ does not know."""
    row = db.one("SELECT member_id FROM cards WHERE uid = ?", (uid,))
    return None if row is None else home_store(db, row[0])
