"""HQ's voucher campaign: a voucher for every member of a segment (a win-back for dormant
members: `kiosk hq vouchers issue --segment dormant --type winback20`).

Each voucher is a VOUCHER_ISSUED made by HQ's own device through the same admin path as a card
block or a return (kiosk/hq/admin.py: decided by the kiosk's Ledger, stored and applied in one
SQL transaction), so it sits in HQ's history like any kiosk's txn and reaches the kiosks with
the next account snapshots. The campaign's reason (campaign:SEGMENT:NAME) is kept on the
account, so running the same campaign again gives nobody a second voucher."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.hq.admin import AdminError, current_rules, issue_voucher
from kiosk.hq.db import Database
from kiosk.ledger import vouchers
from kiosk.ledger.codec import decode
from kiosk.ledger.model import Account, MemberStatus
from kiosk.ledger.rules import SegmentRules
from kiosk.ledger.txn import Txn

SEGMENTS = ("active", "at_risk", "dormant", "lost")


@dataclass(frozen=True)
class CampaignResult:
    issued: tuple[Txn, ...]
    skipped: int  # in the segment but given this campaign's voucher already, or without an active card


def segment_of(account: Account, closed: bool, cuts: SegmentRules, now: datetime) -> str:
    """active < active_days <= at_risk < at_risk_days <= dormant < dormant_days <= lost, by the
    days since the last visit, as `kiosk hq report` counts them; a closed member is lost."""
    if closed or account.last_visit is None:
        return "lost"
    days = now - account.last_visit
    if days < timedelta(days=cuts.active_days):
        return "active"
    if days < timedelta(days=cuts.at_risk_days):
        return "at_risk"
    return "dormant" if days < timedelta(days=cuts.dormant_days) else "lost"


def issue_to_segment(
    db: Database, segment: str, type_id: str, campaign: str = "", now: datetime | None = None
) -> CampaignResult:
    """A voucher of `type_id` for each member now in `segment` (AdminError: unknown segment or
    voucher type, nothing issued)."""
    now = now or datetime.now(UTC)
    rules = current_rules(db)
    if segment not in SEGMENTS:
        raise AdminError("unknown_segment", f"{segment!r} (one of {', '.join(SEGMENTS)})")
    if rules.vouchers.type(type_id) is None:
        known = ", ".join(t.id for t in rules.vouchers.types) or "none in the rules in force"
        raise AdminError("unknown_voucher_type", f"{type_id!r} (known: {known})")
    reason = f"{vouchers.CAMPAIGN}:{segment}:{campaign or f'{rules.local_date(now):%Y%m%d}'}"
    closed = {m for (m,) in db.all("SELECT member_id FROM members WHERE status = ?", (str(MemberStatus.CLOSED),))}
    issued, skipped = [], 0
    for member_id, body in db.all("SELECT member_id, body FROM accounts ORDER BY member_id"):
        account = decode(Account, json.loads(body))
        if segment_of(account, member_id in closed, rules.segments, now) != segment:
            continue
        if reason in account.voucher_reasons:
            skipped += 1
            continue
        uids = [u for (u,) in db.all("SELECT uid FROM cards WHERE member_id = ? AND status = 'active'", (member_id,))]
        if not uids:
            skipped += 1
            continue
        try:
            issued.append(issue_voucher(db, uids[0], type_id, reason, now))
        except AdminError as exc:
            if exc.code != "voucher_already_given":
                raise
            skipped += 1
    return CampaignResult(tuple(issued), skipped)
