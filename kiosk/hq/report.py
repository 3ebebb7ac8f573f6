"""Member analytics for HQ (`kiosk hq report`): segments, RFM, programme metrics, follow-ups.

Everything is aggregated in SQL (one pass over `events` into a per-member temp table, then
small GROUP BY / window queries on it), so a chain with millions of transactions reports in
seconds on PostgreSQL and SQLite alike. Definitions (the test suite recomputes each one in
plain Python from the generated events):

- period: --from/--to are local dates in the rules' time zone; the report looks at events
  from `from` 00:00 to the end of `to` ("as of" = the instant after `to`). Events after it are
  ignored, so a past period reports as it was.
- visit: a transaction of a kind the ledger counts as a visit (KindSpec.visit in kiosk.ledger.kinds:
  sign-up, top-up, spend, redemption, gifts, check-in). purchase: a SPEND; value: its amount.
- member: signed up before "as of". home store: the store of the device that signed the
  member up (HQ's `devices` table); members signed up at HQ itself are in store "HQ".
  Store figures cover the store's own members (their visits and value anywhere in the chain),
  except the member share of sales and engagement, grouped by the kiosk where things happened.
- activity segment, by whole days since the last visit up to "as of", with the thresholds in
  the rules in force (rules.segments): active < active_days <= at risk < at_risk_days <=
  dormant < dormant_days <= lost. A member whose every card was returned is lost.
- tier: the rules' tier for the member's top-ups in the 366 days before "as of" (as the ledger).
- RFM: over the members with a purchase in the period; R ranks the local day of the last
  visit, F the number of purchases, M their value; score = 1 + 5 * (rank - 1) // n (rank =
  SQL RANK, ascending, so ties share a score): quintiles 1-5, 5 best.
- Pareto: the top 20% of buyers by value (ceil(n / 5), ties broken by member id) and their
  share of the value.
- activation rate = new members per month (period days / 30.4375) / members; churn rate =
  lost / members; repeat-visit rate = members who visited on two or more local days in the
  period / members who visited in the period.
- member value at a store's kiosks (where the spend happened) against that store's total sales
  from --sales: HQ's events hold member transactions only, so without --sales the share is
  reported as unknown and only the member value is given.
- engagement, by the store of the kiosk where it happened: check-ins (and distinct members
  checking in), sign-ups that used a referral code, referral rewards, survey ratings and the
  reasons chosen.
- local day = UTC time + the rules' zone offset at "as of" (exact for zones without daylight
  saving, such as Asia/Shanghai; SQLite has no time-zone database).
- follow-ups, as of `to`: calls due 3 days / 3 weeks / 3 months after the local day of the
  first purchase, the due day falling in the last --due-days days up to `to`; dormant members
  to win back (most value first); birthdays in the Monday-to-Sunday week holding `to`
  (29 February counts as 28 February in a common year, as the birthday gift does). Calls and
  birthdays leave lost members out (a returned card is not called).
- phone numbers and names are masked (138****8000) unless --store is the member's home store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiosk.hq.db import Database
from kiosk.ledger.kinds import VISITS
from kiosk.ledger.model import add_months
from kiosk.ledger.rules import Rules
from kiosk.ledger.state import TIER_WINDOW

SEGMENTS = ("active", "at_risk", "dormant", "lost")
SEGMENT_LABELS = {"active": "活跃 active", "at_risk": "流失风险 at risk", "dormant": "沉睡 dormant", "lost": "流失 lost"}
HQ_STORE = "HQ"
CHAIN = "*"  # the chain-wide row in per-store tables
MONTH_DAYS = 30.4375
FOLLOW_UPS = ("call_3_days", "call_3_weeks", "call_3_months", "win_back", "birthday")
FOLLOW_UP_LABELS = {
    "call_3_days": "回访: 首购后3天 / call 3 days after first purchase",
    "call_3_weeks": "回访: 首购后3周 / call 3 weeks after first purchase",
    "call_3_months": "回访: 首购后3个月 / call 3 months after first purchase",
    "win_back": "唤醒沉睡会员 / dormant members to win back",
    "birthday": "本周生日 / birthdays this week",
}


class ReportError(ValueError):
    """A report that cannot be made as asked (bad period, unknown store); says why."""


@dataclass(frozen=True)
class Period:
    start: date  # local, inclusive
    end: date  # local, inclusive
    timezone: str

    @property
    def start_at(self) -> datetime:
        return local_midnight(self.start, self.timezone)

    @property
    def as_of(self) -> datetime:
        return local_midnight(self.end + timedelta(days=1), self.timezone)

    @property
    def offset_minutes(self) -> int:
        offset = self.as_of.astimezone(ZoneInfo(self.timezone)).utcoffset() or timedelta(0)
        return int(offset.total_seconds() // 60)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def months(self) -> float:
        return self.days / MONTH_DAYS


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def sql_time(at: datetime) -> str:
    """The text form `events.at` is stored in (datetime.isoformat of a UTC time): compares in time order."""
    return at.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class SegmentCount:
    store: str
    tier: str
    segment: str
    members: int


@dataclass(frozen=True)
class RfmCell:
    r: int
    f: int
    m: int
    members: int
    value_fen: int


@dataclass(frozen=True)
class Pareto:
    store: str
    buyers: int
    top_buyers: int
    value_fen: int
    top_value_fen: int

    @property
    def top_share(self) -> float | None:
        return self.top_value_fen / self.value_fen if self.value_fen else None


@dataclass(frozen=True)
class StoreMetrics:
    store: str
    members: int
    new_members: int
    lost: int
    visitors: int
    repeat_visitors: int
    buyers: int
    value_fen: int
    months: float

    @property
    def activation_rate(self) -> float | None:
        return self.new_members / self.months / self.members if self.members else None

    @property
    def churn_rate(self) -> float | None:
        return self.lost / self.members if self.members else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeat_visitors / self.visitors if self.visitors else None


@dataclass(frozen=True)
class ValueShare:
    """Spend by members at a store's kiosks, against the store's total sales when known."""

    store: str
    member_value_fen: int
    purchases: int
    sales_fen: int | None  # all sales incl. non-members, from --sales; None: not in HQ's data

    @property
    def share(self) -> float | None:
        return self.member_value_fen / self.sales_fen if self.sales_fen else None


@dataclass(frozen=True)
class Engagement:
    """Check-ins, referrals and satisfaction surveys at a store's kiosks in the period."""

    store: str
    check_ins: int
    checkin_members: int
    referred_sign_ups: int  # sign-ups that used a referral code
    referral_rewards: int
    ratings: tuple[int, int, int, int, int]  # surveys with 1..5 stars
    reasons: tuple[tuple[str, int], ...]  # reason id -> times chosen, most first

    @property
    def surveys(self) -> int:
        return sum(self.ratings)

    @property
    def average_rating(self) -> float | None:
        return sum((i + 1) * n for i, n in enumerate(self.ratings)) / self.surveys if self.surveys else None


@dataclass(frozen=True)
class FollowUp:
    list_name: str
    member_id: str
    name: str
    phone: str
    home_store: str
    tier: str
    segment: str
    day: date | None  # first purchase (calls), last visit (win back), birthday this week
    days_since_visit: int  # whole days from the last visit to the end of the period (as segments count)
    value_fen: int  # purchases in the period
    masked: bool


@dataclass(frozen=True)
class Report:
    period: Period
    store: str | None
    rules_version: int
    tiers: tuple[str, ...]
    thresholds: tuple[int, int, int]
    segments: tuple[SegmentCount, ...]
    rfm: tuple[RfmCell, ...]
    pareto: tuple[Pareto, ...]
    pareto_curve: tuple[tuple[int, int], ...]  # (decile 1-10 of buyers, value in it), scope
    metrics: tuple[StoreMetrics, ...]
    new_by_month: tuple[tuple[str, int], ...]  # (local YYYY-MM, new members), scope
    value_share: tuple[ValueShare, ...]
    engagement: tuple[Engagement, ...]
    follow_ups: tuple[FollowUp, ...]
    stores: tuple[str, ...] = field(default=())

    def segment_total(self, store: str, segment: str) -> int:
        return sum(c.members for c in self.segments if c.segment == segment and store in (CHAIN, c.store))


# -- SQL helpers -------------------------------------------------------------------------------


def local_day_sql(db: Database, expr: str, offset_minutes: int) -> str:
    """'YYYY-MM-DD' of the UTC text time `expr` shifted to local time (NULL stays NULL)."""
    if db.dialect == "sqlite":
        return f"date({expr}, '{offset_minutes:+d} minutes')"
    return f"to_char((CAST({expr} AS timestamptz) AT TIME ZONE 'UTC') + interval '{offset_minutes} minutes', 'YYYY-MM-DD')"


def json_text_sql(db: Database, column: str, key: str) -> str:
    """A text field of a JSON column (on PostgreSQL the column must already be jsonb)."""
    if db.dialect == "sqlite":
        return f"json_extract({column}, '$.{key}')"
    return f"({column} ->> '{key}')"


def _bytewise(db: Database, expr: str) -> str:
    """Compare stored times byte by byte: a language collation (en_US, zh_CN) may skip the
    punctuation of '...:00+00:00' and '...:00.5+00:00' and misorder them."""
    return f'{expr} COLLATE "C"' if db.dialect == "postgresql" else expr


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
            follow_ups=_follow_ups(db, period, store, due_days),
            stores=tuple(sorted(set(stores) | known)),
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
    birthday = json_text_sql(db, "mb.doc", "birthday")
    name = json_text_sql(db, "mb.doc", "name")
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
      FROM (SELECT member_id, kind, device_id, amount_fen, {_bytewise(db, 'at')} AS at FROM events) e
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
      {local_day_sql(db, 'joined_at', off)} AS joined_day,
      {local_day_sql(db, 'last_visit', off)} AS last_visit_day,
      {local_day_sql(db, 'first_visit_p', off)} AS first_visit_day_p,
      {local_day_sql(db, 'last_visit_p', off)} AS last_visit_day_p,
      {local_day_sql(db, 'first_purchase', off)} AS first_purchase_day,
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
          CASE WHEN kind = 'survey' THEN {json_text_sql(db, 'doc', 'rating')} END,
          CASE WHEN kind = 'survey' THEN {json_text_sql(db, 'doc', 'reasons')} END,
          CASE WHEN kind = 'sign_up' AND COALESCE({json_text_sql(db, 'doc', 'referrer_id')}, '') <> ''
               THEN 1 ELSE 0 END,
          COUNT(*), SUM(amount_fen)
        FROM (
          SELECT COALESCE(d.store, '{HQ_STORE}') AS store, e.kind, e.amount_fen, {doc} AS doc
          FROM events e LEFT JOIN devices d ON d.device_id = e.device_id
          WHERE e.kind IN ('spend', 'check_in', 'referral_reward', 'survey', 'sign_up')
            AND {_bytewise(db, 'e.at')} >= ? AND {_bytewise(db, 'e.at')} < ? {fence}
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
            f"WHERE e.kind = 'check_in' AND {_bytewise(db, 'e.at')} >= ? AND {_bytewise(db, 'e.at')} < ? GROUP BY 1",
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


def _follow_ups(db: Database, period: Period, store: str | None, due_days: int) -> tuple[FollowUp, ...]:
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
