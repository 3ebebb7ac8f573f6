"""What the till API does, apart from HTTP: start a charge on the kiosk's screen and follow it,
cancel it, refund or void a charged order, each answered as a JSON-ready dict.

Everything that reads or writes the ledger runs on the session's driving thread (posted as a
TillCall or TillCharge), the one thread that uses the store. The till's key for an order is its
order id under the till's name (kiosk/ledger/charges.order_key); an approved charge is found
again in the ledger by that key, so a retry gets the first answer, after a restart too. A
charge declined, cancelled or timed out moved nothing and may be tried again under its key."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kiosk.ledger import charges
from kiosk.ledger.model import TillOrder, TillRefund
from kiosk.ledger.operations import Refused
from kiosk.ledger.orders import VOID_ID
from kiosk.session.charge_ticket import ChargeOrder, ChargeTicket, Reply, TillCall, TillCancel, TillCharge
from kiosk.till.receipt import receipt_lines

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
class ChargeRequest:
    order_id: str
    amount_fen: int
    apply_discount: bool
    timeout_s: int = 120
    locale: str = "zh_CN"


class TillService:
    def __init__(self, session: Any, answer_timeout_s: float = 5.0, post: Any = None) -> None:
        self.session = session
        self.answer_timeout_s = answer_timeout_s
        self.post = post or session.post  # `kiosk run`: the app's post, which also wakes the session at once
        self._lock = threading.Lock()
        self._tickets: OrderedDict[str, tuple[ChargeTicket, ChargeRequest]] = OrderedDict()
        self._current: ChargeTicket | None = None

    # -- charges ---------------------------------------------------------------------------------

    def charge(self, till: str, req: ChargeRequest) -> tuple[int, dict]:
        """202 and the pending charge; 200 and the first answer for an order already charged;
        409 while another order is being charged or a member is using the kiosk."""
        key = self._key(till, req.order_id)
        with self._lock:
            known = self._tickets.get(key)
            if known is not None and known[0].outcome is None:
                return 202, self._ticket_body(req.order_id, *known)
            current = self._current
            if current is not None and current.outcome is None:
                raise TillError(409, "charge_in_progress", "another charge is waiting for its card on this kiosk",
                                extra={"order_id": current.order.order_key.split(":", 1)[1]})
            found, timezone = self._call(lambda s: (charges.find_order(s.ledger.state, key), s.ledger.rules.timezone))
            if found is not None:
                return 200, self._charged_body(req, found[1], timezone)
            ticket = ChargeTicket(ChargeOrder(key, req.amount_fen, req.apply_discount, req.timeout_s))
            self._current = ticket
            self._keep(key, ticket, req)
            self.post(TillCharge(ticket))
            ticket.wait_change(0, self.answer_timeout_s)
        outcome = ticket.outcome
        if outcome is not None and outcome.reason == "kiosk_busy":
            raise TillError(409, "kiosk_busy", "a member is using the kiosk; try again when it shows the attract screen")
        if ticket.stage == "queued":
            raise TillError(503, "kiosk_not_answering", "the kiosk's session did not take the charge in time")
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
        found, timezone = self._call(lambda s: (charges.find_order(s.ledger.state, key), s.ledger.rules.timezone))
        if found is None:
            raise TillError(404, "unknown_order", f"no charge for order {order_id!r} from this till", "order_id")
        order = found[1]  # approved: the ledger's record, with what was refunded since
        body = self._charged_body(req or ChargeRequest(order_id, order.paid_fen, False), order, timezone)
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
            found = charges.find_order(s.ledger.state, key)
            timezone = s.ledger.rules.timezone
            if found is None:
                return "unknown", None, timezone
            prior = found[1].refund(refund_id)
            if prior is not None:
                return "repeat", prior, timezone
            now = s.clock.now()
            try:
                if refund_id == VOID_ID:
                    txn = charges.void(s.ledger, key, now)
                else:
                    txn = charges.refund(s.ledger, key, refund_id, amount_fen, now)
            except Refused as exc:
                return "declined", exc, timezone
            if not s.commit(txn):
                return "declined", Refused("store_failed"), timezone
            return "approved", charges.find_order(s.ledger.state, key)[1].refund(refund_id), timezone

        with self._lock:
            result, detail, timezone = self._call(work)
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
            "balance_fen": refund.balance_after_fen,
            "points": refund.points_after,
            "txn_id": refund.txn_id,
            "at": _time(refund.at),
            "receipt_lines": receipt_lines(
                kind, order_id=order_id, at=refund.at, timezone=timezone, amount_fen=refund.amount_fen,
                balance_fen=refund.balance_after_fen, points=refund.points_after, points_moved=refund.points_back,
                txn_id=refund.txn_id, locale=locale,
            ),
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
        outcome = ticket.outcome
        body: dict[str, Any] = {
            "order_id": order_id,
            "status": outcome.status if outcome else "pending",
            "stage": ticket.stage,
            "version": ticket.version,
            "total_fen": req.amount_fen,
            "apply_discount": req.apply_discount,
        }
        if outcome is None:
            return body
        if outcome.reason:
            body["reason"] = outcome.reason
        if outcome.balance_fen is not None:
            body["balance_fen"] = outcome.balance_fen
        if outcome.status == "approved" and outcome.at is not None:
            body.update(
                discount_fen=outcome.discount_fen,
                amount_fen=outcome.amount_fen,
                points_earned=outcome.points_earned,
                points=outcome.points,
                txn_id=outcome.txn_id,
                at=_time(outcome.at),
                receipt_lines=self._charge_receipt(order_id, req, outcome.amount_fen, outcome.discount_fen,
                                                   outcome.balance_fen or 0, outcome.points or 0, outcome.points_earned,
                                                   outcome.txn_id, outcome.at),
            )
        return body

    def _charged_body(self, req: ChargeRequest, order: TillOrder, timezone: str) -> dict:
        """The first answer again, from the ledger's record of the order."""
        if order.paid_fen > req.amount_fen or (not req.apply_discount and order.paid_fen != req.amount_fen):
            raise TillError(409, "order_id_reused", f"order {req.order_id!r} was charged {order.paid_fen} fen",
                            "order_id")
        discount = req.amount_fen - order.paid_fen
        body = {
            "order_id": req.order_id,
            "status": "approved",
            "stage": "done",
            "version": 0,
            "total_fen": req.amount_fen,
            "apply_discount": req.apply_discount,
            "discount_fen": discount,
            "amount_fen": order.paid_fen,
            "balance_fen": order.balance_after_fen,
            "points_earned": order.points_earned,
            "points": order.points_after,
            "txn_id": order.txn_id,
            "at": _time(order.at),
            "refunded_fen": order.refunded_fen,
            "voided": order.voided,
            "receipt_lines": self._charge_receipt(req.order_id, req, order.paid_fen, discount, order.balance_after_fen,
                                                  order.points_after, order.points_earned, order.txn_id, order.at,
                                                  timezone),
        }
        return body

    def _charge_receipt(self, order_id, req, amount, discount, balance, points, earned, txn_id, at,
                        timezone: str = "") -> list[str]:
        timezone = timezone or self.session.ledger.rules.timezone  # Rules are replaced whole: a safe read
        return receipt_lines(
            "charge", order_id=order_id, at=at, timezone=timezone, amount_fen=amount, balance_fen=balance,
            points=points, points_moved=earned, total_fen=req.amount_fen, discount_fen=discount, txn_id=txn_id,
            locale=req.locale,
        )


def _time(at) -> str:
    return at.isoformat().replace("+00:00", "Z")
