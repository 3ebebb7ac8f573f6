"""Payment confirmed by HQ over MQTT (e.g. a QR payment settled at HQ).

Placeholder until the sync client carries payment confirmations: it says it is unavailable
and refuses to start, so the screen shows "payment method unavailable" instead of pretending."""

from __future__ import annotations

from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, PaymentUnavailable

REASON = "hq_payment_not_implemented"


class HqMqttPaymentPlaceholder(PaymentMethod):
    name = "hq"

    def unavailable_reason(self) -> str:
        return REASON

    def start(self, request: PaymentRequest) -> None:
        raise PaymentUnavailable(self.name, REASON)

    def poll(self) -> PaymentStatus:
        return PaymentStatus(PaymentState.FAILED, reason=REASON)

    def cancel(self) -> PaymentStatus:
        return self.poll()
