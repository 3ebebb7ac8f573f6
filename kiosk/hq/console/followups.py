"""回访记录: staff call the members on the report's follow-up lists and record each call
(reached / not reached, a note). The lists come from `kiosk hq report` (kiosk/hq/console/
reporting.py), which already leaves out the members reached (kiosk/hq/report/followups.py);
this module remembers the calls:

- an occasion is one reason to call one member: the first-purchase day for the 3 days / 3
  weeks / 3 months calls, the last visit for a dormant member (a new visit and a new dormant
  spell is a new occasion), this year's birthday for the birthday list;
- a member reached for an occasion leaves that list; a member not reached stays on it, with
  the attempts so far shown beside them.

Each call is stored with its audit entry in one transaction (kiosk/hq/console/audit.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from kiosk.hq.console import audit
from kiosk.hq.db import Database
from kiosk.hq.ledger import now_text
from kiosk.hq.report.followups import occasion  # noqa: F401 - the console's API too (one definition)

OUTCOMES = {"reached": "Reached", "not_reached": "Not reached"}  # stored value -> the words shown
NOTE_MAX = 500


class CallError(ValueError):
    """A call record the console refuses; the message names the field."""


@dataclass(frozen=True)
class Call:
    at: str
    username: str
    list_name: str
    occasion: str
    member_id: str
    outcome: str
    note: str


def record(db: Database, username: str, list_name: str, member_id: str, occasion_key: str, outcome: str,
           note: str, lists: Sequence[str]) -> Call:
    """Store one call and its audit entry together; bad input changes nothing."""
    note = note.strip()
    if list_name not in lists:
        raise CallError(f"list: one of {', '.join(lists)}")
    if outcome not in OUTCOMES:
        raise CallError(f"outcome: one of {', '.join(OUTCOMES)}")
    try:
        date.fromisoformat(occasion_key)
    except ValueError:
        raise CallError("occasion: a date (YYYY-MM-DD) from the list") from None
    if len(note) > NOTE_MAX:
        raise CallError(f"note: at most {NOTE_MAX} characters")
    call = Call(now_text(), username, list_name, occasion_key, member_id, outcome, note)

    def work(db: Database) -> Call:
        row = db.one("SELECT MAX(id) FROM follow_up_calls")
        db.execute(
            "INSERT INTO follow_up_calls (id, at, username, list_name, occasion, member_id, outcome, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (int(row[0] or 0) + 1, call.at, username, list_name, occasion_key, member_id, outcome, note),
        )
        audit.record(db, username, "followup.call", f"member:{member_id}", {},
                     {"list": list_name, "occasion": occasion_key, "outcome": outcome, "note": note})
        return call

    return db.run(work)


def calls_for(db: Database, member_ids: Sequence[str]) -> list[Call]:
    """Every call recorded for these members, oldest first (one indexed probe per chunk)."""
    found: list[Call] = []
    ids = list(dict.fromkeys(member_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found += [
            Call(*r) for r in db.all(
                "SELECT at, username, list_name, occasion, member_id, outcome, note FROM follow_up_calls "
                f"WHERE member_id IN {db.in_list(chunk)} ORDER BY id",
                chunk,
            )
        ]
    return found
