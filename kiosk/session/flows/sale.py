"""A sale at the kiosk: the card fee said before sign-up, and the staff member credited with it.

Shared by the sign-up and top-up flows. A member's card must stay on the reader while they sign
up, so the staff member taps first: a named staff card ([session] staff_members: card UID ->
staff id) opening the staff menu credits them with the next member's visit within
CREDIT_WINDOW_S (its sign-up and top-up); staff-confirmed cash credits whoever confirmed it. The ledger writes the id and the rules'
reward into the SIGN_UP or TOP_UP (kiosk/ledger/fees.py); HQ reports them per staff member."""

from __future__ import annotations

from datetime import datetime

from kiosk.ledger.operations import Ledger
from kiosk.session.flows.base import Host
from kiosk.session.flows.staff import Staff
from kiosk.session.view import CardFeeView

CREDIT_WINDOW_S = 300  # from the staff tap to the member's tap


def arm_credit(host: Host, uid: str) -> None:
    """A named staff card opened the staff menu: the next member's visit is credited to them."""
    staff_id = host.settings.staff_ids.get(uid, "")
    if staff_id:
        host.flow(Staff).sale_credit = (staff_id, host.clock.monotonic() + CREDIT_WINDOW_S)
        host.hint("staff_credit_armed", staff_id=staff_id, minutes=CREDIT_WINDOW_S // 60)


def take_armed_credit(host: Host) -> None:
    """A member's visit starts: it takes the armed credit, if still within its window (once)."""
    staff = host.flow(Staff)
    armed, staff.sale_credit = staff.sale_credit, None
    if armed is not None and host.clock.monotonic() <= armed[1]:
        host.visit.staff_id = armed[0]


def credit(host: Host, staff_id: str) -> None:
    """Credit this visit's sale to `staff_id` (the one who confirmed the cash, say)."""
    host.visit.staff_id = staff_id
    host.record("staff_credited", staff_id=staff_id)


def card_fee_view(ledger: Ledger, now: datetime) -> CardFeeView | None:
    """What the sign-up offer says about the card fee (None: the rules charge none)."""
    fees = ledger.rules.fees
    if not fees.card_fee_fen:
        return None
    fee, _ = ledger.signup_fee(now)
    campaign = fees.campaign_on(ledger.rules.local_date(now))
    return CardFeeView(fee, fees.card_fee_fen, fees.waiver_topup_fen, campaign.id if campaign else "")
