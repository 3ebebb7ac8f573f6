"""HQ's staff report (`kiosk hq report --section staff`) on SQLite and real PostgreSQL, against
answers worked out here from the generated sales and the rules (not from the transactions'
own reward fields, nor from SQL); and 补卡 / 换卡 at HQ with their counter fees."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files

import pytest

from kiosk.hq import admin
from kiosk.hq import ledger as hq
from kiosk.hq import staff as hq_staff
from kiosk.hq.report.build import build_report
from kiosk.hq.report.migration import migrate
from kiosk.hq.report.model import HQ_STORE, Period
from kiosk.hq.report.staff_sales import staff_sales
from kiosk.hq.report.tables import render_text
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sales_rules import FeeRules, RewardStep, StaffRewardRules
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind
from tests.fixtures import report_history
from tests.fixtures.report_history import DEVICE_STORES, ReportHistory

RULES = replace(
    default_rules(),
    fees=FeeRules(3800, 50_000, replacement_fee_fen=1000, exchange_fee_fen=500),
    staff_rewards=StaffRewardRules(800, (RewardStep(50_000, 800), RewardStep(100_000, 2000))),
)
PERIOD = Period(date(2026, 12, 1), date(2026, 12, 31), "Asia/Shanghai")
STAFF = {"S-1": ("王芳", "S1"), "S-2": ("Li Lei", "S1"), "S-3": ("张伟", "S2")}  # S-9 is unknown to HQ


def sales(seed: int):
    """Sign-ups (fee settled by the first payment) and top-ups, some credited to staff, from the
    day before the period to the day after; two exactly on its edges."""
    rng = random.Random(seed)
    state = LedgerState()
    devices = [*DEVICE_STORES, "hq"]
    ledgers = {d: Ledger(state, RULES, d, pin_params=FAST_FOR_TESTS) for d in devices}
    begin = PERIOD.start_at - timedelta(days=1)
    times = sorted(begin + timedelta(seconds=rng.randrange(33 * 86400)) for _ in range(60))
    edges = [PERIOD.start_at - timedelta(microseconds=1), PERIOD.start_at, PERIOD.as_of - timedelta(microseconds=1),
             PERIOD.as_of]
    times = sorted(times + edges)
    txns, cards = [], []
    for n, when in enumerate(times):
        device = rng.choice(devices)
        ledger = ledgers[device]
        staff = "S-1" if when in edges else rng.choice(["", "S-1", "S-2", "S-3", "S-9"])
        try:
            if not cards or rng.random() < 0.4 or when in edges:
                uid = f"{0x06000000 + n:08X}"
                txn = ledger.sign_up(uid, 1, f"139{n:08d}", "135792", when, staff_id=staff)
                cards.append(uid)
            else:
                uid = rng.choice(cards)
                paid = rng.choice([3800, 10_000, 49_999, 50_000, 100_000])
                if state.accounts[state.cards[uid].member_id].card_fee_due_fen:
                    txn, _ = ledger.settle_card_fee(uid, paid, "pay", when, staff_id=staff)
                else:
                    txn = ledger.top_up(uid, paid, "pay", when, staff_id=staff)
        except Refused:
            continue
        assert ledger.apply(txn).applied
        txns.append(txn)
    return txns


def expected(txns, store=None):
    """(store, staff) -> (cards sold, top-ups, top-up fen, fees fen, reward fen), from the rules."""
    out: dict[tuple[str, str], list[int]] = {}
    for t in txns:
        if not t.staff_id or not PERIOD.start_at <= t.at < PERIOD.as_of:
            continue
        place = DEVICE_STORES.get(t.device_id, HQ_STORE)
        if store is not None and place != store:
            continue
        row = out.setdefault((place, t.staff_id), [0, 0, 0, 0, 0])
        if t.kind is Kind.SIGN_UP:
            row[0] += 1
            row[4] += RULES.staff_rewards.per_card_fen
        elif t.kind is Kind.TOP_UP:
            row[1] += 1
            row[2] += t.amount_fen
            row[4] += max([s.reward_fen for s in RULES.staff_rewards.topup_steps if t.amount_fen >= s.min_fen], default=0)
        elif t.kind is Kind.CARD_FEE:
            row[3] += t.amount_fen
    return {k: tuple(v) for k, v in out.items()}


def test_the_staff_report_per_staff_member_and_store(hq_db):
    txns = sales(7)
    report_history.load(hq_db, ReportHistory(txns, dict(DEVICE_STORES), PERIOD))
    for staff_id, (name, store) in STAFF.items():
        hq_staff.put(hq_db, hq_staff.StaffMember(staff_id, name, store))
    for store in (None, "S1", "S2"):
        rows = staff_sales(hq_db, PERIOD, store)
        got = {(r.store, r.staff_id): (r.cards_sold, r.topups, r.topup_fen, r.fees_fen, r.reward_fen) for r in rows}
        assert got == expected(txns, store), store
    rows = staff_sales(hq_db, PERIOD)
    assert {r.staff_id: r.name for r in rows}.get("S-9", "") == ""  # not in HQ's staff table: no name
    assert all(r.name == STAFF[r.staff_id][0] for r in rows if r.staff_id in STAFF)
    assert sum(r.reward_fen for r in rows) > 0 and any(r.fees_fen for r in rows)


def test_the_staff_section_in_the_text_report(hq_db):
    txns = sales(3)
    report_history.load(hq_db, ReportHistory(txns, dict(DEVICE_STORES), PERIOD))
    migrate(hq_db)
    text = render_text(build_report(hq_db, RULES, PERIOD), section="staff")
    assert "Staff sales and rewards" in text and "Programme metrics" not in text
    assert "S-1" in text


def test_replacement_and_exchange_at_hq_charge_their_fees_never_from_the_balance(hq_db):
    admin.publish_rules(hq_db, _rules_json(), "rules.json")
    joined = admin.register_member(hq_db, "04A1B2C3", "13800138000", "135792", pin_params=FAST_FOR_TESTS,
                                   staff_id="S-1")
    assert (joined.amount_fen, joined.staff_id, joined.staff_reward_fen) == (3800, "S-1", 0)  # no reward rule here
    now = datetime(2026, 12, 5, 2, tzinfo=UTC)
    replaced = admin.replace_card(hq_db, "04A1B2C3", "04A1B2C4", now)
    exchanged = admin.exchange_card(hq_db, "04A1B2C4", "04A1B2C5", now)
    assert (replaced.kind, exchanged.kind) == (Kind.CARD_REPLACEMENT, Kind.CARD_EXCHANGE)
    fees = [r for r in hq_db.all("SELECT kind, body FROM events WHERE kind = 'card_fee' ORDER BY seq")]
    assert [('"amount_fen":1000' in b, '"amount_fen":500' in b) for _, b in fees] == [(True, False), (False, True)]
    state = hq.load_state(hq_db)
    assert state.cards["04A1B2C5"].status == "active" and state.cards["04A1B2C4"].status == "replaced"
    assert state.accounts[replaced.member_id].balance_fen == 0


def _rules_json() -> str:
    doc = json.loads(files("kiosk.data").joinpath("rules.default.json").read_bytes())
    doc["version"] = 2
    doc["fees"] = {"card_fee_fen": 3800, "replacement_fee_fen": 1000, "exchange_fee_fen": 500}
    return json.dumps(doc)


def test_a_bad_staff_record_is_refused_naming_the_field_and_changes_nothing(hq_db):
    hq_staff.put(hq_db, hq_staff.StaffMember("S-1", "王芳", "S1"))
    for bad, field in ((hq_staff.StaffMember("S 1", "x", "S1"), "staff id"),
                       (hq_staff.StaffMember("S-1", "", "S1"), "--name"),
                       (hq_staff.StaffMember("S-1", "x", "S/1"), "--store")):
        with pytest.raises(hq_staff.StaffError, match=field):
            hq_staff.put(hq_db, bad)
    hq_staff.put(hq_db, hq_staff.StaffMember("S-1", "王芳", "S2"))  # moved to another store: same id
    assert hq_staff.all_staff(hq_db) == {"S-1": hq_staff.StaffMember("S-1", "王芳", "S2")}
