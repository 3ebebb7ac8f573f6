"""Cash taken at the counter, confirmed by a member of staff tapping their staff card."""

from __future__ import annotations

from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentState, PaymentStatus


class StaffCashPayment(PaymentMethod):
    name = "staff_cash"

    def __init__(self) -> None:
        self._request: PaymentRequest | None = None
        self._status = PaymentStatus(PaymentState.FAILED, reason="not_started")

    def unavailable_reason(self) -> str:
        return ""

    def start(self, request: PaymentRequest) -> None:
        self._request = request
        self._status = PaymentStatus(PaymentState.PENDING)

    def poll(self) -> PaymentStatus:
        return self._status

    def cancel(self) -> PaymentStatus:
        if self._status.state is PaymentState.PENDING:
            self._status = PaymentStatus(PaymentState.FAILED, reason="cancelled")
        self._request = None
        return self._status

    def staff_confirmed(self, staff_uid: str) -> bool:
        if self._request is None or self._status.state is not PaymentState.PENDING:
            return False
        ref = f"cash:{staff_uid}:{self._request.request_id}"[:64]
        self._status = PaymentStatus(PaymentState.CONFIRMED, self._request.amount_fen, ref)
        return True

    @property
    def wants_staff_card(self) -> bool:
        return True
