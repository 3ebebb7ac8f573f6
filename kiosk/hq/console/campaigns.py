"""Voucher campaigns from the console: preview a segment, start the campaign once, run it in the
background, list what each gave and how much of it was used.

The vouchers are given by kiosk/hq/vouchers.py (`kiosk hq vouchers issue`'s own code), a batch
per SQL transaction; each batch also adds its vouchers to `campaign_vouchers` and its counts to
the campaign's row, so the page's progress is what is committed, never more.

- Once: the form carries a key made when the preview was shown; a second post of the same form
  (a double click, a reload) finds the campaign that key started and starts nothing.
- A power cut mid-campaign leaves it `running`; the console resumes it when it starts again. The
  campaign's reason is on every account it reached, so nobody is given a second voucher.
- A campaign of 100k members takes minutes (bench/campaigns.py): the page never waits for it."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from kiosk.hq import vouchers
from kiosk.hq.admin import AdminError, current_rules
from kiosk.hq.console import audit
from kiosk.hq.db import Database, open_database
from kiosk.hq.ledger import now_text
from kiosk.hq.report.followups import mask_name
from kiosk.hq.schema import MEMBER_NAME_SQL
from kiosk.ledger.model import VoucherStatus
from kiosk.ledger.rules import Rules
from kiosk.ledger.txn import Kind, Txn

log = logging.getLogger(__name__)
SAMPLE = 5
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class CampaignError(ValueError):
    """A campaign form the console refuses; `field` is the form's field, the message the fix."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Preview:
    segment: str
    voucher_type: str
    name: str
    reason: str
    members: int  # in the segment now
    to_issue: int  # of them: not given this campaign's voucher yet, with an active card
    sample: tuple[tuple[str, str], ...]  # (member id, masked name) of the first few to be given one


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    segment: str
    voucher_type: str
    reason: str
    started_by: str
    started_at: str
    planned: int
    issued: int
    skipped: int  # by its last run: given one already (by this campaign before a stop, or by one of the same name), or no active card
    status: str  # running, done, failed
    finished_at: str
    error: str
    used: int = 0


def _checked(db: Database, segment: str, type_id: str, name: str) -> tuple[Rules, str]:
    """The rules in force and the campaign's reason; CampaignError naming the field when the form is wrong."""
    if name and not _NAME.match(name):
        raise CampaignError("name", "1-40 letters, digits, '-' or '_' (or empty: today's date)")
    rules = current_rules(db)
    try:
        vouchers.check(rules, segment, type_id)
    except AdminError as exc:
        field = "segment" if exc.code == "unknown_segment" else "voucher_type"
        raise CampaignError(field, exc.detail) from None
    return rules, vouchers.reason_for(rules, segment, name, datetime.now(UTC))


def preview(db: Database, segment: str, type_id: str, name: str, now: datetime | None = None) -> Preview:
    """Who the campaign would reach now, writing nothing."""
    now = now or datetime.now(UTC)
    rules, reason = _checked(db, segment, type_id, name)
    members = to_issue = 0
    sample: list[str] = []
    for candidate in vouchers.members_in(db, segment, reason, rules, now):
        members += 1
        if candidate.given or not candidate.uid:
            continue
        to_issue += 1
        if len(sample) < SAMPLE:
            sample.append(candidate.member_id)
    names = dict(db.all(f"SELECT member_id, {MEMBER_NAME_SQL[db.dialect]} FROM members WHERE member_id IN "
                        f"{db.in_list(sample)}", sample)) if sample else {}
    masked = tuple((m, mask_name(names.get(m) or "")) for m in sample)
    return Preview(segment, type_id, name, reason, members, to_issue, masked)


def start(db: Database, username: str, key: str, segment: str, type_id: str, name: str, planned: int) -> tuple[int, bool]:
    """(campaign id, started now): the campaign this form's key started, or a new one, audited
    in the same transaction. Nothing is issued here: `run` does it."""
    if not _KEY.match(key):
        raise CampaignError("key", "the form has no key: open the preview again")
    _, reason = _checked(db, segment, type_id, name)

    def work(db: Database) -> tuple[int, bool]:
        found = db.one("SELECT id FROM campaigns WHERE form_key = ?", (key,))
        if found:
            return int(found[0]), False
        row = db.one("SELECT MAX(id) FROM campaigns")
        new_id = int(row[0] or 0) + 1 if row else 1
        db.execute(
            "INSERT INTO campaigns (id, form_key, name, segment, voucher_type, reason, started_by, started_at, planned, "
            "issued, skipped, status, finished_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 'running', '', '')",
            (new_id, key, name, segment, type_id, reason, username, now_text(), planned),
        )
        audit.record(db, username, "campaign.start", f"campaign:{new_id}", {},
                     {"segment": segment, "voucher_type": type_id, "reason": reason, "planned": planned})
        return new_id, True

    return db.run(work)


def run(db: Database, campaign_id: int) -> Campaign:
    """Give the campaign's vouchers (or the rest of them, after a power cut) and mark it done,
    audited with what it gave; failed (audited, with the refusal's code) when HQ refused."""
    campaign = get(db, campaign_id)
    if campaign is None or campaign.status != "running":
        raise CampaignError("campaign", f"{campaign_id} is not running")

    def noted(db: Database, txns: list[Txn], passed: int) -> None:
        db.executemany(
            "INSERT INTO campaign_vouchers (campaign_id, member_id, voucher_id) VALUES (?, ?, ?) "
            "ON CONFLICT (campaign_id, member_id) DO NOTHING",
            [(campaign_id, t.member_id, t.txn_id) for t in txns],
        )
        db.execute("UPDATE campaigns SET issued = issued + ?, skipped = skipped + ? WHERE id = ?",
                   (len(txns), passed, campaign_id))

    # skipped counts the last run's passing over (a resumed run passes over those the first gave)
    db.run(lambda db: db.execute("UPDATE campaigns SET skipped = 0 WHERE id = ?", (campaign_id,)))
    status, error = "done", ""
    try:
        vouchers.issue_to_segment(db, campaign.segment, campaign.voucher_type, record=noted, reason=campaign.reason)
    except AdminError as exc:
        status, error = "failed", exc.code
        log.warning("campaign %d refused: %s", campaign_id, exc.code)

    def finish(db: Database) -> None:
        db.execute("UPDATE campaigns SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                   (status, now_text(), error, campaign_id))
        done = get(db, campaign_id)
        audit.record(db, campaign.started_by, f"campaign.{status}", f"campaign:{campaign_id}", {"planned": done.planned},
                     {"issued": done.issued, "skipped": done.skipped, "error": error})

    db.run(finish)
    return get(db, campaign_id)


_running: set[int] = set()
_lock = threading.Lock()


def run_in_background(db_url: str, campaign_id: int) -> bool:
    """Run the campaign in a thread of its own with its own connection (once per process)."""
    with _lock:
        if campaign_id in _running:
            return False
        _running.add(campaign_id)

    def work() -> None:
        db = open_database(db_url)
        try:
            run(db, campaign_id)
        except Exception:  # noqa: BLE001 - a thread's end: logged, the row stays running and resumes at the next start
            log.exception("campaign %d stopped", campaign_id)
        finally:
            db.close()
            with _lock:
                _running.discard(campaign_id)

    threading.Thread(target=work, name=f"campaign-{campaign_id}", daemon=True).start()
    return True


def resume(db_url: str) -> list[int]:
    """At the console's start: run again each campaign a stop or power cut left running."""
    db = open_database(db_url)
    try:
        ids = [int(r[0]) for r in db.all("SELECT id FROM campaigns WHERE status = 'running' ORDER BY id")]
    finally:
        db.close()
    return [i for i in ids if run_in_background(db_url, i)]


_COLUMNS = ("id, name, segment, voucher_type, reason, started_by, started_at, planned, issued, skipped, status, "
            "finished_at, error")


def _campaign(row: tuple) -> Campaign:
    return Campaign(int(row[0]), *row[1:7], int(row[7]), int(row[8]), int(row[9]), *row[10:13])


def get(db: Database, campaign_id: int) -> Campaign | None:
    row = db.one(f"SELECT {_COLUMNS} FROM campaigns WHERE id = ?", (campaign_id,))
    return None if row is None else _campaign(row)


def listed(db: Database, limit: int = 20) -> list[Campaign]:
    """The latest campaigns, newest first, each with how many of its vouchers were used."""
    rows = db.all(f"SELECT {_COLUMNS} FROM campaigns ORDER BY id DESC LIMIT ?", (limit,))
    return [listed_one(db, _campaign(r)) for r in rows]


# The vouchers a campaign gave that the members' accounts now hold as used: the engine reads the
# accounts' JSON (the ledger codec's field names), so a 100k campaign's count never ships or
# decodes 100k accounts in Python; and only the accounts of members who paid at a till (a
# voucher is used only by a SPEND: kiosk/ledger/vouchers.py), found by the events_member index.
_USED_SQL = {
    "sqlite": "EXISTS (SELECT 1 FROM json_each(a.body, '$.vouchers') v WHERE json_extract(v.value, '$.id') = "
              "cv.voucher_id AND json_extract(v.value, '$.status') = ?)",
    "postgresql": "EXISTS (SELECT 1 FROM jsonb_array_elements(CAST(a.body AS jsonb) -> 'vouchers') v "
                  "WHERE v ->> 'id' = cv.voucher_id AND v ->> 'status' = ?)",
}


def listed_one(db: Database, campaign: Campaign) -> Campaign:
    """The campaign with how many of its vouchers are used now."""
    row = db.one(
        "SELECT COUNT(*) FROM campaign_vouchers cv JOIN accounts a ON a.member_id = cv.member_id "
        "WHERE cv.campaign_id = ? AND EXISTS (SELECT 1 FROM events e WHERE e.member_id = cv.member_id AND e.kind = ?) "
        f"AND {_USED_SQL[db.dialect]}",
        (campaign.id, Kind.SPEND.value, VoucherStatus.USED.value),
    )
    return replace(campaign, used=int(row[0]) if row else 0)
