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
    calls: int = 0  # calls recorded for this occasion, none of them reaching the member


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
    staff: tuple = ()  # StaffSales rows (kiosk/hq/report/staff_sales.py)

    def segment_total(self, store: str, segment: str) -> int:
        return sum(c.members for c in self.segments if c.segment == segment and store in (CHAIN, c.store))
