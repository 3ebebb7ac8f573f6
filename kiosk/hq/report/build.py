"""The report's figures computed in SQL (definitions: kiosk/hq/report/model.py)."""

from __future__ import annotations

from datetime import date, timedelta

from kiosk.hq.db import Database
from kiosk.hq.report.followups import (
    follow_ups,
)
from kiosk.hq.report.model import (
    CHAIN,
    HQ_STORE,
    Engagement,
    Pareto,
    Period,
    Report,
    ReportError,
    RfmCell,
    SegmentCount,
    StoreMetrics,
    ValueShare,
    sql_time,
)
from kiosk.hq.report.staff_sales import staff_sales
from kiosk.ledger.kinds import VISITS
from kiosk.ledger.model import add_months
from kiosk.ledger.rules import Rules
from kiosk.ledger.state import TIER_WINDOW


def _kinds(kinds) -> str:
    return "(" + ",".join(f"'{k}'" for k in sorted(str(k) for k in kinds)) + ")"


def _tier_case(rules: Rules) -> str:
    parts = [f"WHEN topup_12m >= {t.min_topup_12m_fen} THEN '{t.id}'" for t in reversed(rules.tiers[1:])]
    return f"CASE {' '.join(parts)} ELSE '{rules.tiers[0].id}' END" if parts else f"'{rules.tiers[0].id}'"


# -- building the report -----------------------------------------------------------------------


def build_report(
    db: Database,
    rules: Rules,
    period: Period,
    store: str | None = None,
    sales: dict[str, int] | None = None,
    due_days: int = 7,
) -> Report:
    """Compute every section. `store`: one store's members (and phone numbers unmasked for it)."""
    if period.end < period.start:
        raise ReportError(f"--from {period.start} is after --to {period.end}")
    if due_days < 1:
        raise ReportError("--due-days must be at least 1")
    stores = tuple(r[0] for r in db.all("SELECT DISTINCT store FROM devices ORDER BY store"))
    if db.dialect == "postgresql":
        # One aggregation over every event: enough memory to keep its hash table off disk, and
        # no JIT (compiling costs more than it saves on a query that runs once).
        db.execute("SET work_mem = '64MB'")
        db.execute("SET jit = off")
    try:
        _member_table(db, rules, period)
        known = {r[0] for r in db.all("SELECT DISTINCT home_store FROM report_members")}
        if store is not None and store not in stores and store not in known:
            raise ReportError(f"unknown store {store!r} (stores: {', '.join(stores) or 'none'})")
        scope, params = ("WHERE home_store = ?", (store,)) if store is not None else ("", ())
        seg = _segments(db, scope, params)
        happened = _period_rows(db, period)
        return Report(
            period=period,
            store=store,
            rules_version=rules.version,
            tiers=tuple(t.id for t in rules.tiers),
            thresholds=(rules.segments.active_days, rules.segments.at_risk_days, rules.segments.dormant_days),
            segments=seg,
            rfm=_rfm(db, scope, params),
            pareto=_one_store(_pareto(db, scope, params), store),
            pareto_curve=_pareto_curve(db, scope, params),
            metrics=_one_store(_metrics(db, period, scope, params), store),
            new_by_month=_new_by_month(db, period, scope, params),
            value_share=_value_share(happened, store, sales),
            engagement=_engagement(db, period, happened, store),
            follow_ups=follow_ups(db, period, store, due_days),
            stores=tuple(sorted(set(stores) | known)),
            staff=staff_sales(db, period, store),
        )
    finally:
        db.execute("DROP TABLE IF EXISTS report_members")
        if db.dialect == "postgresql":
            db.execute("RESET work_mem")
            db.execute("RESET jit")


def _member_table(db: Database, rules: Rules, period: Period) -> None:
    """One pass over events: a row per member with what every section needs (temp table)."""
    off = period.offset_minutes
    as_of = period.as_of
    cuts = rules.segments
    p = {
        "asof": sql_time(as_of),
        "start": sql_time(period.start_at),
        "tier_since": sql_time(as_of - TIER_WINDOW),
        "active": sql_time(as_of - timedelta(days=cuts.active_days)),
        "at_risk": sql_time(as_of - timedelta(days=cuts.at_risk_days)),
        "dormant": sql_time(as_of - timedelta(days=cuts.dormant_days)),
    }
    visits = _kinds(VISITS)
    birthday = db.json_text("mb.doc", "birthday")
    name = db.json_text("mb.doc", "name")
    doc = "CAST(body AS jsonb)" if db.dialect == "postgresql" else "body"
    db.execute("DROP TABLE IF EXISTS report_members")
    sql = f"""
    CREATE TEMP TABLE report_members AS
    WITH agg AS (
      SELECT member_id,
        MIN(CASE WHEN kind = 'sign_up' THEN at END) AS joined_at,
        MIN(CASE WHEN kind = 'sign_up' THEN device_id END) AS signup_device,
        MAX(CASE WHEN kind IN {visits} AND at < ? THEN at END) AS last_visit,
        MIN(CASE WHEN kind IN {visits} AND at >= ? AND at < ? THEN at END) AS first_visit_p,
        MAX(CASE WHEN kind IN {visits} AND at >= ? AND at < ? THEN at END) AS last_visit_p,
        MIN(CASE WHEN kind = 'spend' AND at < ? THEN at END) AS first_purchase,
        SUM(CASE WHEN kind = 'spend' AND at >= ? AND at < ? THEN 1 ELSE 0 END) AS purchases,
        SUM(CASE WHEN kind = 'spend' AND at >= ? AND at < ? THEN amount_fen ELSE 0 END) AS value_fen,
        SUM(CASE WHEN kind = 'top_up' AND at > ? AND at < ? THEN amount_fen ELSE 0 END) AS topup_12m,
        SUM(CASE WHEN kind = 'check_in' AND at >= ? AND at < ? THEN 1 ELSE 0 END) AS checkins_p,
        MAX(CASE WHEN kind = 'card_return' THEN at END) AS last_return
      FROM (SELECT member_id, kind, device_id, amount_fen, {db.bytewise('at')} AS at FROM events) e
      GROUP BY member_id
    ),
    joined AS (
      SELECT a.*, COALESCE(d.store, '{HQ_STORE}') AS home_store,
        COALESCE(mb.phone, '') AS phone, COALESCE(mb.status, '') AS status,
        {birthday} AS birthday, COALESCE({name}, '') AS name
      FROM agg a
      LEFT JOIN devices d ON d.device_id = a.signup_device
      LEFT JOIN (SELECT member_id, phone, status, {doc} AS doc FROM members) mb ON mb.member_id = a.member_id
      WHERE a.joined_at IS NOT NULL AND a.joined_at < ?
    )
    SELECT member_id, home_store, phone, name, birthday, joined_at, last_visit, first_visit_p, last_visit_p,
      first_purchase, purchases, value_fen, topup_12m, checkins_p,
      {db.local_day('joined_at', off)} AS joined_day,
      {db.local_day('last_visit', off)} AS last_visit_day,
      {db.local_day('first_visit_p', off)} AS first_visit_day_p,
      {db.local_day('last_visit_p', off)} AS last_visit_day_p,
      {db.local_day('first_purchase', off)} AS first_purchase_day,
      {_tier_case(rules)} AS tier,
      CASE WHEN status = 'closed' AND last_return < ? THEN 'lost'
           WHEN last_visit > ? THEN 'active'
           WHEN last_visit > ? THEN 'at_risk'
           WHEN last_visit > ? THEN 'dormant'
           ELSE 'lost' END AS segment
    FROM joined
    """
    a, s = p["asof"], p["start"]
    params = (a, s, a, s, a, a, s, a, s, a, p["tier_since"], a, s, a, a, a, p["active"], p["at_risk"], p["dormant"])
    db.execute(sql, params)


def _one_store(rows: tuple, store: str | None) -> tuple:
    """With --store, the chain-wide row would only repeat the store's: leave it out."""
    return rows if store is None else tuple(r for r in rows if r.store != CHAIN)


def _segments(db: Database, scope: str, params: tuple) -> tuple[SegmentCount, ...]:
    rows = db.all(
        f"SELECT home_store, tier, segment, COUNT(*) FROM report_members {scope} "
        "GROUP BY home_store, tier, segment ORDER BY home_store, tier, segment",
        params,
    )
    return tuple(SegmentCount(r[0], r[1], r[2], int(r[3])) for r in rows)


def _buyers(scope: str) -> str:
    return f"{scope} {'AND' if scope else 'WHERE'} purchases > 0"


def _rfm(db: Database, scope: str, params: tuple) -> tuple[RfmCell, ...]:
    rows = db.all(
        f"""
        SELECT r, f, m, COUNT(*), SUM(value_fen) FROM (
          SELECT value_fen,
            1 + 5 * (RANK() OVER (ORDER BY last_visit_day) - 1) / COUNT(*) OVER () AS r,
            1 + 5 * (RANK() OVER (ORDER BY purchases) - 1) / COUNT(*) OVER () AS f,
            1 + 5 * (RANK() OVER (ORDER BY value_fen) - 1) / COUNT(*) OVER () AS m
          FROM report_members {_buyers(scope)}
        ) scored GROUP BY r, f, m ORDER BY r, f, m""",
        params,
    )
    return tuple(RfmCell(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows)


def _pareto(db: Database, scope: str, params: tuple) -> tuple[Pareto, ...]:
    out = []
    for partition, group, label in (("PARTITION BY home_store", "home_store", "home_store"), ("", "", f"'{CHAIN}'")):
        rows = db.all(
            f"""
            SELECT {label}, COUNT(*), SUM(CASE WHEN (rn - 1) * 5 < n THEN 1 ELSE 0 END),
              SUM(value_fen), SUM(CASE WHEN (rn - 1) * 5 < n THEN value_fen ELSE 0 END)
            FROM (
              SELECT home_store, value_fen,
                ROW_NUMBER() OVER ({partition} ORDER BY value_fen DESC, member_id) AS rn,
                COUNT(*) OVER ({partition}) AS n
              FROM report_members {_buyers(scope)}
            ) ranked {'GROUP BY ' + group if group else ''} ORDER BY 1""",
            params,
        )
        out += [Pareto(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows if r[1]]
    return tuple(out)


def _pareto_curve(db: Database, scope: str, params: tuple) -> tuple[tuple[int, int], ...]:
    rows = db.all(
        f"""
        SELECT 1 + (rn - 1) * 10 / n AS decile, SUM(value_fen) FROM (
          SELECT value_fen, ROW_NUMBER() OVER (ORDER BY value_fen DESC, member_id) AS rn, COUNT(*) OVER () AS n
          FROM report_members {_buyers(scope)}
        ) ranked GROUP BY 1 ORDER BY 1""",
        params,
    )
    return tuple((int(r[0]), int(r[1])) for r in rows)


def _metrics(db: Database, period: Period, scope: str, params: tuple) -> tuple[StoreMetrics, ...]:
    rows = db.all(
        f"""
        SELECT home_store, COUNT(*),
          SUM(CASE WHEN joined_at >= ? THEN 1 ELSE 0 END),
          SUM(CASE WHEN segment = 'lost' THEN 1 ELSE 0 END),
          SUM(CASE WHEN first_visit_p IS NOT NULL THEN 1 ELSE 0 END),
          SUM(CASE WHEN first_visit_day_p <> last_visit_day_p THEN 1 ELSE 0 END),
          SUM(CASE WHEN purchases > 0 THEN 1 ELSE 0 END),
          SUM(value_fen)
        FROM report_members {scope} GROUP BY home_store ORDER BY home_store""",
        (sql_time(period.start_at), *params),
    )
    per_store = [StoreMetrics(r[0], *(int(v or 0) for v in r[1:]), months=period.months) for r in rows]
    chain = StoreMetrics(
        CHAIN, *(sum(getattr(m, f) for m in per_store) for f in
                 ("members", "new_members", "lost", "visitors", "repeat_visitors", "buyers", "value_fen")),
        months=period.months,
    )
    return tuple(per_store) + (chain,)


def _new_by_month(db: Database, period: Period, scope: str, params: tuple) -> tuple[tuple[str, int], ...]:
    where = f"{scope} {'AND' if scope else 'WHERE'} joined_at >= ?"
    rows = db.all(
        f"SELECT substr(joined_day, 1, 7), COUNT(*) FROM report_members {where} GROUP BY 1 ORDER BY 1",
        (*params, sql_time(period.start_at)),
    )
    found = {r[0]: int(r[1]) for r in rows}
    months, day = [], date(period.start.year, period.start.month, 1)
    while day <= period.end:
        months.append(day.strftime("%Y-%m"))
        day = add_months(day, 1)
    return tuple((m, found.get(m, 0)) for m in months)


def _period_rows(db: Database, period: Period) -> list[tuple]:
    """One pass over the period's spends, check-ins, referral rewards, surveys and sign-ups,
    grouped by the store where they happened: (store, kind, rating, reasons, referred, count,
    value). JSON is read only for surveys and sign-ups, once per row."""
    if db.dialect == "postgresql":
        doc = "CASE WHEN e.kind IN ('survey', 'sign_up') THEN CAST(e.body AS jsonb) END"
        fence = "OFFSET 0"  # keep the subquery: the cast then runs once per row, not per field
    else:
        doc, fence = "CASE WHEN e.kind IN ('survey', 'sign_up') THEN e.body END", ""
    return db.all(
        f"""
        SELECT store, kind,
          CASE WHEN kind = 'survey' THEN {db.json_text('doc', 'rating')} END,
          CASE WHEN kind = 'survey' THEN {db.json_text('doc', 'reasons')} END,
          CASE WHEN kind = 'sign_up' AND COALESCE({db.json_text('doc', 'referrer_id')}, '') <> ''
               THEN 1 ELSE 0 END,
          COUNT(*), SUM(amount_fen)
        FROM (
          SELECT COALESCE(d.store, '{HQ_STORE}') AS store, e.kind, e.amount_fen, {doc} AS doc
          FROM events e LEFT JOIN devices d ON d.device_id = e.device_id
          WHERE e.kind IN ('spend', 'check_in', 'referral_reward', 'survey', 'sign_up')
            AND {db.bytewise('e.at')} >= ? AND {db.bytewise('e.at')} < ? {fence}
        ) happened
        GROUP BY 1, 2, 3, 4, 5""",
        (sql_time(period.start_at), sql_time(period.as_of)),
    )


def _value_share(rows: list[tuple], store: str | None, sales: dict[str, int] | None) -> tuple[ValueShare, ...]:
    """Member spend where it happened (the device's store), against --sales when given."""
    spent: dict[str, list[int]] = {}
    for place, kind, _, _, _, count, value in rows:
        if kind == "spend":
            total = spent.setdefault(place, [0, 0])
            total[0] += int(count)
            total[1] += int(value or 0)
    sales = sales or {}
    out = []
    for place in sorted(set(spent) | set(sales)):
        purchases, value = spent.get(place, (0, 0))
        out.append(ValueShare(place, value, purchases, sales.get(place)))
    if store is not None:
        return tuple(v for v in out if v.store == store) or (ValueShare(store, 0, 0, sales.get(store)),)
    chain_sales = sum(sales.values()) if sales else None
    chain = ValueShare(CHAIN, sum(v.member_value_fen for v in out), sum(v.purchases for v in out), chain_sales)
    return tuple(out) + (chain,)


def _engagement(db: Database, period: Period, rows: list[tuple], store: str | None) -> tuple[Engagement, ...]:
    """Check-ins, referrals and surveys by the store of the kiosk where they happened."""
    members = {
        r[0]: int(r[1])
        for r in db.all(
            f"SELECT COALESCE(d.store, '{HQ_STORE}'), COUNT(DISTINCT e.member_id) FROM events e "
            "LEFT JOIN devices d ON d.device_id = e.device_id "
            f"WHERE e.kind = 'check_in' AND {db.bytewise('e.at')} >= ? AND {db.bytewise('e.at')} < ? GROUP BY 1",
            (sql_time(period.start_at), sql_time(period.as_of)),
        )
    }
    stores: dict[str, dict] = {}
    for place, kind, rating, reasons, referred, count, _ in rows:
        if kind == "spend" or store not in (None, place):
            continue
        e = stores.setdefault(place, _tally())
        count = int(count)
        if kind == "check_in":
            e["check_in"] += count
        elif kind == "referral_reward":
            e["referral_reward"] += count
        elif kind == "sign_up":
            e["referred"] += count * int(referred)
        elif kind == "survey" and rating is not None and 1 <= int(rating) <= 5:
            e["ratings"][int(rating) - 1] += count
            for reason in filter(None, (reasons or "").split(",")):
                e["reasons"][reason] = e["reasons"].get(reason, 0) + count
    out = [_engagement_row(name, e, members.get(name, 0)) for name, e in sorted(stores.items())]
    if store is None and out:
        chain = _tally()
        for e in stores.values():
            for key in ("check_in", "referred", "referral_reward"):
                chain[key] += e[key]
            chain["ratings"] = [a + b for a, b in zip(chain["ratings"], e["ratings"], strict=True)]
            for reason, n in e["reasons"].items():
                chain["reasons"][reason] = chain["reasons"].get(reason, 0) + n
        row = db.one("SELECT COUNT(*) FROM report_members WHERE checkins_p > 0")
        out.append(_engagement_row(CHAIN, chain, int(row[0]) if row else 0))
    return tuple(out)


def _tally() -> dict:
    return {"check_in": 0, "referred": 0, "referral_reward": 0, "ratings": [0] * 5, "reasons": {}}


def _engagement_row(store: str, e: dict, checkin_members: int) -> Engagement:
    reasons = tuple(sorted(e["reasons"].items(), key=lambda kv: (-kv[1], kv[0])))
    return Engagement(store, e["check_in"], checkin_members, e["referred"], e["referral_reward"], tuple(e["ratings"]), reasons)


# -- follow-ups --------------------------------------------------------------------------------
