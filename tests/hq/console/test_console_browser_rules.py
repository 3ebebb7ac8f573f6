"""The rules and fleet pages in Chromium: a section edited with a mistake, the error beside the
field, corrected, reviewed against the rules in force and published to one store; then the
fleet with a silent kiosk, its reader trouble and its incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.hq import devices
from kiosk.hq.incidents import store_incidents
from kiosk.hq.rules_scopes import rules_for_store, scoped_rules
from kiosk.ledger.utc import utc_text
from kiosk.sync import messages as m
from tests.hq.console.conftest import sign_in
from tests.hq.console.test_console_browser import shot


def test_rules_edit_with_an_error_then_publish_to_a_store(console, page, tmp_path):
    sign_in(page, console.url, "prog")
    page.goto(f"{console.url}/rules")
    page.click("nav.sections button[value=tiers]")
    gold = page.locator('input[name="tiers[2].discount_pct"]')
    assert gold.input_value() == "95"
    gold.fill("0")  # one below the lowest
    page.click("button.review")
    error = page.locator('[id="tiers[2].discount_pct-error"]')
    assert "between 1 and 100, got 0" in error.inner_text()
    assert page.locator("td.field.invalid").locator('input[name="tiers[2].discount_pct"]').count() == 1
    shot(page, tmp_path, "rules_error")
    page.locator('input[name="tiers[2].discount_pct"]').fill("92")
    page.click("nav.sections button[value=pin]")  # another section: the tier edit travels along
    page.locator('input[name="pin.max_attempts"]').fill("3")
    page.click("button.review")
    changes = page.locator("table.diff tbody tr")
    assert [changes.nth(i).inner_text().split("\t") for i in range(changes.count())] == [
        ["tiers[2].discount_pct", "95", "92"], ["pin.max_attempts", "5", "3"]]
    page.check("input[name=scope][value=stores]")
    page.check('input[name="store:S1"]')
    shot(page, tmp_path, "rules_review")
    page.click("form.publish button")
    assert "Published." in page.locator(".ok").inner_text()
    db = console.db()
    assert scoped_rules(db) is None
    assert rules_for_store(db, "S1")[1].pin.max_attempts == 3 and rules_for_store(db, "S2") is None
    db.close()
    kiosks = page.locator("table.kiosk-rules tbody tr")
    assert kiosks.count() == 2
    assert "stale" in kiosks.filter(has_text="K1a").locator("td.num").first.get_attribute("class")
    shot(page, tmp_path, "rules")


def test_the_fleet_flags_a_silent_kiosk_with_its_reader_and_incidents(console, page, tmp_path):
    db = console.db()
    long_ago = datetime.now(UTC) - timedelta(minutes=31)
    status = m.Status("K2a", "S2", "online", "kiosk 0.2.0", 4, long_ago, rules_version=1,
                      reader="reader gone: no answer on /dev/ttyAMA0", printer="escpos usb: paper out, 0 printed, 2 failed")
    at = utc_text(long_ago)
    db.run(lambda db: (db.execute("DELETE FROM devices WHERE device_id = 'K2a'"),  # last heard 31 minutes ago
                       db.execute("DELETE FROM device_status WHERE device_id = 'K2a'"),
                       devices.record_status(db, "K2a", "S2", True, 4, "kiosk 0.2.0", "", at),
                       devices.record_health(db, "K2a", at, status.body())))
    items = (m.Incident(0, long_ago, "blocked_card_presented", "04B1B2C3", {}),
             m.Incident(120, long_ago, "payment_abandoned", "", {"counted_fen": 500}))
    db.run(lambda db: store_incidents(db, m.Incidents("K2a", items, 240, long_ago), utc_text(datetime.now(UTC))))
    db.close()
    sign_in(page, console.url, "admin")
    page.goto(f"{console.url}/fleet")
    quiet, fine = page.locator("tr[data-kiosk=K2a]"), page.locator("tr[data-kiosk=K1a]")
    assert "silent" in quiet.get_attribute("class") and "silent" not in (fine.get_attribute("class") or "")
    assert "reader gone" in quiet.locator("td.reader").inner_text()
    assert "2 failed" in quiet.locator("td.printer").inner_text()
    assert "error" in quiet.locator("td.printer").get_attribute("class")  # the roll is empty: shown red
    assert "error" not in fine.locator("td.printer").get_attribute("class")
    assert quiet.locator("td.incidents").inner_text() == "2"
    assert fine.locator("td.reader").inner_text() == "ok"
    shot(page, tmp_path, "fleet")
    page.fill("input[name=minutes]", "45")  # a longer threshold: not silent any more
    page.click("form.row button")
    assert page.locator(".silent-minutes").inner_text() == "45"
    assert "silent" not in (page.locator("tr[data-kiosk=K2a]").get_attribute("class") or "")
    page.click("tr[data-kiosk=K2a] td.incidents a")
    assert page.locator("table.list tbody tr").count() == 2
    assert "payment_abandoned" in page.locator("table.list").inner_text()
