"""The fleet's silent flag at its boundary, and the admin's threshold refused out of range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.hq.console.pages_fleet import SILENT_MAX, is_silent
from kiosk.ledger.utc import utc_text
from tests.hq.console.conftest import csrf_of, http_client

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ago", "silent"), [
    (timedelta(0), False),
    (timedelta(minutes=30), False),  # exactly the threshold: not yet
    (timedelta(minutes=30, seconds=1), True),  # one second over
    (timedelta(days=3), True),
])
def test_silent_only_past_the_threshold(ago, silent):
    assert is_silent(utc_text(NOW - ago), NOW, 30) is silent


def test_an_unreadable_last_contact_counts_as_silent():
    assert is_silent("yesterday", NOW, 30)


def test_the_threshold_is_a_whole_number_of_minutes_within_a_week(console):
    client = http_client(console.url, "admin")
    token = csrf_of(client)
    for bad in ("0", str(SILENT_MAX + 1), "-5", "ten", ""):
        assert client.post("/fleet/silent", data={"csrf": token, "minutes": bad}).status_code == 400, bad
    for good in ("1", str(SILENT_MAX)):
        assert client.post("/fleet/silent", data={"csrf": token, "minutes": good}).status_code == 303, good
    db = console.db()
    assert db.one("SELECT value FROM settings WHERE key = 'console_silent_minutes'")[0] == str(SILENT_MAX)
    assert db.one("SELECT COUNT(*) FROM audit_log WHERE action = 'fleet.silent_threshold'")[0] == 2
    db.close()
