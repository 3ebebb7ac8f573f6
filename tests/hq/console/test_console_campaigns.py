"""Voucher campaigns from the console, over the real server: the preview writes nothing; the
issue gives each member of the segment exactly one voucher in HQ's ledger, once per form even
when the form is posted twice; a stopped campaign resumes without giving anyone a second; bad
forms are refused naming the field; the used count follows the members' charges."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

import pytest

from kiosk.hq import ledger as hq
from kiosk.hq import vouchers
from kiosk.hq.console import campaigns
from kiosk.hq.ledger import apply_pending, store_events
from kiosk.ledger import charges
from kiosk.ledger.model import VoucherStatus
from kiosk.ledger.operations import Ledger
from kiosk.ledger.sample import default_rules
from tests.hq.console.conftest import KIOSKS, csrf_of, http_client

PREVIEW = "/campaigns?voucher_type=winback20&segment=active&name=spring"
REASON = "campaign:active:spring"


def form_of(page: str) -> dict[str, str]:
    """The confirm form's hidden fields (its key among them)."""
    form = page[page.index('class="row confirm"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))


def wait_done(db_url_console, campaign_id: int) -> campaigns.Campaign:
    deadline = time.monotonic() + 60
    while True:
        db = db_url_console.db()
        try:
            found = campaigns.get(db, campaign_id)
        finally:
            db.close()
        if found.status != "running" or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def campaign_vouchers(db) -> dict[str, list[str]]:
    """member id -> the statuses of the vouchers they hold for REASON."""
    state = hq.load_state(db)
    return {m: [str(v.status) for v in a.vouchers if v.reason == REASON] for m, a in state.accounts.items()}


@pytest.mark.parametrize("which", ["console", "console_pg"])
def test_preview_writes_nothing_and_a_double_posted_issue_gives_each_member_one_voucher(which, request):
    console = request.getfixturevalue(which)
    client = http_client(console.url, "prog")
    db = console.db()
    events = db.one("SELECT COUNT(*) FROM events")[0]
    page = client.get(PREVIEW).text
    assert db.one("SELECT COUNT(*) FROM events")[0] == events  # a preview writes nothing
    assert '<dd class="members">3</dd>' in page and '<dd class="to-issue">3</dd>' in page
    names = re.findall(r'<td class="name">([^<]*)</td>', page)
    assert sorted(names) == ["A**", "张*", "李*"]  # masked as on the follow-up lists
    form = {**form_of(page), "csrf": csrf_of(client)}
    assert form["planned"] == "3" and len(form["key"]) >= 16

    answers = [client.post("/campaigns", data=form) for _ in range(2)]  # a double click
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"] == "/campaigns/1"
    done = wait_done(console, 1)
    assert (done.status, done.issued, done.skipped, done.planned) == ("done", 3, 0, 3)
    assert db.one("SELECT COUNT(*) FROM campaigns")[0] == 1
    assert sorted(campaign_vouchers(db).values()) == [["valid"]] * 3
    kinds = [k for (k,) in db.all("SELECT kind FROM events WHERE device_id = 'hq' ORDER BY seq")]
    assert kinds == ["voucher_issued"] * 3
    audited = db.all("SELECT username, action, target, after_value FROM audit_log WHERE action LIKE 'campaign.%' ORDER BY id")
    assert [(u, a, t) for u, a, t, _ in audited] == [("prog", "campaign.start", "campaign:1"),
                                                      ("prog", "campaign.done", "campaign:1")]
    assert '"planned": 3' in audited[0][3] and '"issued": 3' in audited[1][3]

    # the same campaign again from a new preview: nobody in the segment is given a second one
    page = client.get(PREVIEW).text
    assert '<dd class="to-issue">0</dd>' in page and 'class="row confirm"' not in page
    again = client.post("/campaigns", data={**form, "key": "another-form-key-0001"})
    done = wait_done(console, int(again.headers["location"].rsplit("/", 1)[1]))
    assert (done.issued, done.skipped) == (0, 3)
    assert sorted(campaign_vouchers(db).values()) == [["valid"]] * 3
    listed = client.get("/campaigns").text
    assert listed.count('<td class="num issued">') == 2 and '<td class="num issued">3</td>' in listed
    db.close()


def test_two_posts_of_one_form_at_the_same_instant_start_one_campaign(console):
    client = http_client(console.url, "admin")
    form = {**form_of(client.get(PREVIEW).text), "csrf": csrf_of(client)}
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(client.post("/campaigns", data=form))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.headers["location"] for a in answers} == {"/campaigns/1"}
    wait_done(console, 1)
    db = console.db()
    assert db.one("SELECT COUNT(*) FROM campaigns")[0] == 1
    assert sorted(campaign_vouchers(db).values()) == [["valid"]] * 3
    db.close()


@pytest.mark.parametrize(("change", "field"), [
    ({"voucher_type": "nope"}, "voucher_type"),
    ({"segment": "everyone"}, "segment"),
    ({"name": "spring sale!"}, "name"),
    ({"key": ""}, "key"),
])
def test_a_bad_form_is_refused_naming_its_field_and_changes_nothing(console, change, field):
    client = http_client(console.url, "prog")
    form = {**form_of(client.get(PREVIEW).text), "csrf": csrf_of(client), **change}
    answer = client.post("/campaigns", data=form)
    assert answer.status_code == 303 and f"error={field}" in answer.headers["location"]
    shown = client.get(answer.headers["location"]).text
    assert f"{field}:" in shown
    db = console.db()
    assert db.one("SELECT COUNT(*) FROM campaigns")[0] == 0
    assert db.one("SELECT COUNT(*) FROM events WHERE device_id = 'hq'")[0] == 0
    assert db.one("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'campaign.%'")[0] == 0
    db.close()
    preview = client.get("/campaigns?voucher_type=nope&segment=active").text
    assert 'data-field="voucher_type"' in preview and "winback20" in preview  # the known types named


def test_a_campaign_stopped_mid_way_resumes_and_gives_nobody_a_second_voucher(console, monkeypatch):
    """A power cut between two batches: the first batch is committed with its counts, the rest
    is not; run again (as the console does at its start), each member ends with one voucher."""
    db = console.db()
    campaign_id, _ = campaigns.start(db, "prog", "a-form-key-for-the-test", "active", "winback20", "spring", 3)
    monkeypatch.setattr(vouchers, "BATCH", 1)
    real = vouchers.issue_vouchers
    calls = []

    def cut_after_one(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt("power cut")
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(vouchers, "issue_vouchers", cut_after_one)
    with pytest.raises(KeyboardInterrupt):
        campaigns.run(db, campaign_id)
    half = campaigns.get(db, campaign_id)
    assert (half.status, half.issued) == ("running", 1)
    assert sum(len(v) for v in campaign_vouchers(db).values()) == 1
    monkeypatch.setattr(vouchers, "issue_vouchers", real)
    assert campaigns.resume(console.db_url) == [campaign_id]
    done = wait_done(console, campaign_id)
    # the resumed run passed over the member the first run gave one to
    assert (done.status, done.issued, done.skipped) == ("done", 3, 1)
    assert sorted(campaign_vouchers(db).values()) == [["valid"]] * 3
    assert db.one("SELECT COUNT(*) FROM campaign_vouchers")[0] == 3
    db.close()


@pytest.mark.parametrize("which", ["console", "console_pg"])
def test_the_used_count_follows_a_charge_paid_with_the_voucher(which, request):
    console = request.getfixturevalue(which)
    db = console.db()
    campaign_id, _ = campaigns.start(db, "prog", "a-form-key-for-the-used", "active", "winback20", "spring", 3)
    campaigns.run(db, campaign_id)
    assert campaigns.listed(db)[0].used == 0
    uid = "04A1B2C3"
    state = hq.load_state(db)
    member = state.cards[uid].member_id
    voucher = next(v for v in state.accounts[member].vouchers if v.reason == REASON)
    kiosk = Ledger(state, default_rules(), "K1a")
    now = datetime.now(UTC)
    quote = charges.quote(kiosk, uid, "T1:1", 12_000, False, now, voucher.id)
    txn = charges.charge(kiosk, uid, "T1:1", quote.total_fen, False, now, pin_verified=True, voucher_id=voucher.id)
    store_events(db, [txn])
    apply_pending(db, KIOSKS)
    assert hq.load_state(db).accounts[member].voucher(voucher.id).status is VoucherStatus.USED
    assert campaigns.listed(db)[0].used == 1
    page = http_client(console.url, "aud").get(f"/campaigns/{campaign_id}").text
    assert '<dd class="used">1</dd>' in page and '<dd class="issued">3</dd>' in page
    db.close()


def test_the_auditor_sees_a_preview_but_no_form_to_issue(console):
    page = http_client(console.url, "aud").get(PREVIEW).text
    assert '<dd class="to-issue">3</dd>' in page
    assert 'class="row confirm"' not in page and 'class="row campaign-choose"' not in page
