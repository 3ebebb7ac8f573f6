"""What one visit (one card) shares across its flows: the card and the member it belongs to.
Each flow keeps its own slice (kiosk/session/flows/); all of it is dropped whole when the
session ends, so nothing of one member's visit can leak into the next."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.ledger.operations import MemberView
from kiosk.session.view import Message


@dataclass
class Visit:
    """The card of this session and what every flow may show about it."""

    uid: str = ""
    card_present: bool = False
    card_counter: int | None = None  # the card's rising counter: read at the tap, then (Classic) as written
    purse_due: bool = False  # money moved while the card was lifted: write it when it is back
    member_view: MemberView | None = None
    message: Message | None = None
    staff_id: str = ""  # the staff member who tapped their card to be credited with this visit's sale
    reserved_id: str = ""  # a pre-issued card's reserved member id (M-<kiosk>-P<n>): written over when personalised
