"""The staff's follow-up call lists: calls due after a first purchase, dormant members to win
back, birthdays this week (definitions: kiosk/hq/report/model.py)."""

from __future__ import annotations

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
    return tuple(out)
