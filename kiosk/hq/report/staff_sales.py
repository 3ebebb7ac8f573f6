"""The report's staff section (销售业绩): per staff member and per store where the sale happened,
over the period, the cards sold, the top-ups credited to them and the sales rewards the rules gave
(每出售一张会员卡奖励, 一次性储值奖励), each taken from the transactions themselves (the kiosk wrote
the reward in force at the sale), so a later rules change never rewrites a past month."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hq.db import Database
from kiosk.hq.report.model import HQ_STORE, Period, sql_time
from kiosk.hq.staff import all_staff, ensure_table

SALE_KINDS = ("sign_up", "top_up", "card_fee")


@dataclass(frozen=True)
class StaffSales:
    store: str  # where the sales happened (the kiosk's store; HQ's own: "HQ")
    staff_id: str
    name: str  # from HQ's staff table; "" when HQ does not know the id yet
    home_store: str
    cards_sold: int
    topups: int
    topup_fen: int
    fees_fen: int  # card fees collected with their sales
    reward_fen: int


def staff_sales(db: Database, period: Period, store: str | None = None) -> tuple[StaffSales, ...]:
    ensure_table(db)
    body = "CAST(e.body AS jsonb)" if db.dialect == "postgresql" else "e.body"
    staff = db.json_text(body, "staff_id")
    reward = f"COALESCE(CAST({db.json_text(body, 'staff_reward_fen')} AS BIGINT), 0)"
    amount = f"COALESCE(CAST({db.json_text(body, 'amount_fen')} AS BIGINT), 0)"
    at = db.bytewise("e.at")
    rows = db.all(
        f"SELECT COALESCE(d.store, '{HQ_STORE}') AS place, {staff} AS staff_id, "
        "SUM(CASE WHEN e.kind = 'sign_up' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN e.kind = 'top_up' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN e.kind = 'top_up' THEN {amount} ELSE 0 END), "
        f"SUM(CASE WHEN e.kind = 'card_fee' THEN {amount} ELSE 0 END), "
        f"SUM({reward}) "
        "FROM events e LEFT JOIN devices d ON d.device_id = e.device_id "
        f"WHERE e.kind IN {SALE_KINDS!r} AND {at} >= ? AND {at} < ? AND {staff} IS NOT NULL AND {staff} <> '' "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        (sql_time(period.start_at), sql_time(period.as_of)),
    )
    known = all_staff(db)
    out = []
    for place, staff_id, cards, topups, topup_fen, fees_fen, reward_fen in rows:
        if store is not None and place != store:
            continue
        who = known.get(staff_id)
        out.append(StaffSales(place, staff_id, who.name if who else "", who.store if who else "",
                              int(cards), int(topups), int(topup_fen), int(fees_fen), int(reward_fen)))
    return tuple(out)
