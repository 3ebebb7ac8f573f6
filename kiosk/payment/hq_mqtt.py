"""The "pay through HQ" method on a kiosk that runs without HQ (no [hq] host configured).

With HQ configured, kiosk.app.wiring uses kiosk.sync.payment_method.HqMqttPayment instead.
This one says it is unavailable and refuses to start, so the screen says the method is not set
up instead of pretending."""

from __future__ import annotations

from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, PaymentUnavailable

REASON = "hq_not_configured"


class NoHqPayment(PaymentMethod):
    name = "hq"

    def unavailable_reason(self) -> str:
        return REASON

    def start(self, request: PaymentRequest) -> None:
        raise PaymentUnavailable(self.name, REASON)

    def poll(self) -> PaymentStatus:
        return PaymentStatus(PaymentState.FAILED, reason=REASON)

    def cancel(self) -> PaymentStatus:
        return self.poll()
