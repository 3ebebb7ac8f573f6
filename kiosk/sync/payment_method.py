"""The session's payment port (kiosk.payment.port.PaymentMethod) paid through HQ over MQTT:
the kiosk asks HQ's payment bridge (a QR code, a card terminal...) and waits for its
confirmation. Single-threaded like every PaymentMethod; confirmations are collected by
MqttPayments on the MQTT thread and read here with poll()."""

from __future__ import annotations

import time

from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, PaymentUnavailable
from kiosk.sync.payments import MqttPayments
from kiosk.sync.payments import PaymentUnavailable as Offline

OFFLINE = "hq_offline"
TIMEOUT = "hq_timeout"


class HqMqttPayment(PaymentMethod):
    name = "hq"

    def __init__(self, payments: MqttPayments, method: str = "qr", timeout_s: float = 180.0):
        self._payments, self._method, self._timeout_s = payments, method, timeout_s
        self._ref = ""
        self._amount = 0
        self._deadline = 0.0
        self._status = PaymentStatus(PaymentState.FAILED, reason="not_started")

    def unavailable_reason(self) -> str:
        return "" if self._payments.online else OFFLINE

    def start(self, request: PaymentRequest) -> None:
        ref = f"hq:{request.request_id}"[:64]
        try:
            self._payments.request(ref, request.amount_fen, self._method)
        except Offline:
            raise PaymentUnavailable(self.name, OFFLINE) from None
        self._ref, self._amount = ref, request.amount_fen
        self._deadline = time.monotonic() + self._timeout_s
        self._status = PaymentStatus(PaymentState.PENDING)

    def poll(self) -> PaymentStatus:
        if self._status.state is not PaymentState.PENDING:
            return self._status
        answer = self._payments.result(self._ref)
        if answer is None:
            if time.monotonic() > self._deadline:
                self._payments.cancel(self._ref)
                self._status = PaymentStatus(PaymentState.FAILED, reason=TIMEOUT)
            return self._status
        if answer.outcome == "paid":
            self._status = PaymentStatus(PaymentState.CONFIRMED, answer.amount_fen, self._ref)
        else:
            self._status = PaymentStatus(PaymentState.FAILED, reason=f"hq_{answer.outcome}")
        return self._status

    def cancel(self) -> PaymentStatus:
        status = self.poll()  # a confirmation that already arrived is money taken: report it
        if status.state is PaymentState.PENDING:
            self._payments.cancel(self._ref)
            self._status = PaymentStatus(PaymentState.FAILED, reason="cancelled")
        return self._status
