"""The staff's follow-up call lists: calls due after a first purchase, dormant members to win
back, birthdays this week (definitions: kiosk/hq/report/model.py), less the members staff
already reached for the same occasion (回访记录, `follow_up_calls`, written by the console)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta

from kiosk.hq.db import Database
from kiosk.hq.report.model import (
    FollowUp,
    Period,
)
from kiosk.ledger.model import add_months


def due_first_days(to: date, due_days: int, step) -> list[date]:
    """Local days of first purchase whose call day (step(first)) falls in (to - due_days, to]."""
    window = {to - timedelta(days=i) for i in range(due_days)}
    earliest = min(window)
    found, day = [], earliest - timedelta(days=130)
    while day <= to:
        if step(day) in window:
            found.append(day)
        day += timedelta(days=1)
    return found


def birthday_keys(to: date) -> list[str]:
    """'MM-DD' of birthdays falling in the Monday-to-Sunday week holding `to`."""
    monday = to - timedelta(days=to.weekday())
    keys = []
    for i in range(7):
        day = monday + timedelta(days=i)
        keys.append(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and not _is_leap(day.year):
            keys.append("02-29")
    return keys


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def occasion(list_name: str, day: date | None, to: date) -> str:
    """The occasion key of a list entry whose report day is `day`, for lists made as of `to`: the
    first-purchase day (calls), the last visit (win back), this year's birthday."""
    if day is None:
        return ""
    if list_name != "birthday":
        return day.isoformat()
    monday = to - timedelta(days=to.weekday())
    for i in range(7):
        this = monday + timedelta(days=i)
        if (this.month, this.day) == (day.month, day.day) or (
            (day.month, day.day) == (2, 29) and (this.month, this.day) == (2, 28) and not _is_leap(this.year)
        ):
            return this.isoformat()
    leap_day = (day.month, day.day) == (2, 29) and not _is_leap(to.year)
    return date(to.year, day.month, 28 if leap_day else day.day).isoformat()  # not this week: this year's


Key = tuple[str, str, str]  # (list, member, occasion)


def still_due(keys: Iterable[Key], calls: Iterable[tuple[str, str, str, str]]) -> dict[Key, int]:
    """The keys nobody has reached, in their order, each with the number of calls made for it
    so far; `calls` are (list, member, occasion, outcome)."""
    calls = list(calls)
    reached = {(n, m, o) for n, m, o, outcome in calls if outcome == "reached"}
    tried: dict[Key, int] = {}
    for n, m, o, _ in calls:
        tried[(n, m, o)] = tried.get((n, m, o), 0) + 1
    return {k: tried.get(k, 0) for k in keys if k not in reached}


def _calls(db: Database, member_ids: list[str]) -> list[tuple[str, str, str, str]]:
    """(list, member, occasion, outcome) of every call recorded for these members."""
    found: list[tuple[str, str, str, str]] = []
    ids = list(dict.fromkeys(member_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found += db.all(
            f"SELECT list_name, member_id, occasion, outcome FROM follow_up_calls WHERE member_id IN {db.in_list(chunk)}",
            chunk,
        )
    return found


def _after_calls(db: Database, entries: list[FollowUp], to: date) -> list[FollowUp]:
    """The entries nobody reached for their occasion, each with the calls made so far."""
    keys = [(f.list_name, f.member_id, occasion(f.list_name, f.day, to)) for f in entries]
    due = still_due(keys, _calls(db, [f.member_id for f in entries]))
    return [replace(f, calls=due[k]) for f, k in zip(entries, keys, strict=True) if k in due]


def mask_phone(phone: str) -> str:
    """138****8000: keep the first 3 and last 4 digits."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * min(len(name) - 1, 2) if name else ""


_CALLS = {
    "call_3_days": lambda d: d + timedelta(days=3),
    "call_3_weeks": lambda d: d + timedelta(days=21),
    "call_3_months": lambda d: add_months(d, 3),
}


def follow_ups(db: Database, period: Period, store: str | None, due_days: int) -> tuple[FollowUp, ...]:
    scope, params = ("home_store = ? AND ", (store,)) if store is not None else ("", ())
    cols = "member_id, name, phone, home_store, tier, segment, {day}, last_visit, value_fen"
    asks: list[tuple[str, str, tuple]] = []
    for name, step in _CALLS.items():
        days = [d.isoformat() for d in due_first_days(period.end, due_days, step)]
        asks.append((
            name,
            f"SELECT {cols.format(day='first_purchase_day')} FROM report_members WHERE {scope}"
            f"first_purchase_day IN {db.in_list(days)} AND segment <> 'lost' ORDER BY first_purchase_day, member_id",
            (*params, *days),
        ))
    asks.append((
        "win_back",
        f"SELECT {cols.format(day='last_visit_day')} FROM report_members WHERE {scope}segment = 'dormant' "
        "ORDER BY value_fen DESC, member_id",
        params,
    ))
    keys = birthday_keys(period.end)
    asks.append((
        "birthday",
        f"SELECT {cols.format(day='birthday')} FROM report_members WHERE {scope}segment <> 'lost' AND "
        f"substr(birthday, 6, 5) IN {db.in_list(keys)} ORDER BY substr(birthday, 6, 5), member_id",
        (*params, *keys),
    ))
    out = []
    for name, sql, args in asks:
        for r in db.all(sql, args):
            masked = store is None or r[3] != store
            day = r[6][:10] if r[6] else None
            out.append(FollowUp(
                list_name=name, member_id=r[0], name=mask_name(r[1]) if masked else r[1],
                phone=mask_phone(r[2]) if masked else r[2], home_store=r[3], tier=r[4], segment=r[5],
                day=date.fromisoformat(day) if day else None,
                days_since_visit=(period.as_of - datetime.fromisoformat(r[7])).days,
                value_fen=int(r[8] or 0), masked=masked,
            ))
    return tuple(_after_calls(db, out, period.end))
