"""The console in Chromium: sign-in and lockout, member search, card operations seen in the
audit log, a store manager kept to their store, on SQLite and once on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.hq.console import auth
from tests.hq.console.conftest import PASSWORD, sign_in

SHOTS = os.environ.get("KIOSK_CONSOLE_SCREENSHOTS", "")  # a directory: save each page's screenshot there


def shot(page, tmp_path: Path, name: str) -> None:
    target = Path(SHOTS) if SHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"console_{name}.png"), full_page=True)


def test_anonymous_is_sent_to_login_and_a_wrong_password_is_refused(console, page, tmp_path):
    page.goto(f"{console.url}/members?q=138")
    assert page.url.startswith(f"{console.url}/login?next=/members")
    assert "13800000001" not in page.content()
    sign_in(page, console.url, "admin", "wrong password!")
    assert page.locator(".error").inner_text() == "Wrong username or password."
    assert "/login" in page.url
    shot(page, tmp_path, "login")


def test_repeated_failures_lock_the_account_even_for_the_right_password(console, page):
    for _ in range(auth.MAX_FAILURES):
        sign_in(page, console.url, "fin", "not the password")
        assert page.locator(".error").inner_text() == "Wrong username or password."
    sign_in(page, console.url, "fin", PASSWORD)
    assert "locked" in page.locator(".error").inner_text()
    assert "/login" in page.url
    sign_in(page, console.url, "admin")  # another account is not affected
    assert page.url.endswith("/members")


def test_search_block_a_card_and_see_it_in_the_audit_log(console, page, tmp_path):
    sign_in(page, console.url, "admin")
    page.fill("input[name=q]", "138")
    page.click("form.search button")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2
    assert "张三" in rows.first.inner_text()
    shot(page, tmp_path, "members")
    page.click("text=" + console.members["04A1B2C3"])
    assert page.locator(".tiles").inner_text().count("¥") >= 1
    shot(page, tmp_path, "member")
    card_row = page.locator("tr.card-active", has_text="04A1B2C3")
    card_row.locator("input[name=reason]").fill("lost on the bus")
    card_row.locator("button[value=block]").click()
    assert page.locator(".ok").is_visible()
    assert page.locator("tr.card-blocked", has_text="04A1B2C3").count() == 1
    db = console.db()
    assert db.one("SELECT status FROM cards WHERE uid = '04A1B2C3'")[0] == "blocked"
    db.close()
    page.click("nav >> text=Audit log")
    entry = page.locator("table.audit tbody tr", has_text="card.block")
    assert entry.count() == 1
    text = entry.inner_text()
    assert "admin" in text and '"status": "active"' in text and '"status": "blocked"' in text and "lost on the bus" in text
    shot(page, tmp_path, "audit")


def test_return_shows_the_ledgers_refund_preview_then_closes_the_card(console, page, tmp_path):
    sign_in(page, console.url, "s1")
    page.goto(f"{console.url}/members/{console.members['04A1B2C4']}")
    page.click("text=Return card")
    preview = page.locator("dl.facts").inner_text()
    db = console.db()
    balance, bonus = db.one("SELECT balance_fen, body FROM accounts WHERE member_id = ?", (console.members["04A1B2C4"],))
    db.close()
    assert f"¥{balance // 100}" in preview  # the balance before; the refund is the ledger's (bonus forfeited)
    shot(page, tmp_path, "return")
    page.click("text=Confirm return")
    assert page.locator("tr.card-returned", has_text="04A1B2C4").count() == 1


def test_store_manager_never_sees_another_stores_member(console, page):
    sign_in(page, console.url, "s1")
    page.fill("input[name=q]", "13900000001")  # S2's member, by phone
    page.click("form.search button")
    assert page.locator(".empty").is_visible()
    assert "13900000001" not in page.locator("main").inner_text().replace(page.locator("input[name=q]").input_value(), "")
    page.fill("input[name=q]", "04B1B2C3")  # by card
    page.click("form.search button")
    assert page.locator(".empty").is_visible()
    response = page.goto(f"{console.url}/members/{console.members['04B1B2C3']}")  # by direct URL
    assert response.status == 403
    assert "13900000001" not in page.content() and "李四" not in page.content()
    response = page.goto(f"{console.url}/cards/04B1B2C3/return")
    assert response.status == 403 and "¥" not in page.locator("main").inner_text()


def test_chinese_pages_and_the_language_switch(console, page, tmp_path):
    sign_in(page, console.url, "admin", lang="zh_CN")
    assert page.locator("nav").inner_text().startswith("会员")
    page.goto(f"{console.url}/fleet")
    assert "K1a" in page.locator("table").inner_text()
    shot(page, tmp_path, "fleet_zh")
    page.click("a.lang")  # English
    assert page.locator("h1").inner_text() == "Fleet"


def test_on_postgresql_sign_in_search_and_block(console_pg, page):
    sign_in(page, console_pg.url, "s1")
    page.goto(f"{console_pg.url}/members?q=张")
    assert page.locator("table.list tbody tr").count() == 1
    page.click("text=" + console_pg.members["04A1B2C3"])
    page.locator("tr.card-active", has_text="04A1B2C3").locator("button[value=block]").click()
    assert page.locator("tr.card-blocked", has_text="04A1B2C3").count() == 1
    db = console_pg.db()
    assert [r[0] for r in db.all("SELECT action FROM audit_log WHERE username = 's1' ORDER BY id")] == ["login", "card.block"]
    db.close()


@pytest.mark.skipif(not SHOTS, reason="screenshots only when KIOSK_CONSOLE_SCREENSHOTS=DIR")
def test_screenshots_of_the_other_pages(console, page, tmp_path):
    sign_in(page, console.url, "admin")
    for path, name in [("/conflicts", "conflicts"), ("/users", "users"), ("/reports", "reports"), ("/rules", "rules")]:
        page.goto(console.url + path)
        shot(page, tmp_path, name)
    page.set_viewport_size({"width": 420, "height": 900})  # a phone or small tablet at the counter
    page.goto(f"{console.url}/members/{console.members['04A1B2C3']}")
    shot(page, tmp_path, "member_narrow")
