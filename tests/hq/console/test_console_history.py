"""The member page's history: each line's balance reads before -> after, as the event says."""

from __future__ import annotations

import json

from kiosk.ledger.money import format_fen
from tests.hq.console.conftest import http_client


def test_a_top_up_shows_its_balance_before_and_after(console):
    member_id = console.members["04A1B2C3"]
    db = console.db()
    body = json.loads(db.one("SELECT body FROM events WHERE member_id = ? AND kind = 'top_up'", (member_id,))[0])
    db.close()
    before, after = int(body["balance_before_fen"]), int(body["balance_after_fen"])
    assert before != after  # else the line could not tell before from after
    page = http_client(console.url, "admin").get(f"/members/{member_id}").text
    assert f"{format_fen(before)} → {format_fen(after)}" in page
    assert f"{format_fen(after)} → {format_fen(after)}" not in page  # the old after -> after line
