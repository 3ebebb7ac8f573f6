"""HQ's voucher campaign: a voucher for every member of a segment (a win-back for dormant
members: `kiosk hq vouchers issue --segment dormant --type winback20`, or the console's
Campaigns page).

Each voucher is a VOUCHER_ISSUED made by HQ's own device through the same admin path as a card
block or a return (kiosk/hq/admin.py: decided by the kiosk's Ledger, stored and applied in SQL),
so it sits in HQ's history like any kiosk's txn and reaches the kiosks with the next account
snapshots. The campaign's reason (campaign:SEGMENT:NAME) is kept on the account, so running the
same campaign again (or resuming one a power cut stopped) gives nobody a second voucher.

A chain has 100k members: the accounts are read a page at a time (never all in memory) and the
vouchers committed a batch at a time (one SQL transaction for BATCH members, not one each)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.hq.admin import AdminError, current_rules, issue_vouchers
from kiosk.hq.db import Database
from kiosk.ledger import vouchers
from kiosk.ledger.codec import decode
from kiosk.ledger.model import MemberStatus
from kiosk.ledger.rules import Rules, SegmentRules
from kiosk.ledger.txn import Txn
from kiosk.ledger.utc import utc_text

SEGMENTS = ("active", "at_risk", "dormant", "lost")
PAGE = 2000  # accounts read per query
BATCH = 200  # vouchers committed per SQL transaction
Recorder = Callable[[Database, list[Txn], int], None]  # (db, txns made, members passed over) in the batch's transaction


@dataclass(frozen=True)
class CampaignResult:
    issued: int
    skipped: int  # in the segment but given this campaign's voucher already, or without an active card


@dataclass(frozen=True)
class Candidate:
    """A member now in the segment."""

    member_id: str
    uid: str  # an active card of theirs ("" when none: no voucher can reach them)
    given: bool  # holds this campaign's voucher already


@dataclass(frozen=True)
class _Visits:
    """The two fields of an account a segment scan reads (SQL extracts them: decoding whole
    accounts was most of a 100k scan's time, bench/campaigns.py), through the ledger's codec."""

    last_visit: datetime | None = None
    voucher_reasons: tuple[str, ...] = ()


def segment_of(last_visit: datetime | None, closed: bool, cuts: SegmentRules, now: datetime) -> str:
    """active < active_days <= at_risk < at_risk_days <= dormant < dormant_days <= lost, by the
    days since the last visit, as `kiosk hq report` counts them; a closed member is lost."""
    if closed or last_visit is None:
        return "lost"
    days = now - last_visit
    if days < timedelta(days=cuts.active_days):
        return "active"
    if days < timedelta(days=cuts.at_risk_days):
        return "at_risk"
    return "dormant" if days < timedelta(days=cuts.dormant_days) else "lost"


def check(rules: Rules, segment: str, type_id: str) -> None:
    """AdminError naming what is wrong: an unknown segment or voucher type."""
    if segment not in SEGMENTS:
        raise AdminError("unknown_segment", f"{segment!r} (one of {', '.join(SEGMENTS)})")
    if rules.vouchers.type(type_id) is None:
        known = ", ".join(t.id for t in rules.vouchers.types) or "none in the rules in force"
        raise AdminError("unknown_voucher_type", f"{type_id!r} (known: {known})")


def reason_for(rules: Rules, segment: str, campaign: str, now: datetime) -> str:
    """campaign:SEGMENT:NAME, the name defaulting to today's local date (one campaign a day)."""
    return f"{vouchers.CAMPAIGN}:{segment}:{campaign or f'{rules.local_date(now):%Y%m%d}'}"


def members_in(db: Database, segment: str, reason: str, rules: Rules, now: datetime) -> Iterator[Candidate]:
    """Each member now in `segment`, by member id, reading the accounts a page at a time."""
    after = ""
    closed = str(MemberStatus.CLOSED)
    # each account's JSON parsed once a row (PostgreSQL: OFFSET 0 keeps the cast in the subquery
    # instead of repeating it wherever a field is read)
    page = ("SELECT member_id, body AS j FROM accounts WHERE member_id > ? AND member_id <= ?" if db.dialect == "sqlite"
            else "SELECT member_id, CAST(body AS jsonb) AS j FROM accounts WHERE member_id > ? AND member_id <= ? OFFSET 0")
    visit, reasons = db.json_text("a.j", "last_visit"), db.json_text("a.j", "voucher_reasons")
    near, near_params = _near(segment, rules.segments, now, visit)
    while True:
        # a page is a range of member ids (PAGE accounts, walked in the primary key's order), so the
        # engine reads each account once: a LIMIT over the filtered rows made it read every
        # account left on each page (bench/campaigns.py: 3 s a page at 20k members)
        count, upto = db.one(
            "SELECT COUNT(*), MAX(member_id) FROM (SELECT member_id FROM accounts WHERE member_id > ? "
            "ORDER BY member_id LIMIT ?) p",
            (after, PAGE),
        )
        if not count:
            return
        rows = db.all(
            f"SELECT a.member_id, {visit}, {reasons}, m.status, "
            "(SELECT MIN(c.uid) FROM cards c WHERE c.member_id = a.member_id AND c.status = 'active') "
            f"FROM ({page}) a JOIN members m ON m.member_id = a.member_id "
            # the range on both tables: the engine reads the page's members, not all of them
            f"WHERE m.member_id > ? AND m.member_id <= ? AND ({near}) ORDER BY a.member_id",
            (after, upto, after, upto, *near_params),
        )
        for member_id, last_visit, given, status, uid in rows:
            raw = {"last_visit": last_visit, "voucher_reasons": json.loads(given) if given else []}
            seen = decode(_Visits, {k: v for k, v in raw.items() if v is not None})
            if segment_of(seen.last_visit, status == closed, rules.segments, now) == segment:
                yield Candidate(member_id, uid or "", reason in seen.voucher_reasons)
        if count < PAGE:
            return
        after = upto


def _near(segment: str, cuts: SegmentRules, now: datetime, visit: str) -> tuple[str, tuple]:
    """SQL keeping every member of `segment` and few others, on the last visit's text (fixed
    width UTC, so text order is time order to the second): each bound a day wider than
    `segment_of`'s, which decides exactly on what is left. The engine drops most rows unread."""
    def bound(days: int, margin: int) -> str:
        return utc_text(now - timedelta(days=days + margin), "seconds")

    if segment == "lost":
        return f"m.status = 'closed' OR {visit} IS NULL OR {visit} < ?", (bound(cuts.dormant_days, -1),)
    lower = {"active": cuts.active_days, "at_risk": cuts.at_risk_days, "dormant": cuts.dormant_days}[segment]
    upper = {"at_risk": cuts.active_days, "dormant": cuts.at_risk_days}.get(segment)
    if upper is None:
        return f"{visit} >= ?", (bound(lower, 1),)
    return f"{visit} >= ? AND {visit} < ?", (bound(lower, 1), bound(upper, -1))


def issue_to_segment(
    db: Database,
    segment: str,
    type_id: str,
    campaign: str = "",
    now: datetime | None = None,
    record: Recorder | None = None,
    reason: str = "",
    progress: Callable[[CampaignResult], None] | None = None,
) -> CampaignResult:
    """A voucher of `type_id` for each member now in `segment` (AdminError: unknown segment or
    voucher type, nothing issued). `reason` (else made from the campaign's name) is what marks
    a member as given; `record` is called inside each batch's transaction, `progress` after it
    with the counts so far (a segment of 100k members takes minutes)."""
    now = now or datetime.now(UTC)
    rules = current_rules(db)
    check(rules, segment, type_id)
    reason = reason or reason_for(rules, segment, campaign, now)
    issued = skipped = 0
    batch: list[str] = []
    passed = 0  # passed over since the last batch (given already, no active card)

    def flush() -> None:
        nonlocal issued, skipped, passed
        over = passed

        def noted(db: Database, txns: list[Txn]) -> None:
            if record is not None:
                record(db, txns, over + len(batch) - len(txns))

        if batch:
            made = issue_vouchers(db, batch, type_id, reason, now, noted)
        else:  # only members passed over since the last batch: their count still goes on record
            made = []
            db.run(lambda db: noted(db, []))
        issued += len(made)
        skipped += over + len(batch) - len(made)
        batch.clear()
        passed = 0
        if progress is not None:
            progress(CampaignResult(issued, skipped))

    for candidate in members_in(db, segment, reason, rules, now):
        if candidate.given or not candidate.uid:
            passed += 1
            continue
        batch.append(candidate.uid)
        if len(batch) >= BATCH:
            flush()
    if batch or passed:
        flush()
    return CampaignResult(issued, skipped)
