"""换卡 at the counter in Chromium: a store manager exchanges a member's damaged card on the member
page; the new card takes over at once, the exchange fee is a CARD_FEE beside the balance, and the
action is in the audit log."""

from __future__ import annotations

import json
from importlib.resources import files

from kiosk.hq import ledger as hq
from kiosk.hq.console import rules_form
from kiosk.ledger.rules import parse_rules
from tests.hq.console.conftest import http_client, sign_in
from tests.hq.console.test_console_browser import shot


def test_a_store_manager_exchanges_a_damaged_card(console, page, tmp_path):
    sign_in(page, console.url, "s1")
    page.goto(f"{console.url}/members/{console.members['04A1B2C3']}")
    db = console.db()
    balance = hq.load_state(db).accounts[console.members["04A1B2C3"]].balance_fen
    row = page.locator("tr.card-active", has_text="04A1B2C3")
    row.locator("form[action$='/exchange'] input[name=new_uid]").fill("04a1b2c9")
    row.locator("button[value=exchange]").click()
    assert page.locator(".ok").is_visible() and "exchanged" in page.locator(".ok").inner_text()
    assert page.locator("tr.card-replaced", has_text="04A1B2C3").count() == 1
    assert page.locator("tr.card-active", has_text="04A1B2C9").count() == 1
    shot(page, tmp_path, "member_exchanged")
    kinds = [r[0] for r in db.all("SELECT kind FROM events WHERE device_id = 'hq' ORDER BY seq")]
    assert "card_exchange" in kinds
    state = hq.load_state(db)
    assert state.accounts[console.members["04A1B2C3"]].balance_fen == balance  # no fee from the balance
    assert db.one("SELECT COUNT(*) FROM audit_log WHERE action = 'card.exchange'")[0] == 1
    db.close()


def test_the_reports_page_offers_the_staff_section(console):
    client = http_client(console.url, "admin")
    assert "<option>staff</option>" in client.get("/reports").text  # the CSV form offers it
    answer = client.get("/reports/csv?section=staff")
    assert answer.status_code == 200
    assert answer.text.lstrip("\ufeff").splitlines()[0] == (
        "store,staff,name,home store,cards sold,top-ups,top-up amount,card fees,reward"
    )


def test_the_rules_form_has_the_fee_and_reward_sections_and_keeps_their_lists():
    doc = json.loads(files("kiosk.data").joinpath("rules.default.json").read_bytes())
    doc["fees"] = {"card_fee_fen": 3800, "waiver_topup_fen": 50000, "replacement_fee_fen": 1000, "exchange_fee_fen": 500,
                   "free_card_campaigns": [{"id": "open", "first_day": "2026-12-01", "last_day": "2026-12-31"}]}
    doc["staff_rewards"] = {"per_card_fen": 800, "topup_steps": [{"min_fen": 50000, "reward_fen": 800}]}
    merged = doc
    for slug in ("fees", "fees-free_card_campaigns", "staff_rewards", "staff_rewards-topup_steps"):
        section = rules_form.find(rules_form.sections_for(doc), slug)
        form = {}
        for i, row in enumerate(rules_form.rows_of(doc, section) if section.rows else [None]):
            for f in section.fields:
                value = rules_form._get(row, f.key) if section.rows else rules_form._get(doc[section.path], f.key)
                form[rules_form.name(section, f, i if section.rows else None)] = rules_form.shown(f.kind, value)
        merged = rules_form.merge(merged, section, form)
    assert (merged["fees"], merged["staff_rewards"]) == (doc["fees"], doc["staff_rewards"])
    rules = parse_rules(merged)
    assert rules.fees.free_card_campaigns[0].id == "open" and rules.staff_rewards.topup_steps[0].reward_fen == 800
