"""The member page lists the member's vouchers: type, value, minimum spend, last valid day in the
store's calendar, status and why it was given, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.hq import admin
from tests.hq.console.conftest import http_client


def test_the_member_page_lists_the_vouchers(console):
    uid = "04A1B2C3"
    member = console.members[uid]
    db = console.db()
    try:
        admin.issue_voucher(db, uid, "winback20", "campaign:dormant:spring", datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    finally:
        db.close()
    client = http_client(console.url, "admin")
    page = client.get(f"/members/{member}").text  # the console's default language: Chinese
    row = page[page.index("<h2>代金券"):]
    row = row[:row.index("</table>")]
    # issued on 1 March in Shanghai, valid 30 days: the 1st to the 30th
    for text in ("代金券", "winback20", "¥20.00", "¥100.00", "2026-03-30", "可用", "campaign:dormant:spring"):
        assert text in row, text
    other = http_client(console.url, "admin").get(f"/members/{console.members['04B1B2C3']}").text
    assert 'class="list vouchers"' not in other or "winback20" not in other
