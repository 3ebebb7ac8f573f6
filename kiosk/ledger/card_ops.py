"""The ledger's card lifecycle and staff/HQ operations: the purse counter a kiosk wrote, block and
unblock, replacement (补卡), exchange (换卡), return (退卡), PIN reset at the counter, a new PIN,
adjustments. A part of
`Ledger` (kiosk/ledger/operations.py), kept apart so each file holds one idea; it uses the
Ledger's lookups and txn builders."""

from __future__ import annotations

from datetime import datetime

from kiosk.ledger.model import CardStatus
from kiosk.ledger.pin import hash_pin
from kiosk.ledger.refusal import Refused
from kiosk.ledger.rules import MAX_FEN
from kiosk.ledger.txn import Kind, Txn


class CardOps:
    """Mixed into Ledger."""

    def purse_written(self, uid: str, counter: int, now: datetime) -> Txn | None:
        """The card now carries purse counter `counter` (its hint was just written): recorded,
        so that an older copy of the card is refused from now on. None if nothing is new."""
        card = self._any_card(uid)
        if counter <= card.card_counter:
            return None
        account = self.state.accounts[card.member_id]
        return self._unchanged(Kind.PURSE_WRITTEN, now, card.member_id, uid, account, card_counter=counter)

    def card_written(self, uid: str, now: datetime) -> Txn:
        """A card made at HQ's counter (awaiting_write) was just personalised here with the ledger's
        member id and card number, after the member's PIN: recorded once, and the card is an
        ordinary card from then on (a blank copy of it is a suspect copy again)."""
        card, _, account = self.lookup(uid)
        if not card.awaiting_write:
            raise Refused("card_not_awaiting_write")
        return self._unchanged(Kind.CARD_WRITTEN, now, card.member_id, uid, account, card_seq=card.card_seq)

    def block_card(self, uid: str, reason: str, now: datetime) -> Txn:
        return self._status_change(Kind.CARD_BLOCKED, CardStatus.ACTIVE, uid, reason, now)

    def unblock_card(self, uid: str, reason: str, now: datetime) -> Txn:
        return self._status_change(Kind.CARD_UNBLOCKED, CardStatus.BLOCKED, uid, reason, now)

    def _status_change(self, kind: Kind, only_from: CardStatus, uid: str, reason: str, now: datetime) -> Txn:
        """Block an active card or unblock a blocked one: a card in any other status is refused
        (a replaced or returned card stays stopped)."""
        card = self._any_card(uid)
        if card.status is not only_from:
            raise Refused("card_not_blocked" if only_from is CardStatus.BLOCKED else f"card_{card.status}")
        account = self.state.accounts[card.member_id]
        return self._unchanged(kind, now, card.member_id, uid, account, reason=reason[:200])

    def replace_card(self, old_uid: str, new_uid: str, now: datetime) -> Txn:
        """补卡: the member's balance and points follow the new card; the old one stops working.
        Made at a counter without a card writer: the new card waits to be written at a kiosk."""
        return self._card_moved(Kind.CARD_REPLACEMENT, old_uid, new_uid, now)

    def exchange_card(self, old_uid: str, new_uid: str, now: datetime) -> Txn:
        """换卡: a damaged card the member still holds is retired and a new one takes over at once
        (no waiting period: the old card was never lost); its own fee is a CARD_FEE (fees.py)."""
        return self._card_moved(Kind.CARD_EXCHANGE, old_uid, new_uid, now)

    def _card_moved(self, kind: Kind, old_uid: str, new_uid: str, now: datetime) -> Txn:
        old = self._any_card(old_uid)
        if old.status not in (CardStatus.ACTIVE, CardStatus.BLOCKED):
            raise Refused(f"card_{old.status}")
        if new_uid in self.state.cards:
            raise Refused("card_in_use")
        account = self.state.accounts[old.member_id]
        newest = max(c.card_seq for c in self.state.cards_of(old.member_id))
        return self._unchanged(
            kind,
            now,
            old.member_id,
            old_uid,
            account,
            new_card_uid=new_uid,
            card_seq=newest + 1,
            awaiting_write=True,  # no place that moves a card to a new one can write it (kiosk/ledger/card_write.py)
        )

    def return_card(self, uid: str, now: datetime) -> Txn:
        """退卡: refund the paid part of the balance; bonus credit and points lapse (no farming)."""
        card = self._any_card(uid)
        if card.status not in (CardStatus.ACTIVE, CardStatus.BLOCKED):
            raise Refused(f"card_{card.status}")
        account = self.state.accounts[card.member_id]
        refund = account.balance_fen
        if self.rules.card_return.forfeit_bonus:
            refund -= account.bonus_fen
        return self._txn(
            Kind.CARD_RETURN,
            now,
            card.member_id,
            uid,
            0,
            0,
            account=account,
            amount_fen=max(0, refund),
        )

    def adjust(self, uid: str, balance_delta_fen: int, points_delta: int, reason: str, now: datetime) -> Txn:
        card = self._any_card(uid)
        account = self.state.accounts[card.member_id]
        if not reason.strip():
            raise Refused("reason_required")
        balance = account.balance_fen + balance_delta_fen
        points = account.points + points_delta
        if balance < 0 or points < 0 or balance > MAX_FEN:
            raise Refused("adjustment_out_of_range")
        return self._txn(
            Kind.ADJUSTMENT,
            now,
            card.member_id,
            uid,
            balance,
            points,
            account=account,
            reason=reason[:200],
            points_expire_on=self._expiry(now) if points_delta > 0 else None,
        )

    def reset_pin_lock(self, uid: str, now: datetime) -> Txn:
        """PIN reset at the counter, once staff have checked who the member is: the failed-PIN
        count goes to zero and the lockout ends, as after a right PIN at a kiosk."""
        card, member, account = self.lookup(uid)
        if member.pin_failures == 0 and member.pin_locked_until is None:
            raise Refused("pin_not_locked", "no failed PIN to reset")
        return self._unchanged(Kind.PIN_RESET, now, card.member_id, uid, account)

    def change_pin(self, uid: str, pin: str, now: datetime, salt: bytes | None = None) -> Txn:
        """A new PIN for a member who forgot theirs, chosen by the member at a kiosk after staff
        checked who they are (staff never choose or see it): its hash replaces the old one and
        any lockout ends. The same format rules as at sign-up."""
        card, _, account = self.lookup(uid)
        self._check_pin_format(pin)
        pin_hash = hash_pin(pin, self.pepper, self.pin_params, salt)
        return self._unchanged(Kind.PIN_CHANGED, now, card.member_id, uid, account, pin_hash=pin_hash)
