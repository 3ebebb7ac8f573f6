"""Top-up: choose an amount (the bonus and points shown are the ledger's own preview), choose a
payment method, wait for it; credit only what the method confirmed, committed before "done",
and only then hand the receipt (储值单) to the printer.

While the member's sign-up card fee is due (right after signing up, or a later visit if they
left without paying) the same screens collect it: each amount shows the fee beside it or that it
waives it, "card fee only" is offered, and the payment is split by the ledger (fees.py)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.ledger.operations import Refused
from kiosk.ledger.txn import Txn
from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, PaymentUnavailable
from kiosk.receipt.printer import print_safely
from kiosk.receipt.receipt import Receipt, receipt_for_top_up
from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.engagement import Engagement
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.sale import credit
from kiosk.session.inputs import CardRead
from kiosk.session.states import S, SessionState
from kiosk.session.view import Message, PaymentMethodView, PaymentView, TopUpOption, TopUpView

log = logging.getLogger("kiosk.session.session")


@dataclass
class TopUpData:
    options: tuple[TopUpOption, ...] = ()
    chosen: TopUpOption | None = None
    payment: PaymentMethod | None = None
    request: PaymentRequest | None = None
    started: datetime | None = None
    status: PaymentStatus | None = None  # as last polled; the view never calls the adapter


class TopUp(FlowPart):
    states = frozenset({S.topup_amount, S.topup_confirm, S.paying})

    def reset(self) -> None:
        self.data = TopUpData()

    # -- the member's actions ------------------------------------------------------------

    def start(self) -> bool:
        return self._open("start_topup")

    def start_fee(self) -> bool:
        """Right after a sign-up that owes the card fee: False when money is paused (the fee stays due)."""
        return self._open("fee_due") and self.host.state is S.topup_amount

    def _open(self, event: str) -> bool:
        host = self.host
        if not host.can(event):
            return False
        paused = host.store_health.paused(host.store, host.clock.now())
        if not paused and host.sync is not None:
            paused = host.sync.money_paused()
        if paused:
            host.hint("money_paused", reason=paused)
            return True
        options = []
        for amount in ((0,) if self._fee_due() else ()) + host.ledger.rules.topup.presets_fen:
            try:
                options.append(self._preview(amount))
            except Refused:
                continue
        self.data.options, self.data.chosen, host.visit.message = tuple(options), None, None
        return host.move(event)

    def choose_amount(self, amount_fen: int) -> bool:
        host = self.host
        if not host.can("amount_ok") or isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
            return False
        try:
            option = self._preview(amount_fen)
        except Refused as exc:
            rules = host.ledger.rules.topup
            host.hint(exc.code, min_fen=rules.min_fen, max_fen=rules.max_fen)
            return True
        self.data.chosen, host.visit.message = option, None
        return host.move("amount_ok")

    def pay(self, method_name: str) -> bool:
        host, data = self.host, self.data
        if not host.can("pay") or data.chosen is None or not isinstance(method_name, str):
            return False
        method = host.payments.get(method_name)
        reason = "unknown_method" if method is None else method.unavailable_reason()
        if method is not None and not reason:
            request = PaymentRequest(uuid.uuid4().hex[:16], host.visit.uid, data.chosen.amount_fen + data.chosen.fee_fen)
            try:
                method.start(request)
            except PaymentUnavailable as exc:
                reason = exc.reason
        if reason:
            host.hint("payment_unavailable", method=method_name, reason=reason)
            host.feedback.error()
            return True
        data.payment, data.request, data.started = method, request, host.clock.monotonic()
        data.status = PaymentStatus(PaymentState.PENDING)
        host.visit.message = None
        return host.move("pay")

    def cancel_payment(self) -> bool:
        if not self.host.can("back_from_payment"):
            return False
        params = self._payment_params()
        self._stop_payment("cancelled")
        self.host.hint("payment_cancelled", **params)
        return self.host.move("back_from_payment")

    # -- hooks ---------------------------------------------------------------------------

    def view_part(self, state: SessionState, now: datetime) -> dict[str, Any]:
        if state not in self.states:
            return {}
        data, rules = self.data, self.host.ledger.rules.topup
        part: dict[str, Any] = {
            "topup": TopUpView(
                presets=data.options,
                min_fen=rules.min_fen,
                max_fen=rules.max_fen,
                chosen=data.chosen,
                methods=tuple(PaymentMethodView(p.name, p.unavailable_reason()) for p in self.host.payments.values()),
            )
        }
        if state is S.paying and data.payment is not None and data.request is not None:
            status = data.status or PaymentStatus(PaymentState.PENDING)
            part["payment"] = PaymentView(
                method=data.payment.name,
                requested_fen=data.request.amount_fen,
                received_fen=status.received_fen,
                state=str(status.state),
                waiting_for_staff_card=data.payment.wants_staff_card,
            )
        return part

    def deadline(self, state: SessionState) -> float | None:
        if state is S.paying and self.data.started is not None:
            return self.data.started + self.host.settings.payment_timeout_s
        return None

    def timed_out(self, state: SessionState) -> bool:
        if state is not S.paying:
            return False
        self._stop_payment("payment_timeout")
        self.host.refuse("payment_timeout", **self._payment_params())
        self.host.touched()
        return True

    def keeps_lifted_card(self, state: SessionState) -> bool:
        # staff cash: the member lifts the card so staff can tap theirs
        return state is S.paying and self.data.payment is not None and self.data.payment.wants_staff_card

    def other_card(self, state: SessionState, card: CardRead) -> bool:
        host = self.host
        if state is not S.paying:
            return False
        payment = self.data.payment
        if payment is not None and host.staff_card(card) and payment.staff_confirmed(card.uid):
            host.feedback.tap()
            if card.uid in host.settings.staff_ids:  # whoever confirmed the cash is credited with it
                credit(host, host.settings.staff_ids[card.uid])
            self.tick(state)
        return True  # another member's card must not disturb a payment

    def ending(self, state: SessionState, reason: str) -> None:
        if state is S.paying:
            self._stop_payment(reason)

    def tick(self, state: SessionState) -> None:
        data = self.data
        if state is not S.paying or data.payment is None or data.request is None:
            return
        status = data.payment.poll()
        data.status = status
        if status.state is PaymentState.PENDING:
            return
        method, request = data.payment, data.request
        data.payment, data.started = None, None
        if status.state is PaymentState.FAILED:
            self.host.record(
                "payment_failed", method=method.name, reason=status.reason, received_fen=status.received_fen
            )
            self.host.refuse("payment_failed", reason=status.reason, received_fen=status.received_fen)
            return
        self._credit(method.name, request, status.received_fen, status.payment_ref)

    # -- inside --------------------------------------------------------------------------

    def _preview(self, amount_fen: int) -> TopUpOption:
        """What a top-up would give, asked of the ledger itself (raises Refused); while the card
        fee is due, the fee paid with it or its waiver too (amount 0: the fee alone)."""
        host = self.host
        fee = waived = 0
        due = self._fee_due()
        if due:
            waiver_at = host.ledger.rules.fees.waiver_topup_fen
            paid = amount_fen if waiver_at and amount_fen >= waiver_at else amount_fen + due
            split = host.ledger.fee_split(host.ledger.lookup(host.visit.uid)[2], paid)
            amount_fen, fee, waived = split.topup_fen, split.fee_fen, bool(split.waiver)
            if not amount_fen:
                return TopUpOption(0, 0, 0, fee_fen=fee)
        txn = host.ledger.top_up(host.visit.uid, amount_fen, "preview", host.now())
        return TopUpOption(amount_fen, txn.bonus_fen, txn.points_delta, fee_fen=fee, fee_waived=bool(waived))

    def _fee_due(self) -> int:
        found = self.host.ledger.state.card_account(self.host.visit.uid)
        return found[2].card_fee_due_fen if found else 0

    def _payment_params(self) -> dict:
        data = self.data
        status = data.status
        return {
            "method": data.payment.name if data.payment else "",
            "requested_fen": data.request.amount_fen if data.request else 0,
            "received_fen": status.received_fen if status else 0,
        }

    def _stop_payment(self, reason: str) -> None:
        """Cancel the pending payment; any money already counted is recorded for a refund."""
        data = self.data
        if data.payment is None or data.request is None:
            return
        detail = {}
        try:
            status = data.payment.cancel()
        except Exception as exc:  # the adapter is broken: record what it last reported
            log.exception("payment %s could not be cancelled", data.payment.name)
            status = data.status or PaymentStatus(PaymentState.PENDING)
            detail["cancel_failed"] = type(exc).__name__
        data.status = status
        self.host.record(
            "payment_abandoned",
            reason=reason,
            method=data.payment.name,
            request_id=data.request.request_id,
            requested_fen=data.request.amount_fen,
            received_fen=status.received_fen,
            **detail,
        )
        data.payment, data.started = None, None

    def _credit(self, method: str, request: PaymentRequest, paid_fen: int, ref: str) -> None:
        """Payment confirmed: the card fee due (or its waiver) and the top-up are committed before "done"."""
        host = self.host
        problem, fee, txn, uncredited = "", None, None, paid_fen
        try:
            if self._fee_due():
                fee, rest = host.ledger.settle_card_fee(host.visit.uid, paid_fen, ref, host.now(), host.visit.staff_id)
                if not host.commit(fee):
                    raise Refused("store_failed")
                uncredited = rest
            else:
                rest = paid_fen
            if rest:
                txn = host.ledger.top_up(host.visit.uid, rest, ref, host.now(), host.visit.staff_id)
                if not host.commit(txn):
                    raise Refused("store_failed")
        except Refused as exc:
            problem = exc.code
        if problem:
            host.record("paid_not_credited", method=method, payment_ref=ref, paid_fen=uncredited, problem=problem)
            host.refuse("paid_not_credited", paid_fen=uncredited, problem=problem)
            return
        if txn is not None or fee is not None:
            print_safely(host.printer, lambda: self._receipt(txn, fee))  # committed above: never before
        host.flow(Gifts).refresh_member()
        fee_params = {"fee_fen": fee.amount_fen if fee else 0, "fee_waived": bool(fee and fee.waiver)}
        if txn is None:
            host.visit.message = Message("card_fee_paid", fee_params)
        else:
            host.visit.message = Message(
                "topup_done",
                {
                    "amount_fen": txn.amount_fen,
                    "bonus_fen": txn.bonus_fen,
                    "points": txn.points_delta,
                    "balance_fen": txn.balance_after_fen,
                    **(fee_params if fee else {}),
                },
            )
            host.flow(Engagement).offer_survey()
        host.feedback.ok()
        host.move("paid")
        host.touched()

    def _receipt(self, txn: Txn | None, fee: Txn | None) -> Receipt:  # one of them at least
        """储值单 for a committed top-up, with the card fee the same payment settled (or 卡费单
        for the fee alone), in the store's language and time zone."""
        host = self.host
        last = txn or fee
        return receipt_for_top_up(
            host.shop,
            amount_fen=txn.amount_fen if txn else 0,
            bonus_fen=txn.bonus_fen if txn else 0,
            points_earned=txn.points_delta if txn else 0,
            balance_after_fen=last.balance_after_fen,
            points_after=last.points_after,
            at=last.at,
            timezone=host.ledger.rules.timezone,
            member_name=self.member_name(last.card_uid),
            card_uid=last.card_uid,
            txn_id=last.txn_id,
            card_fee_fen=fee.amount_fen if fee else 0,
            card_fee_waived=bool(fee and fee.waiver),
        )
