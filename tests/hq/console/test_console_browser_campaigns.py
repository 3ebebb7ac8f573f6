"""A campaign in Chromium: the programme manager chooses a voucher type and a segment, sees who
it reaches (a count, masked names) before anything is given, confirms, and watches it finish;
the vouchers are in HQ's ledger once per member. In Chinese, as the console opens by default."""

from __future__ import annotations

from kiosk.hq import ledger as hq
from tests.hq.console.conftest import sign_in
from tests.hq.console.test_console_browser import shot


def test_a_programme_manager_previews_and_issues_a_campaign(console, page, tmp_path):
    sign_in(page, console.url, "prog", lang="zh_CN")
    page.click("nav a[href='/campaigns']")
    page.select_option("select[name=voucher_type]", "winback20")
    page.select_option("select[name=segment]", "active")
    page.fill("input[name=name]", "spring")
    page.click("button[value=preview]")
    assert page.locator("dd.to-issue").inner_text() == "3"
    assert sorted(page.locator("table.sample td.name").all_inner_texts()) == ["A**", "张*", "李*"]
    assert "确认发放代金券" in page.locator("button[value=issue]").inner_text()
    db = console.db()
    assert db.one("SELECT COUNT(*) FROM events WHERE device_id = 'hq'")[0] == 0  # nothing given by the preview
    shot(page, tmp_path, "campaigns_preview")

    page.click("button[value=issue]")
    page.wait_for_url(f"{console.url}/campaigns/1")
    page.locator("p.status", has_text="已完成").wait_for(timeout=30_000)  # the page refreshes while it runs
    assert page.locator("dd.issued").inner_text() == "3"
    page.goto(f"{console.url}/campaigns")
    assert page.locator("table.campaigns td.issued").all_inner_texts() == ["3"]
    shot(page, tmp_path, "campaigns")
    state = hq.load_state(db)
    given = sorted(len([v for v in a.vouchers if v.reason == "campaign:active:spring"]) for a in state.accounts.values())
    assert given == [1, 1, 1]
    db.close()
