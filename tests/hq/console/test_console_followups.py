"""Follow-up lists and their call records (回访记录) over HTTP against the real server, and the
report's CSV downloads: a call is stored with its audit entry, a member reached leaves that
list (and only that one), a store manager of another store sees and records nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hq.console import followups
from kiosk.hq.console.reporting import today
from kiosk.hq.console.sample import NewMember, seed
from kiosk.hq.report.followups import still_due
from tests.hq.console.conftest import csrf_of, http_client


def _listed(page: str, list_name: str, member_id: str) -> bool:
    table = re.search(rf'<table class="list followups" data-list="{list_name}">(.*?)</table>', page, re.S)
    return bool(table) and f'data-member="{member_id}"' in table.group(1)


def _buyer(console) -> tuple[str, str]:
    """A member of S1 who bought 3 days ago and whose birthday is today: on two lists."""
    db = console.db()
    day = today(db)
    birthday = date(1990, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
    person = NewMember("K1b", "04C1C2C3", "13700000009", "王五", 10000, spend_fen=2000, birthday=birthday)
    member_id = seed(db, {"K1b": "S1"}, [person], now=datetime.now(UTC) - timedelta(days=3))["04C1C2C3"]
    db.close()
    return member_id, day.isoformat()


def _call(client, member_id: str, occasion: str, outcome: str, note: str = "", list_name: str = "call_3_days"):
    return client.post("/followups/call", data={
        "csrf": csrf_of(client, "/followups?store=S1"), "list": list_name, "member_id": member_id,
        "occasion": occasion, "outcome": outcome, "note": note, "store": "S1",
    })


def test_a_member_reached_leaves_that_list_and_the_calls_are_audited(console):
    member_id, _ = _buyer(console)
    s1 = http_client(console.url, "s1")
    page = s1.get("/followups?store=S1").text
    assert _listed(page, "call_3_days", member_id) and _listed(page, "birthday", member_id)
    assert "13700000009" in page  # the store's own list: phones to call
    occasion = re.search(rf'name="member_id" value="{member_id}"><input type="hidden" name="occasion" value="([^"]+)"',
                         page).group(1)

    assert _call(s1, member_id, occasion, "not_reached", "voicemail, try Friday").status_code == 303
    page = s1.get("/followups?store=S1").text
    assert _listed(page, "call_3_days", member_id) and "voicemail, try Friday" in page
    sheet = s1.get("/followups.csv?store=S1")
    assert sheet.headers["content-type"].startswith("text/csv")
    assert any(line.startswith(f"call_3_days,{member_id},王五,13700000009,") and "voicemail, try Friday" in line
               for line in sheet.text.splitlines())

    assert _call(s1, member_id, occasion, "reached", "happy with the card").status_code == 303
    page = s1.get("/followups?store=S1").text
    assert not _listed(page, "call_3_days", member_id)
    assert _listed(page, "birthday", member_id)  # another occasion: still to call
    assert "happy with the card" in s1.get(f"/members/{member_id}").text  # the member page's follow-up notes
    sheet = s1.get("/followups.csv?store=S1").text.splitlines()
    assert not any(line.startswith(f"call_3_days,{member_id},") for line in sheet)
    assert any(line.startswith(f"birthday,{member_id},") for line in sheet)

    db = console.db()
    assert db.one("SELECT COUNT(*) FROM follow_up_calls WHERE member_id = ?", (member_id,))[0] == 2
    audited = db.all("SELECT username, after_value FROM audit_log WHERE action = 'followup.call' ORDER BY id")
    db.close()
    assert [u for u, _ in audited] == ["s1", "s1"] and "reached" in audited[-1][1]


def test_bad_call_records_and_other_stores_change_nothing(console):
    member_id, day = _buyer(console)
    s1, s2 = http_client(console.url, "s1"), http_client(console.url, "s2")
    refused = _call(s1, member_id, day, "maybe")
    assert refused.status_code == 303 and "error=outcome" in refused.headers["location"]
    assert _call(s1, member_id, "not a day", "reached").headers["location"].count("error=occasion") == 1
    assert _call(s1, member_id, day, "reached", "x" * 501).headers["location"].count("error=note") == 1
    assert _call(s1, member_id, day, "reached", list_name="everyone").headers["location"].count("error=list") == 1
    assert _call(s2, member_id, day, "reached").status_code == 403
    assert s2.get("/followups?store=S1").status_code == 403
    assert s2.get("/followups.csv?store=S1").status_code == 403
    assert "13700000009" not in s2.get("/followups?store=S2").text
    db = console.db()
    assert db.one("SELECT COUNT(*) FROM follow_up_calls")[0] == 0
    db.close()


def test_report_csv_downloads_per_store(console):
    _buyer(console)
    admin, s1 = http_client(console.url, "admin"), http_client(console.url, "s1")
    got = s1.get("/reports/csv?section=follow_ups&store=S1")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="follow_ups-S1-' in got.headers["content-disposition"]
    assert "13700000009" in got.text
    assert s1.get("/reports/csv?section=follow_ups&store=S2").status_code == 403
    assert s1.get("/reports/csv?section=metrics").status_code == 403  # the chain: not a store manager's
    chain = admin.get("/reports/csv?section=metrics")
    assert chain.status_code == 200 and "S1" in chain.text and "S2" in chain.text
    assert admin.get("/reports/csv?section=nope").status_code == 400
    assert admin.get("/reports/csv?section=metrics&store=S9").status_code == 400
    assert admin.get("/reports/csv?section=metrics&to=yesterday").status_code == 400


KEYS = st.tuples(st.sampled_from(["call_3_days", "birthday"]), st.sampled_from(["M1", "M2"]),
                 st.sampled_from(["2026-01-01", "2026-02-01"]))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(KEYS, max_size=10), calls=st.lists(st.tuples(KEYS, st.sampled_from(sorted(followups.OUTCOMES))),
                                                        max_size=10))
def test_still_due_drops_exactly_the_reached_occasions_and_counts_the_calls(keys, calls):
    entries = list(dict.fromkeys(keys))  # a list names each occasion once
    due = still_due(entries, [(*k, outcome) for k, outcome in calls])
    reached = {k for k, outcome in calls if outcome == "reached"}
    assert list(due) == [e for e in entries if e not in reached]
    assert all(n == sum(1 for k, _ in calls if k == e) for e, n in due.items())


def test_the_birthday_occasion_is_this_years_day_in_the_week():
    assert followups.occasion("birthday", date(1990, 1, 2), date(2026, 12, 30)) == "2027-01-02"  # week over new year
    assert followups.occasion("birthday", date(1992, 2, 29), date(2027, 2, 25)) == "2027-02-28"
    assert followups.occasion("birthday", date(1992, 2, 29), date(2027, 6, 1)) == "2027-02-28"
    assert followups.occasion("birthday", None, date(2027, 6, 1)) == ""
    assert followups.occasion("call_3_days", date(2026, 5, 1), date(2026, 5, 4)) == "2026-05-01"


def test_a_hostile_note_is_escaped_on_every_page(console):
    member_id, _ = _buyer(console)
    s1, admin = http_client(console.url, "s1"), http_client(console.url, "admin")
    page = s1.get("/followups?store=S1").text
    occasion = re.search(rf'name="member_id" value="{member_id}"><input type="hidden" name="occasion" value="([^"]+)"',
                         page).group(1)
    note = '<script>alert(1)</script><img src=x onerror=alert(2)>"'
    assert _call(s1, member_id, occasion, "not_reached", note).status_code == 303
    for client, path in ((s1, "/followups?store=S1"), (s1, f"/members/{member_id}"), (admin, "/audit")):
        body = client.get(path).text
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path  # there, and escaped


def test_the_report_commands_follow_up_section_takes_the_calls_into_account(console):
    """`kiosk hq report`'s own follow-up lists, as the console's: reached leaves, not reached stays
    with the calls so far."""
    import subprocess
    import sys

    member_id, _ = _buyer(console)
    s1 = http_client(console.url, "s1")
    page = s1.get("/followups?store=S1").text
    occasion = re.search(rf'name="member_id" value="{member_id}"><input type="hidden" name="occasion" value="([^"]+)"',
                         page).group(1)

    def report() -> list[str]:
        done = subprocess.run([sys.executable, "-m", "kiosk", "hq", "--db", console.db_url, "report", "--format", "csv",
                               "--section", "follow_ups", "--store", "S1"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return [line for line in done.stdout.splitlines() if f",{member_id}," in line]

    assert _call(s1, member_id, occasion, "not_reached", "voicemail").status_code == 303
    rows = report()
    assert [r.split(",")[0] for r in rows] == ["call_3_days", "birthday"]
    assert rows[0].endswith(",1") and rows[1].endswith(",0")  # one call so far on the 3 days list
    assert _call(s1, member_id, occasion, "reached", "happy").status_code == 303
    assert [r.split(",")[0] for r in report()] == ["birthday"]
