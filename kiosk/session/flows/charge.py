"""Paying with the member card: "Pay ¥128.00 — tap your card", the amounts the member confirms
(discount, balance after), the PIN when the rules ask, the charge committed to the journal
before the screen or the till hears "approved", and only then its receipt (消费单) handed to the
printer.

A charge comes from the till (a TillCharge posted by kiosk/till) or from the staff menu
("Charge a member": amount keypad, then the same path, attributed to the staff card). Until
the commit nothing is debited: a lifted card, a cancel (member or till) or a timeout finishes
the ticket as cancelled or timed out. The ledger decides everything (kiosk/ledger/charges.py);
this flow only asks it and shows its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.ledger import charges
from kiosk.ledger.operations import Refused
from kiosk.ledger.rules import MAX_FEN
from kiosk.ledger.txn import Kind, Txn
from kiosk.receipt.printer import print_safely
from kiosk.receipt.receipt import Receipt, receipt_for_charge
from kiosk.session.charge_ticket import ChargeOrder, ChargeOutcome, ChargeTicket
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.cards import suspect
from kiosk.session.flows.gifts import give_vouchers_due
from kiosk.session.flows.pin import Pin
from kiosk.session.inputs import CardKind, CardRead
from kiosk.session.present import voucher_line
from kiosk.session.states import S, SessionState
from kiosk.session.view import ChargeView, Message

_ENDINGS = {"card_removed": "cancelled", "timeout": "timed_out", "finished": "cancelled", "other_card": "cancelled"}


@dataclass
class ChargeData:
    ticket: ChargeTicket | None = None
    quote: charges.ChargeQuote | None = None
    started: float | None = None  # on the monotonic clock
    staff_uid: str = ""  # the staff card that opened a staff-menu charge
    voucher_id: str = ""  # the voucher chosen (by the till, or the member on the confirm screen)
    points: int = 0  # points the member chose to pay with


class Charge(FlowPart):
    states = frozenset({S.charge_amount, S.charge_tap, S.charge_confirm, S.charge_pin})

    def reset(self) -> None:
        ticket = getattr(self, "data", ChargeData()).ticket
        if ticket is not None:  # the session ended some other way: nothing was debited
            ticket.finish(ChargeOutcome("cancelled", "session_ended", total_fen=ticket.order.total_fen))
        self.data = ChargeData()

    # -- starting ------------------------------------------------------------------------------

    def start_till(self, ticket: ChargeTicket) -> None:
        """The till's charge (from the session's inbox): starts only at the attract screen."""
        host = self.host
        if not host.can("till_charge"):
            ticket.finish(ChargeOutcome("declined", "kiosk_busy", total_fen=ticket.order.total_fen))
            return
        paused = host.sync.money_paused() if host.sync is not None else ""
        if paused:  # the SD card nearly full or the outbox full: no money moves until it clears
            ticket.finish(ChargeOutcome("declined", "money_paused", total_fen=ticket.order.total_fen))
            return
        self._begin(ticket)
        host.move("till_charge")

    def start_staff(self) -> bool:
        """Staff menu: "Charge a member" opens the amount keypad."""
        host = self.host
        if not host.can("staff_charge"):
            return False
        paused = host.sync.money_paused() if host.sync is not None else ""
        if paused:
            host.hint("money_paused", reason=paused)
            return True
        self.data.staff_uid, host.visit.message = host.visit.uid, None
        return host.move("staff_charge")

    def choose_amount(self, amount_fen: int) -> bool:
        """Staff keyed the amount (already what the member pays: no discount taken off)."""
        host = self.host
        if not host.can("charge_amount_ok") or isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
            return False
        if not 0 < amount_fen <= MAX_FEN:
            host.hint("amount_out_of_range", min_fen=1, max_fen=MAX_FEN)
            return True
        now = host.clock.now()
        key = f"staff-{self.data.staff_uid}:{now:%Y%m%d%H%M%S%f}"
        self._begin(ChargeTicket(ChargeOrder(key, amount_fen, False, host.settings.payment_timeout_s, self.data.staff_uid)))
        host.record("staff_charge", staff_uid=self.data.staff_uid, order_key=key, amount_fen=amount_fen)
        return host.move("charge_amount_ok")

    def _begin(self, ticket: ChargeTicket) -> None:
        self.data.ticket, self.data.quote, self.data.started = ticket, None, self.host.clock.monotonic()
        self.data.voucher_id, self.data.points = ticket.order.voucher_id, 0
        self.host.visit.message = None
        self.host.touched()
        ticket.move("waiting_for_card")

    # -- the member -----------------------------------------------------------------------------

    def confirm(self) -> bool:
        """The member agrees to the amounts: the PIN if the rules ask for it, else the charge."""
        host, data = self.host, self.data
        if not host.can("charge_need_pin") or data.quote is None or data.ticket is None:
            return False
        try:  # everything but the PIN first (offline limit, lockout), so no PIN is asked in vain
            self._charge(pin_verified=True)
        except Refused as exc:
            return self._decline(exc.code)
        if not data.quote.pin_required:
            return self._commit(pin_verified=False)
        host.flow(Pin).ask_member("charge", lambda: self._commit(pin_verified=True), locked=self._locked)
        data.ticket.move("pin")
        return host.move("charge_need_pin")

    def choose(self, voucher_id: str | None = None, points: int | None = None) -> bool:
        """The member picks a voucher ("" for none) or the points to pay with, on the confirm
        screen: the amounts are quoted again; a choice the ledger refuses is a hint, nothing else changes."""
        host, data = self.host, self.data
        if host.state is not S.charge_confirm or data.ticket is None or data.quote is None:
            return False
        if isinstance(points, bool) or not isinstance(points, int | None) or not isinstance(voucher_id, str | None):
            return False
        voucher = data.voucher_id if voucher_id is None else voucher_id
        chosen = data.points if points is None else points
        if voucher_id is not None and voucher != data.voucher_id:
            chosen = 0  # another voucher changes how many points the order takes
        try:
            data.quote = self._quote(voucher, chosen)
        except Refused as exc:
            host.hint(exc.code)
            return True
        data.voucher_id, data.points = voucher, chosen
        host.visit.message = None
        host.touched()
        return True

    def _quote(self, voucher_id: str, points: int) -> charges.ChargeQuote:
        host, order = self.host, self.data.ticket.order
        return charges.quote(
            host.ledger, host.visit.uid, order.order_key, order.total_fen, order.apply_discount, host.now(),
            voucher_id, points, self._store(),
        )

    def _store(self) -> str:
        sync = self.host.sync
        return getattr(getattr(sync, "settings", None), "store_id", "") if sync is not None else ""

    def cancel(self) -> bool:
        """The member (or staff) cancels before paying."""
        if self.host.state not in self.states or self.data.ticket is None:
            return False
        return self._stop("cancelled", "member_cancelled", "charge_cancelled")

    def till_cancel(self, order_key: str) -> None:
        """The till cancels (from the session's inbox): only a charge not yet committed."""
        ticket = self.data.ticket
        if ticket is not None and ticket.order.order_key == order_key and self.host.state in self.states:
            self._stop("cancelled", "till_cancelled", "charge_cancelled")

    # -- hooks ------------------------------------------------------------------------------------

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state not in self.states:
            return {}
        data = self.data
        order = data.ticket.order if data.ticket else None
        q = data.quote
        return {
            "charge": ChargeView(
                total_fen=order.total_fen if order else 0,
                discount_fen=q.discount_fen if q else 0,
                amount_fen=q.amount_fen if q else (order.total_fen if order else 0),
                balance_fen=q.balance_before_fen if q else None,
                balance_after_fen=q.balance_after_fen if q else None,
                points_earned=q.points_earned if q else 0,
                pin_required=q.pin_required if q else False,
                staff=bool(data.staff_uid),
                discount_asked=bool(order and order.apply_discount),
                voucher_id=q.voucher_id if q else "",
                voucher_fen=q.voucher_fen if q else 0,
                points_used=q.points_cash if q else 0,
                points_cash_fen=q.points_cash_fen if q else 0,
                vouchers=tuple(voucher_line(self.host.ledger, v) for v in q.vouchers) if q else (),
                most_points=q.most_points if q else 0,
                points_step=q.points_step if q else 1,
            )
        }

    def deadline(self, state: SessionState) -> float | None:
        data = self.data
        if state is S.charge_tap and data.started is not None and data.ticket is not None:
            return data.started + data.ticket.order.timeout_s
        return None

    def timed_out(self, state: SessionState) -> bool:
        if state is not S.charge_tap:
            return False
        self._stop("timed_out", "no_card", "charge_timed_out")
        self.host.touched()
        return True

    def keeps_lifted_card(self, state: SessionState) -> bool:
        # before a member's card is read the lifted card is the staff card that opened the charge
        return state in (S.charge_amount, S.charge_tap)

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        if state is S.charge_tap:
            self._card(card)
            return True
        return state is S.charge_amount  # a card tapped while staff key the amount is ignored

    def ending(self, state: SessionState, reason: str) -> None:
        ticket = self.data.ticket
        if ticket is not None:
            status = _ENDINGS.get(reason, "declined")
            ticket.finish(ChargeOutcome(status, reason, total_fen=ticket.order.total_fen))

    def going_back(self, state: SessionState) -> None:
        if state is S.charge_pin:
            self.host.flow(Pin).clear()
            if self.data.ticket is not None:
                self.data.ticket.move("confirming")

    # -- inside -----------------------------------------------------------------------------------

    def _card(self, card: CardRead) -> None:
        """A card at "tap your card": the member's, checked as at any tap, then the quote."""
        host, data = self.host, self.data
        if host.staff_card(card) or data.ticket is None:
            return
        host.feedback.tap()
        known = host.ledger.state.cards.get(card.uid)
        if host.sync is not None and host.sync.is_blocked(card.uid):
            self._decline("card_blocked")
            return
        if card.kind is not CardKind.MEMBER or known is None:
            host.hint("charge_card_not_member")
            host.feedback.error()
            return
        problem = suspect(card, known)
        if problem:
            host.record("card_suspect", problem=problem, member_id=known.member_id)
            self._decline("card_refused")
            return
        visit = host.visit
        visit.uid, visit.card_present, visit.card_counter, visit.message = card.uid, True, card.card_counter, None
        try:
            data.quote = self._quote(data.voucher_id, 0)
        except Refused as exc:
            balance = int(exc.detail) if exc.code == "insufficient_balance" else None
            self._decline(exc.code, balance_fen=balance)
            return
        data.ticket.move("confirming")
        host.touched()
        host.move("charge_card")

    def _charge(self, pin_verified: bool):
        host, data = self.host, self.data
        assert data.ticket is not None
        order, now = data.ticket.order, host.now()
        offline_for = host.sync.offline_for(now) if host.sync is not None else None
        return charges.charge(
            host.ledger,
            host.visit.uid,
            order.order_key,
            order.total_fen,
            order.apply_discount,
            now,
            pin_verified=pin_verified,
            offline_for=offline_for,
            offline_spent_fen=self._spent_since_hq() if offline_for is not None else 0,
            voucher_id=self.data.voucher_id,
            points=self.data.points,
            store=self._store(),
        )

    def _spent_since_hq(self) -> int:
        """What this card spent here in transactions HQ has not confirmed yet."""
        outbox = getattr(self.host.store, "outbox", None)
        if outbox is None:
            return 0
        uid = self.host.visit.uid
        return sum(t.amount_fen for t in outbox() if t.card_uid == uid and t.kind is Kind.SPEND)

    def _commit(self, pin_verified: bool) -> bool:
        host, data = self.host, self.data
        try:
            txn = self._charge(pin_verified)
        except Refused as exc:
            return self._decline(exc.code)
        if not host.commit(txn):
            return self._decline("store_failed")
        q, ticket = data.quote, data.ticket
        assert q is not None and ticket is not None
        print_safely(host.printer, lambda: self._receipt(txn, ticket.order))  # committed above: never before
        outcome = ChargeOutcome(
            "approved",
            total_fen=q.total_fen,
            discount_fen=q.discount_fen,
            amount_fen=txn.amount_fen,
            balance_fen=txn.balance_after_fen,
            points_earned=txn.points_delta + txn.points_cash,
            points=txn.points_after,
            member_id=txn.member_id,
            txn_id=txn.txn_id,
            at=txn.at,
            voucher_id=txn.voucher_id,
            voucher_fen=txn.voucher_fen,
            points_used=txn.points_cash,
            points_cash_fen=txn.points_cash_fen,
        )
        data.ticket = None
        ticket.finish(outcome)
        host.visit.message = Message(
            "charge_done",
            {"amount_fen": txn.amount_fen, "discount_fen": q.discount_fen, "points": txn.points_delta + txn.points_cash,
             "balance_fen": txn.balance_after_fen, "voucher_fen": txn.voucher_fen, "points_used": txn.points_cash},
        )
        give_vouchers_due(host, txn.card_uid)  # 消费送券: a charge above the rules' threshold
        host.feedback.ok()
        host.move("charged")
        host.touched()
        return True

    def _receipt(self, txn: Txn, order: ChargeOrder) -> Receipt:
        """消费单 for a committed charge, in the store's language and time zone. A till's charge
        shows the till's order id; a staff-menu one none (its key names the staff card)."""
        host = self.host
        return receipt_for_charge(
            host.shop,
            amount_fen=txn.amount_fen,
            discount_fen=order.total_fen - txn.amount_fen - txn.voucher_fen - txn.points_cash_fen,  # the tier's
            voucher_fen=txn.voucher_fen,
            points_used=txn.points_cash,
            points_used_fen=txn.points_cash_fen,
            points_earned=txn.points_delta + txn.points_cash,
            balance_after_fen=txn.balance_after_fen,
            points_after=txn.points_after,
            at=txn.at,
            timezone=host.ledger.rules.timezone,
            member_name=self.member_name(txn.card_uid),
            card_uid=txn.card_uid,
            txn_id=txn.txn_id,
            order_id="" if order.staff_uid else order.order_key.split(":", 1)[1],
        )

    def _locked(self) -> None:
        self._decline("pin_locked")

    def _decline(self, code: str, balance_fen: int | None = None) -> bool:
        message = "charge_insufficient_balance" if balance_fen is not None else code
        return self._stop("declined", code, message, balance_fen=balance_fen)

    def _stop(self, status: str, reason: str, message: str, balance_fen: int | None = None) -> bool:
        """Finish the ticket (nothing debited) and say why on the screen."""
        ticket, self.data.ticket = self.data.ticket, None
        if ticket is not None:
            ticket.finish(ChargeOutcome(status, reason, total_fen=ticket.order.total_fen, balance_fen=balance_fen))
        params = {"balance_fen": balance_fen} if balance_fen is not None else {}
        return self.host.refuse(message, **params)
