"""What the reader thread (and the card writer) tell the session. Posted with Session.post()."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.session.charge_ticket import TillCall, TillCancel, TillCharge

# card problems that suggest fraud: the session records them for HQ
SUSPECT_PROBLEMS = frozenset({"mac_failed", "member_mismatch", "old_card", "counter_rollback"})


class CardKind(StrEnum):
    MEMBER = "member"  # carries our card format and its signature checks out
    BLANK = "blank"  # a card of a supported type in its factory state: can be issued
    FOREIGN = "foreign"  # anything else: another scheme's card, a bank card, a forged card
    STAFF = "staff"  # a staff card (by the card format; configured staff UIDs count too)


@dataclass(frozen=True)
class CardRead:
    """What the card layer made of a card in the field."""

    uid: str  # upper-case hex
    kind: CardKind
    problem: str = ""  # why a card is FOREIGN (e.g. "mac_failed"); never secrets
    member_id: str = ""  # MEMBER: what the card says, checked against the ledger
    card_seq: int = 0
    card_counter: int | None = None  # MEMBER: the card's rising counter (Classic: purse, NTAG: tap counter); None if none


@dataclass(frozen=True)
class CardPresented:
    card: CardRead


@dataclass(frozen=True)
class CardRemoved:
    uid: str


@dataclass(frozen=True)
class CardIssued:
    """Result of a personalisation the session asked for; problem '' means written."""

    uid: str
    problem: str = ""


@dataclass(frozen=True)
class PurseWritten:
    """Result of a purse-hint write the session asked for: the counter the card now holds, or
    the problem ('' when written). A card without a purse (NTAG) answers counter 0."""

    uid: str
    counter: int = 0
    problem: str = ""


@dataclass(frozen=True)
class ReaderStatus:
    ok: bool
    detail: str = ""


SessionInput = CardPresented | CardRemoved | CardIssued | PurseWritten | ReaderStatus | TillCharge | TillCancel | TillCall
