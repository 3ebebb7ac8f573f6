"""The rule that tells a genuine card from a copy or an old card, against what the ledger knows:
the member the card names, its card number (a replaced card is older), and its rising counter
(a copy shows a lower one, or hides it). Pure: the card layer (kiosk/reader/card_format.py)
applies it to what it read, the session to the values it holds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    NOT_RECOGNISED = "not_recognised"
    UNSUPPORTED_VERSION = "unsupported_version"
    MAC_FAILED = "mac_failed"  # forged, tampered, cloned onto a chip without our keys
    COUNTER_ROLLBACK = "counter_rollback"  # an older copy of the card: replay or clone
    OLD_CARD = "old_card"  # card_seq older than the member's current card
    MEMBER_MISMATCH = "member_mismatch"  # card says one member, the ledger another


REPORTED = frozenset(
    {Refusal.MAC_FAILED, Refusal.COUNTER_ROLLBACK, Refusal.OLD_CARD, Refusal.MEMBER_MISMATCH}
)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: Refusal | None = None
    detail: str = ""

    @property
    def report_to_hq(self) -> bool:
        """Suspected fraud: the caller sends it to HQ. A card merely unknown is not reported."""
        return self.reason in REPORTED


def judge_record(
    card_member_id: str | None,
    card_seq: int | None,
    counter: int | None,
    last_counter: int | None = None,
    current_card_seq: int | None = None,
    member_id: str | None = None,
) -> Verdict:
    """judge() for a record already read (the session holds its values, not the MemberCard);
    a value the card did not give (None) is not checked, except the counter: once the ledger
    has seen one, a card showing none is a copy that hides it (e.g. an NTAG clone reporting
    its tap counter switched off)."""
    if member_id is not None and card_member_id is not None and card_member_id != member_id:
        return Verdict(False, Refusal.MEMBER_MISMATCH, "card and ledger name different members")
    if current_card_seq is not None and card_seq is not None and card_seq < current_card_seq:
        return Verdict(False, Refusal.OLD_CARD, f"card #{card_seq}, member's card is #{current_card_seq}")
    if last_counter and counter is None:
        return Verdict(False, Refusal.COUNTER_ROLLBACK, f"card shows no counter, {last_counter} already seen")
    if last_counter is not None and counter is not None and counter < last_counter:
        return Verdict(
            False, Refusal.COUNTER_ROLLBACK, f"card counter {counter} below last seen {last_counter}"
        )
    return Verdict(True)
