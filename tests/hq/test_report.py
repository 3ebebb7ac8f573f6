"""`kiosk hq report` on generated histories: every section against answers worked out here in
plain Python from the generated transactions (not from SQL), on SQLite and real PostgreSQL."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hq.db import open_database
from kiosk.hq.report.build import build_report
from kiosk.hq.report.followups import birthday_keys, mask_phone
from kiosk.hq.report.html import render_html
from kiosk.hq.report.migration import has_amount_column, migrate
from kiosk.hq.report.model import CHAIN, HQ_STORE, Period, ReportError
from kiosk.hq.report.tables import render_text
from kiosk.hq.schema import create_schema
from kiosk.ledger.model import add_months
from kiosk.ledger.sample import default_rules
from kiosk.ledger.txn import Kind, Txn
from tests.fixtures import report_history

VISIT_KINDS = {"sign_up", "top_up", "spend", "redemption", "birthday_gift", "new_member_gift", "check_in"}
RULES = default_rules()


@dataclass
class Truth:
    """One member as the report should see it, worked out from the transactions."""

    member_id: str
    home: str
    phone: str
    name: str
    birthday: date | None
    joined: datetime
    last_visit: datetime
    visit_days_in_period: set
    purchases: int
    value: int
    first_purchase: datetime | None
    topup_12m: int
    closed: bool

    @property
    def buyer(self) -> bool:
        return self.purchases > 0


def local_day(at: datetime) -> date:
    return (at + timedelta(hours=8)).date()  # Asia/Shanghai: UTC+8 all year


def truth_of(history, period: Period) -> dict[str, Truth]:
    as_of, start = period.as_of, period.start_at
    by_member: dict[str, list[Txn]] = {}
    for t in history.txns:
        by_member.setdefault(t.member_id, []).append(t)
    out = {}
    for mid, txns in by_member.items():
        txns.sort(key=lambda t: t.at)
        signup = next(t for t in txns if t.kind is Kind.SIGN_UP)
        if signup.at >= as_of:
            continue
        before = [t for t in txns if t.at < as_of]
        in_period = [t for t in before if t.at >= start]
        spends = [t for t in in_period if t.kind is Kind.SPEND]
        cards = set()
        for t in before:
            if t.kind is Kind.SIGN_UP:
                cards.add(t.card_uid)
            elif t.kind is Kind.CARD_RETURN:
                cards.discard(t.card_uid)
        out[mid] = Truth(
            member_id=mid,
            home=history.device_stores.get(signup.device_id, HQ_STORE),
            phone=signup.phone,
            name=signup.name,
            birthday=signup.birthday,
            joined=signup.at,
            last_visit=max(t.at for t in before if t.kind.value in VISIT_KINDS),
            visit_days_in_period={local_day(t.at) for t in in_period if t.kind.value in VISIT_KINDS},
            purchases=len(spends),
            value=sum(t.amount_fen for t in spends),
            first_purchase=min((t.at for t in before if t.kind is Kind.SPEND), default=None),
            topup_12m=sum(t.amount_fen for t in before if t.kind is Kind.TOP_UP and t.at > as_of - timedelta(days=366)),
            closed=not cards,
        )
    return out


def segment_of(m: Truth, as_of: datetime) -> str:
    if m.closed:
        return "lost"
    days = (as_of - m.last_visit).days  # whole days, rounded down
    if days < 30:
        return "active"
    if days < 90:
        return "at_risk"
    if days < 180:
        return "dormant"
    return "lost"


def tier_of(m: Truth) -> str:
    tier = "regular"
    for threshold, name in ((100000, "silver"), (500000, "gold"), (2000000, "platinum")):
        if m.topup_12m >= threshold:
            tier = name
    return tier


def quintile(values: list, mine) -> int:
    rank = 1 + sum(1 for v in values if v < mine)
    return 1 + 5 * (rank - 1) // len(values)


def expected_rfm(members: list[Truth]) -> dict[tuple[int, int, int], tuple[int, int]]:
    buyers = [m for m in members if m.buyer]
    r_values = [local_day(m.last_visit) for m in buyers]
    f_values = [m.purchases for m in buyers]
    m_values = [m.value for m in buyers]
    cells: dict[tuple[int, int, int], tuple[int, int]] = {}
    for m in buyers:
        key = (quintile(r_values, local_day(m.last_visit)), quintile(f_values, m.purchases), quintile(m_values, m.value))
        n, v = cells.get(key, (0, 0))
        cells[key] = (n + 1, v + m.value)
    return cells


def expected_pareto(members: list[Truth]) -> tuple[int, int, int, int]:
    buyers = sorted((m for m in members if m.buyer), key=lambda m: (-m.value, m.member_id))
    top = buyers[: math.ceil(len(buyers) / 5)]
    return len(buyers), len(top), sum(m.value for m in buyers), sum(m.value for m in top)


def expected_calls(members: list[Truth], to: date, step) -> list[str]:
    window = {to - timedelta(days=i) for i in range(7)}
    return sorted(
        m.member_id
        for m in members
        if m.first_purchase and step(local_day(m.first_purchase)) in window and not m.closed
    )


def birthday_in_week(birthday: date, to: date) -> bool:
    monday = to - timedelta(days=to.weekday())
    for i in range(7):
        day = monday + timedelta(days=i)
        try:
            if birthday.replace(year=day.year) == day:
                return True
        except ValueError:  # 29 February in a common year: celebrated on the 28th
            if day == date(day.year, 2, 28):
                return True
    return False


@pytest.fixture(scope="module")
def histories():
    return {seed: report_history.generate(seed) for seed in (1, 2)}


@pytest.fixture
def loaded(hq_db, histories, request):
    seed = getattr(request, "param", 1)
    migrate(hq_db)
    report_history.load(hq_db, histories[seed])
    return hq_db, histories[seed]


def check_report(db, history, period: Period, store: str | None) -> None:
    truth = truth_of(history, period)
    scope = [m for m in truth.values() if store is None or m.home == store]
    report = build_report(db, RULES, period, store=store)
    as_of = period.as_of

    # segments by tier and activity, per store
    expected = Counter((m.home, tier_of(m), segment_of(m, as_of)) for m in scope)
    got = Counter({(c.store, c.tier, c.segment): c.members for c in report.segments})
    assert got == expected
    assert sum(expected.values()) == len(scope) > 0

    # RFM quintiles over the period's buyers
    got_rfm = {(c.r, c.f, c.m): (c.members, c.value_fen) for c in report.rfm}
    assert got_rfm == expected_rfm(scope)

    # Pareto per store and for the chain
    stores = sorted({m.home for m in scope})
    for s in stores + ([] if store else [CHAIN]):
        members = [m for m in scope if s in (CHAIN, m.home)]
        if not any(m.buyer for m in members):
            continue
        p = next(p for p in report.pareto if p.store == s)
        assert (p.buyers, p.top_buyers, p.value_fen, p.top_value_fen) == expected_pareto(members)

    # programme metrics
    for s in stores + ([] if store else [CHAIN]):
        members = [m for m in scope if s in (CHAIN, m.home)]
        got_m = next(x for x in report.metrics if x.store == s)
        new = sum(1 for m in members if m.joined >= period.start_at)
        lost = sum(1 for m in members if segment_of(m, as_of) == "lost")
        visitors = [m for m in members if m.visit_days_in_period]
        repeat = sum(1 for m in visitors if len(m.visit_days_in_period) >= 2)
        assert (got_m.members, got_m.new_members, got_m.lost) == (len(members), new, lost)
        assert (got_m.visitors, got_m.repeat_visitors) == (len(visitors), repeat)
        assert got_m.buyers == sum(1 for m in members if m.buyer)
        assert got_m.value_fen == sum(m.value for m in members)
        assert got_m.activation_rate == pytest.approx(new / (period.days / 30.4375) / len(members))
        assert got_m.churn_rate == pytest.approx(lost / len(members))
        assert got_m.repeat_rate == (pytest.approx(repeat / len(visitors)) if visitors else None)

    # new members per local month of the period
    months = Counter(local_day(m.joined).strftime("%Y-%m") for m in scope if m.joined >= period.start_at)
    assert dict(report.new_by_month) == {k: months.get(k, 0) for k, _ in report.new_by_month}
    assert sum(n for _, n in report.new_by_month) == sum(months.values())

    # member value where it was spent (device's store); non-member sales unknown without --sales
    spends = [t for t in history.txns if t.kind is Kind.SPEND and period.start_at <= t.at < as_of]
    by_store = Counter()
    for t in spends:
        by_store[history.device_stores.get(t.device_id, HQ_STORE)] += t.amount_fen
    for v in report.value_share:
        if v.store == CHAIN:
            assert v.member_value_fen == sum(by_store.values())
        else:
            assert v.member_value_fen == by_store[v.store]
        assert v.sales_fen is None and v.share is None

    # check-ins, referrals and surveys at each store's kiosks
    def place(t):
        return history.device_stores.get(t.device_id, HQ_STORE)

    happened = [t for t in history.txns if period.start_at <= t.at < as_of and store in (None, place(t))]
    places = sorted({place(t) for t in happened if t.kind.value in ("check_in", "referral_reward", "survey", "sign_up")})
    got_e = {e.store: e for e in report.engagement}
    assert list(got_e) == places + ([CHAIN] if store is None and places else [])
    for s in got_e:
        evs = [t for t in happened if s in (CHAIN, place(t))]
        checks = [t for t in evs if t.kind is Kind.CHECK_IN]
        surveys = [t for t in evs if t.kind is Kind.SURVEY]
        reasons = Counter(r for t in surveys for r in t.reasons.split(",") if r)
        e = got_e[s]
        assert (e.check_ins, e.checkin_members) == (len(checks), len({t.member_id for t in checks}))
        assert e.referred_sign_ups == sum(1 for t in evs if t.kind is Kind.SIGN_UP and t.referrer_id)
        assert e.referral_rewards == sum(1 for t in evs if t.kind is Kind.REFERRAL_REWARD)
        assert e.ratings == tuple(sum(1 for t in surveys if t.rating == i) for i in range(1, 6))
        assert dict(e.reasons) == dict(reasons)
        if surveys:
            assert e.average_rating == pytest.approx(sum(t.rating for t in surveys) / len(surveys))

    # follow-up lists
    def listed(name):
        return sorted(f.member_id for f in report.follow_ups if f.list_name == name)

    to = period.end
    assert listed("call_3_days") == expected_calls(scope, to, lambda d: d + timedelta(days=3))
    assert listed("call_3_weeks") == expected_calls(scope, to, lambda d: d + timedelta(days=21))
    assert listed("call_3_months") == expected_calls(scope, to, lambda d: add_months(d, 3))
    assert listed("win_back") == sorted(m.member_id for m in scope if segment_of(m, as_of) == "dormant")
    assert listed("birthday") == sorted(
        m.member_id for m in scope
        if m.birthday and birthday_in_week(m.birthday, to) and segment_of(m, as_of) != "lost"
    )
    for f in report.follow_ups:
        m = truth[f.member_id]
        assert f.days_since_visit == (as_of - m.last_visit).days
        assert f.segment == segment_of(m, as_of) and f.tier == tier_of(m) and f.value_fen == m.value
        if store is not None and m.home == store:
            assert (f.phone, f.name, f.masked) == (m.phone, m.name, False)
        else:
            assert f.phone == m.phone[:3] + "****" + m.phone[-4:] and f.masked
            assert f.phone != m.phone
    return report


@pytest.mark.parametrize("loaded", [1, 2], indirect=True)
def test_chain_report_matches_the_events(loaded):
    db, history = loaded
    report = check_report(db, history, history.period, None)
    # the generated history reaches every segment, every list and the HQ store
    assert {c.segment for c in report.segments} == {"active", "at_risk", "dormant", "lost"}
    assert {f.list_name for f in report.follow_ups} == {
        "call_3_days", "call_3_weeks", "call_3_months", "win_back", "birthday"}
    assert HQ_STORE in {c.store for c in report.segments}


@pytest.mark.parametrize("store", ["S1", "S2", HQ_STORE])
def test_store_report_matches_the_events_and_shows_its_own_phones(loaded, store):
    db, history = loaded
    report = check_report(db, history, history.period, store)
    assert {c.store for c in report.segments} == {store}
    assert all(not f.masked for f in report.follow_ups)


def test_other_periods_ignore_later_events(loaded):
    db, history = loaded
    for period in (Period(date(2025, 9, 1), date(2025, 12, 31), "Asia/Shanghai"),
                   Period(date(2026, 8, 1), date(2026, 8, 10), "Asia/Shanghai")):
        check_report(db, history, period, None)


def test_language_collated_postgresql_orders_times_bytewise(postgres_server, histories):
    """On a database whose text collation is a language's (ICU en-US here), '...:00.5+00:00'
    sorts before '...:00+00:00'; the report must still compare stored times in time order."""
    import psycopg

    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE icu_en TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    try:
        db = open_database(postgres_server.dsn("icu_en"))
        create_schema(db)
        migrate(db)
        assert db.one("SELECT '2026-05-01T10:00:00.5+00:00' < '2026-05-01T10:00:00+00:00'")[0] is True
        report_history.load(db, histories[1])
        check_report(db, histories[1], histories[1].period, None)
        db.close()
    finally:
        postgres_server.drop_database("icu_en")


def test_thresholds_come_from_the_rules_in_force(loaded):
    db, history = loaded
    rules = replace(RULES, segments=replace(RULES.segments, active_days=7, at_risk_days=14, dormant_days=21))
    report = build_report(db, rules, history.period)
    truth = truth_of(history, history.period)
    as_of = history.period.as_of

    def seg(m):
        days = (as_of - m.last_visit).days
        return "lost" if m.closed or days >= 21 else "dormant" if days >= 14 else "at_risk" if days >= 7 else "active"

    got = Counter()
    for c in report.segments:
        got[(c.store, c.segment)] += c.members
    assert got == Counter((m.home, seg(m)) for m in truth.values())
    assert got != Counter((m.home, segment_of(m, as_of)) for m in truth.values())


def test_migration_is_idempotent_and_amounts_match_the_bodies(hq_db):
    assert not has_amount_column(hq_db)
    assert migrate(hq_db) is True
    assert migrate(hq_db) is False
    history = report_history.generate(3, members=5)
    report_history.load(hq_db, history)
    stored = dict(((d, int(s)), int(a)) for d, s, a in hq_db.all("SELECT device_id, seq, amount_fen FROM events"))
    assert stored == {(t.device_id, t.seq): t.amount_fen for t in history.txns}


def test_bad_requests_are_refused(loaded):
    db, history = loaded
    with pytest.raises(ReportError, match="after"):
        build_report(db, RULES, Period(date(2026, 2, 1), date(2026, 1, 1), "Asia/Shanghai"))
    with pytest.raises(ReportError, match="unknown store 'S9'"):
        build_report(db, RULES, history.period, store="S9")


def test_empty_database_reports_zeroes(tmp_path):
    db = open_database(str(tmp_path / "hq.sqlite3"))
    create_schema(db)
    migrate(db)
    report = build_report(db, RULES, report_history.PERIOD)
    assert report.segments == () and report.rfm == () and report.follow_ups == ()
    assert report.metrics[-1].members == 0 and report.metrics[-1].churn_rate is None
    assert "(none)" in render_text(report)
    assert "data:image/png;base64," in render_html(report)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(10, 10**6), members=st.integers(1, 30), end=st.dates(date(2025, 8, 1), date(2026, 8, 19)))
def test_any_history_and_period_sqlite(tmp_path_factory, seed, members, end):
    db = open_database(str(tmp_path_factory.mktemp("prop") / "hq.sqlite3"))
    create_schema(db)
    migrate(db)
    history = report_history.generate(seed, members=members)
    report_history.load(db, history)
    period = Period(end - timedelta(days=seed % 400), end, "Asia/Shanghai")
    check_report(db, history, period, None)
    s2_members = [t for t in history.txns if t.kind is Kind.SIGN_UP and t.device_id == "K3" and t.at < period.as_of]
    if s2_members:
        check_report(db, history, period, "S2")
    db.close()


@given(birthday=st.dates(date(1920, 1, 1), date(2010, 12, 31)), today=st.dates(date(2020, 1, 1), date(2040, 12, 31)))
def test_birthday_week_matches_a_plain_calendar_walk(birthday, today):
    assert (birthday.strftime("%m-%d") in birthday_keys(today)) == birthday_in_week(birthday, today)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_phone_keeps_only_the_ends(phone):
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:] and len(masked) == len(phone)
