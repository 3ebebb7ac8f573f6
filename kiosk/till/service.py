"""What the till API does, apart from HTTP: start a charge on the kiosk's screen and follow it,
cancel it, refund or void a charged order, each answered as a JSON-ready dict.

Everything that reads or writes the ledger runs on the session's driving thread (posted as a
TillCall or TillCharge), the one thread that uses the store. The till's key for an order is its
order id under the till's name (kiosk/ledger/charges.order_key); an approved charge is found
again in the ledger by that key, so a retry gets the first answer, after a restart too. A
charge declined, cancelled or timed out moved nothing and may be tried again under its key.

The answer's `receipt_lines` are the printable receipt's (kiosk/receipt: the same builders and
layout the kiosk's printer draws), in the request's language; a refund or a void is printed on
the kiosk's own printer after its journal commit, like a charge (kiosk/session/flows/charge.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kiosk.ledger import charges
from kiosk.ledger.model import CardStatus, TillOrder, TillRefund
from kiosk.ledger.operations import Refused
from kiosk.ledger.orders import VOID_ID
from kiosk.ledger.state import LedgerState
from kiosk.ledger.utc import utc_text
from kiosk.receipt.layout import receipt_lines
from kiosk.receipt.mask import mask_uid
from kiosk.receipt.printer import print_safely
from kiosk.receipt.receipt import Receipt, Shop, receipt_for_charge, receipt_for_refund
from kiosk.session.charge_ticket import (
    ChargeOrder,
    ChargeOutcome,
    ChargeTicket,
    Reply,
    TillCall,
    TillCancel,
    TillCharge,
)
from kiosk.till.answers import Answer, AnswerBook

API_VERSION = 1
_KEPT_TICKETS = 500


class TillError(Exception):
    """A request the API answers with an error status: a stable code, the field if one is at fault."""

    def __init__(self, status: int, code: str, message: str, field: str = "", extra: dict | None = None):
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra or {}
        super().__init__(f"{status} {code}: {message}")

    def body(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error, **self.extra}


@dataclass(frozen=True)
class Found:
    """A charged order as the session's thread read it, with what its receipt shows: the
    member's name (masked by the receipt) and card, the store, the rules' time zone."""

    order: TillOrder
    member_name: str
    card_uid: str
    shop: Shop
    timezone: str


def member_card(state: LedgerState, member_id: str) -> tuple[str, str]:
    """(name, card UID) for a member's receipt: the card money goes back to (active, else
    reported lost, as kiosk/ledger/charges.py picks it), else the newest one."""
    member = state.members.get(member_id)
    cards = sorted(state.cards_of(member_id), key=lambda c: -c.card_seq)
    card = next((c for c in cards if c.status is CardStatus.ACTIVE), None) or next(
        (c for c in cards if c.status is CardStatus.BLOCKED), None) or (cards[0] if cards else None)
    return (member.name if member else ""), (card.uid if card else "")


def find(session: Any, key: str) -> Found | None:
    """The order kept under `key` and its receipt's facts; on the session's thread only."""
    found = charges.find_order(session.ledger.state, key)
    if found is None:
        return None
    name, uid = member_card(session.ledger.state, found[0])
    # the card that paid, as the order recorded it (a member's card replaced since is not it)
    return Found(found[1], name, found[1].card_uid or uid, session.shop, session.ledger.rules.timezone)


def charge_receipt(shop: Shop, found: Found, order_id: str, discount_fen: int) -> Receipt:
    """消费单 of a charged order, from the ledger's record of it."""
    order = found.order
    return receipt_for_charge(
        shop, amount_fen=order.paid_fen, discount_fen=discount_fen, voucher_fen=order.voucher_fen,
        points_used=order.points_cash, points_used_fen=order.points_cash_fen, points_earned=order.points_earned,
        balance_after_fen=order.balance_after_fen, points_after=order.points_after, at=order.at,
        timezone=found.timezone, member_name=found.member_name, card_uid=found.card_uid, txn_id=order.txn_id,
        order_id=order_id,
    )


def refund_receipt(shop: Shop, refund: TillRefund, order_id: str, member_name: str, card_uid: str,
                   timezone: str) -> Receipt:
    """退款单, or 撤销单 for the void (refund id "void"), naming the card the money went back to
    (`card_uid` only for a record kept before refunds named theirs)."""
    void = refund.refund_id == VOID_ID
    return receipt_for_refund(
        shop, refund_fen=refund.amount_fen, points_reversed=refund.points_back,
        balance_after_fen=refund.balance_after_fen, points_after=refund.points_after, at=refund.at,
        timezone=timezone, member_name=member_name, card_uid=refund.card_uid or card_uid, txn_id=refund.txn_id,
        order_id=order_id, refund_id="" if void else refund.refund_id, void=void,
        points_returned=refund.points_cash_back, voucher_returned=bool(refund.voucher_back),
        voucher_withdrawn=bool(refund.voucher_withdrawn), voucher_kept_fen=refund.voucher_kept_fen,
        voucher_repaid_fen=refund.voucher_repaid_fen,
    )


def in_locale(shop: Shop, locale: str) -> Shop:
    """The store as the till asked to read it: the till's language, not the kiosk's."""
    return replace(shop, locale=locale)


@dataclass(frozen=True)
class ChargeRequest:
    order_id: str
    amount_fen: int
    apply_discount: bool
    timeout_s: int = 120
    locale: str = "zh_CN"
    voucher_id: str = ""  # "": the member may choose on the screen


class TillService:
    def __init__(self, session: Any, answer_timeout_s: float = 5.0, post: Any = None) -> None:
        self.session = session
        self.answer_timeout_s = answer_timeout_s
        self.post = post or session.post  # `kiosk run`: the app's post, which also wakes the session at once
        self._lock = threading.Lock()
        self._tickets: OrderedDict[str, tuple[ChargeTicket, ChargeRequest]] = OrderedDict()
        self._current: ChargeTicket | None = None
        self._book: AnswerBook | None = None  # made on the session's thread at first use

    # -- charges ---------------------------------------------------------------------------------

    def charge(self, till: str, req: ChargeRequest) -> tuple[int, dict]:
        """202 and the pending charge; 200 and the first answer for an order already answered
        (approved, declined, cancelled or timed out: a retry never starts it again); 409 while
        another order is being charged or a member is using the kiosk."""
        key = self._key(till, req.order_id)
        with self._lock:
            known = self._tickets.get(key)
            if known is not None and _never_started(known[0].outcome):
                del self._tickets[key]  # the kiosk was busy (also when it said so after a 503): never started
                known = None
            if known is not None and known[0].outcome is None:
                return 202, self._ticket_body(req.order_id, *known)
            if known is not None and known[0].outcome.status != "approved":
                return 200, self._answer_body(req, _answer_of(known[0]))
            found, answer = self._call(lambda s: (find(s, key), self._answers(s).get(key)))
            if found is not None:
                return 200, self._charged_body(req, found)
            if answer is not None:  # kept across a restart
                return 200, self._answer_body(req, answer)
            current = self._current
            if current is not None and current.outcome is None:
                raise TillError(409, "charge_in_progress", "another charge is waiting for its card on this kiosk",
                                extra={"order_id": current.order.order_key.split(":", 1)[1]})
            ticket = ChargeTicket(ChargeOrder(key, req.amount_fen, req.apply_discount, req.timeout_s,
                                              voucher_id=req.voucher_id), self._final)
            self._current = ticket
            self._keep(key, ticket, req)
            self.post(TillCharge(ticket))
            ticket.wait_change(0, self.answer_timeout_s)
            outcome = ticket.outcome
            if _never_started(outcome):
                del self._tickets[key]  # not an answer: the order was never started
                raise TillError(409, "kiosk_busy",
                                "a member is using the kiosk; try again when it shows the attract screen")
        if ticket.stage == "queued":
            raise TillError(503, "kiosk_not_answering", "the kiosk's session did not take the charge in time")
        if outcome is not None and outcome.status == "approved":  # answered from the ledger's record
            return 200, self.charge_status(till, req.order_id)
        return (202 if outcome is None else 200), self._ticket_body(req.order_id, ticket, req)

    def charge_status(self, till: str, order_id: str, wait_s: float = 0, since: int = -1) -> dict:
        """The charge as it stands; with wait_s, held until it changes past version `since`."""
        key = self._key(till, order_id)
        with self._lock:
            known = self._tickets.get(key)
        if known is not None:
            ticket, req = known
            if wait_s > 0 and ticket.outcome is None:
                ticket.wait_change(since if since >= 0 else ticket.version, wait_s)
            if ticket.outcome is None or ticket.outcome.status != "approved":
                return self._ticket_body(order_id, ticket, req)
        else:
            req, ticket = None, None
        found, answer = self._call(lambda s: (find(s, key), self._answers(s).get(key)))
        if found is None and answer is not None:
            return self._answer_body(ChargeRequest(order_id, answer.total_fen, answer.apply_discount), answer)
        if found is None:
            raise TillError(404, "unknown_order", f"no charge for order {order_id!r} from this till", "order_id")
        # approved: the ledger's record, with what was refunded since
        o = found.order
        body = self._charged_body(req or ChargeRequest(order_id, o.paid_fen + o.voucher_fen + o.points_cash_fen, False), found)
        if ticket is not None:
            body["version"] = ticket.version
        return body

    def cancel(self, till: str, order_id: str) -> dict:
        """Cancel a charge not yet paid; an approved one cannot be (refund or void it)."""
        key = self._key(till, order_id)
        with self._lock:
            known = self._tickets.get(key)
        if known is not None and known[0].outcome is None:
            ticket = known[0]
            self.post(TillCancel(key))
            ticket.wait_change(ticket.version, self.answer_timeout_s)
            if ticket.outcome is None or ticket.outcome.status != "approved":
                return self._ticket_body(order_id, *known)
        body = self.charge_status(till, order_id)
        if body["status"] == "approved":
            raise TillError(409, "already_approved", "the charge was paid: refund or void it instead", extra=body)
        return body

    # -- refunds and voids -----------------------------------------------------------------------

    def refund(self, till: str, order_id: str, refund_id: str, amount_fen: int, locale: str = "zh_CN") -> dict:
        return self._pay_back(till, order_id, refund_id, amount_fen, locale)

    def void(self, till: str, order_id: str, locale: str = "zh_CN") -> dict:
        return self._pay_back(till, order_id, VOID_ID, None, locale)

    def _pay_back(self, till: str, order_id: str, refund_id: str, amount_fen: int | None, locale: str) -> dict:
        key = self._key(till, order_id)

        def work(s) -> tuple:
            found = find(s, key)
            if found is None:
                return "unknown", None, None
            prior = found.order.refund(refund_id)
            if prior is not None:
                return "repeat", prior, found
            now = s.now()  # the ledger's time: never before its latest while the clock is not trusted
            try:
                if refund_id == VOID_ID:
                    txn = charges.void(s.ledger, key, now)
                else:
                    txn = charges.refund(s.ledger, key, refund_id, amount_fen, now)
            except Refused as exc:
                return "declined", exc, found
            if not s.commit(txn):
                return "declined", Refused("store_failed"), found
            refund = charges.find_order(s.ledger.state, key)[1].refund(refund_id)
            print_safely(s.printer, lambda: refund_receipt(s.shop, refund, order_id, found.member_name,
                                                           found.card_uid, found.timezone))  # committed above
            return "approved", refund, found

        with self._lock:
            result, detail, found = self._call(work)
        kind = "void" if refund_id == VOID_ID else "refund"
        if result == "unknown":
            raise TillError(404, "unknown_order", f"no charge for order {order_id!r} from this till", "order_id")
        if result == "declined":
            body = {"order_id": order_id, "status": "declined", "reason": detail.code}
            if detail.code == "refund_too_large":
                body["refundable_fen"] = int(detail.detail)
            if kind == "refund":
                body["refund_id"] = refund_id
            return body
        refund: TillRefund = detail
        if result == "repeat" and amount_fen is not None and refund.amount_fen != amount_fen:
            raise TillError(409, "refund_id_reused", f"refund {refund_id!r} was made for {refund.amount_fen} fen",
                            "refund_id")
        body = {
            "order_id": order_id,
            "status": "approved",
            "amount_fen": refund.amount_fen,
            "points_back": refund.points_back,
            "points_cash_back": refund.points_cash_back,
            "voucher_back": refund.voucher_back,
            "voucher_withdrawn": refund.voucher_withdrawn,
            "voucher_kept_fen": refund.voucher_kept_fen,
            "voucher_repaid_fen": refund.voucher_repaid_fen,
            "balance_fen": refund.balance_after_fen,
            "points": refund.points_after,
            "txn_id": refund.txn_id,
            "at": _time(refund.at),
            "card": mask_uid(refund.card_uid or found.card_uid),
            "receipt_lines": receipt_lines(refund_receipt(in_locale(found.shop, locale), refund, order_id,
                                                          found.member_name, found.card_uid, found.timezone)),
        }
        if kind == "refund":
            body["refund_id"] = refund_id
        return body

    # -- the kiosk -------------------------------------------------------------------------------

    def status(self, till: str) -> dict:
        current = self._current
        busy = current is not None and current.outcome is None
        return {
            "api_version": API_VERSION,
            "till": till,
            "device_id": self.session.ledger.device_id,
            "kiosk_state": str(self.session.state),
            "charge_in_progress": current.order.order_key.split(":", 1)[1] if busy else None,
        }

    # -- inside ----------------------------------------------------------------------------------

    def _key(self, till: str, order_id: str) -> str:
        try:
            return charges.order_key(till, order_id)
        except Refused:
            raise TillError(400, "bad_request", "order_id: " + charges.KEY_HINT, "order_id") from None

    def _call(self, work) -> Any:
        reply = Reply()
        self.post(TillCall(work, reply))
        try:
            return reply.get(self.answer_timeout_s)
        except TimeoutError:
            raise TillError(503, "kiosk_not_answering", "the kiosk's session did not answer in time") from None

    def _keep(self, key: str, ticket: ChargeTicket, req: ChargeRequest) -> None:
        self._tickets[key] = (ticket, req)
        self._tickets.move_to_end(key)
        while len(self._tickets) > _KEPT_TICKETS:
            self._tickets.popitem(last=False)

    def _ticket_body(self, order_id: str, ticket: ChargeTicket, req: ChargeRequest) -> dict:
        if ticket.outcome is not None:
            return _final_body(order_id, _answer_of(ticket))
        return {"order_id": order_id, "status": "pending", "stage": ticket.stage, "version": ticket.version,
                "total_fen": req.amount_fen, "apply_discount": req.apply_discount}

    def _answer_body(self, req: ChargeRequest, answer: Answer) -> dict:
        """The first answer again, for the same request only (like an approved order's)."""
        if (answer.total_fen, answer.apply_discount) != (req.amount_fen, req.apply_discount):
            raise TillError(409, "order_id_reused", f"order {req.order_id!r} was asked for {answer.total_fen} fen "
                            f"and was {answer.status}: a new attempt takes a new order id", "order_id")
        return _final_body(req.order_id, answer)

    def _answers(self, session: Any) -> AnswerBook:
        """The book of kept answers; on the session's thread only (it reads the store)."""
        if self._book is None:
            self._book = AnswerBook(session.store)
        return self._book

    def _final(self, ticket: ChargeTicket, outcome: ChargeOutcome) -> None:
        """A charge's answer, on the session's thread before the till hears it: one that moved no
        money is kept (an approved one is in the ledger already; kiosk_busy never started)."""
        if outcome.status != "approved" and not _never_started(outcome):
            self._answers(self.session).remember(_answer_of(ticket, outcome, ticket.version + 1))

    def _charged_body(self, req: ChargeRequest, found: Found) -> dict:
        """The approved answer, the first one again on a retry: from the ledger's record of the order."""
        order = found.order
        covered = order.paid_fen + order.voucher_fen + order.points_cash_fen  # the order less the tier discount
        if covered > req.amount_fen or (not req.apply_discount and covered != req.amount_fen):
            raise TillError(409, "order_id_reused", f"order {req.order_id!r} was charged {order.paid_fen} fen",
                            "order_id")
        discount = req.amount_fen - covered
        return {
            "order_id": req.order_id,
            "status": "approved",
            "stage": "done",
            "version": 0,
            "total_fen": req.amount_fen,
            "apply_discount": req.apply_discount,
            "discount_fen": discount,
            "amount_fen": order.paid_fen,
            "voucher_id": order.voucher_id,
            "voucher_fen": order.voucher_fen,
            "points_used": order.points_cash,
            "points_cash_fen": order.points_cash_fen,
            "balance_fen": order.balance_after_fen,
            "points_earned": order.points_earned,
            "points": order.points_after,
            "txn_id": order.txn_id,
            "at": _time(order.at),
            "refunded_fen": order.refunded_fen,
            "voided": order.voided,
            "card": mask_uid(found.card_uid),
            "receipt_lines": receipt_lines(charge_receipt(in_locale(found.shop, req.locale), found, req.order_id,
                                                          discount)),
        }


def _answer_of(ticket: ChargeTicket, outcome: ChargeOutcome | None = None, version: int | None = None) -> Answer:
    outcome = outcome or ticket.outcome
    order = ticket.order
    return Answer(order.order_key, outcome.status, outcome.reason, order.total_fen, order.apply_discount,
                  ticket.version if version is None else version, outcome.balance_fen)


def _final_body(order_id: str, answer: Answer) -> dict:
    """A declined, cancelled or timed-out charge's answer."""
    body: dict[str, Any] = {"order_id": order_id, "status": answer.status, "stage": "done", "version": answer.version,
                            "total_fen": answer.total_fen, "apply_discount": answer.apply_discount}
    if answer.reason:
        body["reason"] = answer.reason
    if answer.balance_fen is not None:
        body["balance_fen"] = answer.balance_fen
    return body


def _time(at: datetime) -> str:
    return utc_text(at)


def _never_started(outcome: ChargeOutcome | None) -> bool:
    """A busy kiosk's answer is no answer: the order never started, so it is neither kept nor
    returned to a retry (the till may send the same order again)."""
    return outcome is not None and outcome.reason == "kiosk_busy"
