"""Cards made where nothing can write them: HQ's counter registers a member on a card's UID
(`register-member`), or moves an account to a new card (补卡, 换卡), but has no card writer, so
the chip stays blank, or carries the member id a pre-issued card reserved (`kiosk cards issue`:
M-<kiosk>-P<n>). Such a card is `awaiting_write` in the ledger until a kiosk personalises it
behind the member's PIN and commits CARD_WRITTEN. Pure: the rule both ends apply."""

from __future__ import annotations

import re

from kiosk.ledger.model import Card
from kiosk.ledger.txn import Kind, Txn

_RESERVED = re.compile(r"^M-[A-Za-z0-9][A-Za-z0-9_-]{0,63}-P[1-9][0-9]{0,8}\Z")


def reserved_member_id(device_id: str, n: int) -> str:
    """The member id the n-th card pre-issued on `device_id` carries: a reservation, not a member
    (a sign-up's ids end in a plain number, M-<device>-<seq>, so the two never meet)."""
    return f"M-{device_id}-P{n}"


def is_reserved_member_id(member_id: str) -> bool:
    """Does a card's member id only reserve a place (a pre-issued card nobody signed up with)?"""
    return bool(_RESERVED.match(member_id))


def card_written_problem(card: Card | None, txn: Txn) -> str:
    """Why a CARD_WRITTEN must not be applied ("" when it may): it clears the card's wait once, for
    the member and card number the ledger holds. A forged one (a card never waiting, already
    written, another member's, another card number) is refused, so it cannot turn a copied UID
    into a card the ledger takes for written."""
    if txn.kind is not Kind.CARD_WRITTEN:
        return ""
    if card is None:
        return f"card {txn.card_uid} written, but it is not in the ledger"
    if not card.awaiting_write:
        return f"card {card.uid} written, but it was not waiting to be written"
    if (card.member_id, card.card_seq) != (txn.member_id, txn.card_seq):
        return f"card {card.uid} is {card.member_id} #{card.card_seq}, not {txn.member_id} #{txn.card_seq}"
    return ""
