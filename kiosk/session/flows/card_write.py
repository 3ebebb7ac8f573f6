"""A card made at HQ's counter (register-member, 补卡, 换卡: the ledger holds it `awaiting_write`)
tapped here, blank or pre-issued: the member's PIN (the account's own, with its lockout), then
the card personalised with the ledger's member id and card number on the reader thread; only
when the writer says it is done is CARD_WRITTEN committed, and then the member's home. Why the
PIN: a blank chip carrying a copied UID must not take the account over. A wrong PIN, a lifted
card or a failed write commit nothing: the card still waits, and the next tap starts again."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.ledger.model import Card
from kiosk.ledger.operations import Refused
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.pin import Pin
from kiosk.session.inputs import CardIssued, CardRead
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message


@dataclass
class Writing:
    started: float | None = None  # when the write was asked, on the monotonic clock


class CardWrite(FlowPart):
    states = frozenset({S.card_write_pin, S.card_writing})

    def reset(self) -> None:
        self.data = Writing()

    def start(self) -> None:
        """The tapped card is the ledger's, waiting to be written: ask the member's PIN (a member
        already locked out is told so at once, and nothing is written)."""
        host, pin = self.host, self.host.flow(Pin)
        pin.ask_member("card_write", self._verified, locked=self._locked)
        host.move("card_to_write")
        if pin.member_locked():
            self._locked()

    def seen_written(self, known: Card) -> None:
        """The card already carries the ledger's member and card number though the ledger still
        waits for it (a write here whose answer came after its session ended): the wait is over."""
        host = self.host
        try:
            host.commit(host.ledger.card_written(known.uid, host.now()))
        except Refused:
            pass

    def card_issued(self, result: CardIssued) -> None:
        """The reader thread's answer: written (CARD_WRITTEN, then home) or not (nothing changed)."""
        host = self.host
        if host.state is not S.card_writing or result.uid != host.visit.uid:
            if not result.problem:
                host.note_error(f"card {result.uid} written after its session ended")
                host.record("card_issued_late", issued_uid=result.uid)
            return
        if result.problem:
            host.record("card_write_failed", problem=result.problem)
            host.refuse("card_write_failed", problem=result.problem)
            return
        try:
            txn = host.ledger.card_written(host.visit.uid, host.now())
        except Refused as exc:  # HQ's news arrived meanwhile (blocked, replaced)
            host.refuse(exc.code)
            return
        if not host.commit(txn):
            host.record("card_written_not_recorded", member_id=txn.member_id)
            host.refuse("store_failed")
            return
        host.feedback.ok()
        host.move("card_write_done")
        host.flow(Gifts).enter_home()
        host.visit.message = Message("card_written", {})

    # -- hooks ---------------------------------------------------------------------------

    def deadline(self, state: SessionState) -> float | None:
        if state is S.card_writing and self.data.started is not None:
            return self.data.started + self.host.settings.card_write_timeout_s
        return None

    def timed_out(self, state: SessionState) -> bool:
        if state is S.card_writing:
            self.host.record("card_write_no_answer")
        return False  # the session ends

    def keeps_lifted_card(self, state: SessionState) -> bool:
        return state is S.card_writing  # the writer answers either way; that answer decides

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        return state is S.card_writing

    def going_back(self, state: SessionState) -> None:
        self.host.flow(Pin).clear()

    # -- inside --------------------------------------------------------------------------

    def _verified(self) -> None:
        host = self.host
        if host.card_writer is None:
            host.refuse("card_writer_unavailable")
            return
        card, _, _ = host.ledger.lookup(host.visit.uid)
        if not card.awaiting_write:
            host.refuse("card_refused")
            return
        self.data.started = host.clock.monotonic()
        host.move("card_write_pin_ok")
        host.card_writer.request_issue(card.uid, card.member_id, card.card_seq, replacing=host.visit.reserved_id)

    def _locked(self) -> None:
        host = self.host
        _, member, _ = host.ledger.lookup(host.visit.uid)
        until, now = member.pin_locked_until, host.now()
        if until is not None and host.ledger.pin_locked(member, now):
            host.refuse("pin_locked", wait_seconds=int((until - now).total_seconds() + 0.999))
        else:
            host.refuse("pin_locked")
