"""The newer console pages in Chromium: a follow-up call recorded (not reached, then reached), a
large adjustment approved by a second person, reports with their CSV form."""

from __future__ import annotations

from tests.hq.console.conftest import sign_in
from tests.hq.console.test_console_browser import shot
from tests.hq.console.test_console_followups import _buyer


def test_a_follow_up_call_recorded_in_the_browser(console, page, tmp_path):
    member_id, _ = _buyer(console)
    sign_in(page, console.url, "s1")
    page.goto(f"{console.url}/followups")
    assert "store=S1" in page.url
    row = page.locator("table[data-list=call_3_days] tr", has=page.locator(f"text={member_id}"))
    assert "13700000009" in row.inner_text()
    row.locator("select[name=outcome]").select_option("not_reached")
    row.locator("input[name=note]").fill("no answer, try after 6 pm")
    row.locator("button").click()
    assert page.locator(".ok").is_visible()
    row = page.locator("table[data-list=call_3_days] tr", has=page.locator(f"text={member_id}"))
    assert "no answer, try after 6 pm" in row.locator("td.calls").inner_text()
    shot(page, tmp_path, "followups")
    row.locator("select[name=outcome]").select_option("reached")
    row.locator("input[name=note]").fill("likes the card, asked about the gold tier")
    row.locator("button").click()
    assert page.locator(".ok").is_visible()
    assert page.locator("table[data-list=call_3_days]").count() == 0  # the only one on it was reached
    assert page.locator("table[data-list=birthday] tr", has=page.locator(f"text={member_id}")).count() == 1
    page.goto(f"{console.url}/members/{member_id}")
    assert "likes the card" in page.locator("table.calls").inner_text()


def test_a_large_adjustment_approved_by_a_second_person(console, browser, page, tmp_path):
    member_id = console.members["04A1B2C3"]
    sign_in(page, console.url, "fin")
    page.goto(f"{console.url}/members/{member_id}")
    before = page.locator(".tiles b").first.inner_text()
    page.fill("input[name=balance_yuan]", "600.00")
    page.fill("form.row input[name=reason]", "refund of a double charge at the till")
    page.click("form.row button")
    assert "pending" in page.locator(".ok").inner_text()
    assert page.locator("table.pending").inner_text().count("fin") == 1
    assert page.locator(".tiles b").first.inner_text() == before  # nothing moved yet
    page.goto(f"{console.url}/approvals")
    mine = page.locator("tr[data-approval]")
    assert mine.locator("button").count() == 0  # not on one's own request

    admin = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    sign_in(admin, console.url, "admin")
    admin.goto(f"{console.url}/approvals")
    shot(admin, tmp_path, "approvals")
    admin.locator("tr[data-approval] button[value=approve]").click()
    assert "approved" in admin.locator(".ok").inner_text()
    assert admin.locator("table.decided").inner_text().count("admin") == 1
    admin.goto(f"{console.url}/members/{member_id}")
    assert admin.locator(".tiles b").first.inner_text() != before
    assert "refund of a double charge" in admin.locator("table.list", has_text="member.adjust").inner_text()
    admin.context.close()


def test_reports_page_opens_the_report_and_offers_csv(console, page, tmp_path):
    sign_in(page, console.url, "s1")
    page.goto(f"{console.url}/reports")
    assert page.locator("form.csv select[name=section] option").count() >= 5
    shot(page, tmp_path, "reports")
    with page.expect_download() as download:
        page.locator("form.csv select[name=section]").select_option("metrics")
        page.locator("form.csv button").click()
    assert download.value.suggested_filename.startswith("metrics-S1-")
