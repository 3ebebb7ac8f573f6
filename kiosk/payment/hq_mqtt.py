"""The payment port paid through HQ over MQTT, in one place.

The kiosk asks HQ's payment bridge (a QR code, a card terminal...) to collect an amount with a
`payment_request` message and waits for its `payment` confirmation:
- MqttPayments: the book of payments waiting for HQ. Thread-safe: confirmations arrive on the
  sync client's network thread, the session reads them on its own.
- HqMqttPayment: the session's PaymentMethod over that book (single-threaded, polled).
- NoHqPayment: the same method on a kiosk without HQ ([hq] host not configured): it says it is
  not set up instead of pretending.
The sync client is reached only through the small PaymentLink protocol, so neither imports the other."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, PaymentUnavailable
from kiosk.sync.messages import HqPaymentRequest, PaymentConfirmation

log = logging.getLogger("kiosk.payment.hq")

NAME = "hq"
OFFLINE = "hq_offline"
TIMEOUT = "hq_timeout"
NOT_CONFIGURED = "hq_not_configured"


class _DeviceSettings(Protocol):
    device_id: str


class PaymentLink(Protocol):
    """What the payments need of the sync client (kiosk.sync.client.SyncClient)."""

    @property
    def connected(self) -> bool: ...

    @property
    def settings(self) -> _DeviceSettings: ...

    def publish_payment_request(self, msg: HqPaymentRequest) -> bool: ...


class MqttPayments:
    def __init__(self, sync: PaymentLink):
        self._sync = sync
        self._cond = threading.Condition()
        self._pending: dict[str, int] = {}  # payment_ref -> amount_fen asked
        self._results: dict[str, PaymentConfirmation] = {}

    @property
    def online(self) -> bool:
        return self._sync.connected

    def request(self, payment_ref: str, amount_fen: int, method: str = "qr") -> None:
        """Ask for `amount_fen`; raises PaymentUnavailable when offline (nothing is queued)."""
        msg = HqPaymentRequest(self._sync.settings.device_id, payment_ref, amount_fen, method, datetime.now(UTC))
        with self._cond:
            self._pending[payment_ref] = amount_fen
            self._results.pop(payment_ref, None)
        if not self._sync.publish_payment_request(msg):
            with self._cond:
                self._pending.pop(payment_ref, None)
            raise PaymentUnavailable(NAME, OFFLINE)

    def result(self, payment_ref: str) -> PaymentConfirmation | None:
        """The confirmation if it has arrived (non-blocking)."""
        with self._cond:
            return self._results.get(payment_ref)

    def wait(self, payment_ref: str, timeout_s: float) -> PaymentConfirmation | None:
        """Block until the confirmation arrives or timeout_s passes (then None)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while payment_ref not in self._results:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._results[payment_ref]

    def cancel(self, payment_ref: str) -> None:
        """Stop waiting for this payment; a late confirmation is then logged and ignored."""
        with self._cond:
            self._pending.pop(payment_ref, None)
            self._results.pop(payment_ref, None)

    def deliver(self, msg: PaymentConfirmation) -> str:
        """Called by the sync client; returns why the confirmation was refused, or ""."""
        with self._cond:
            asked = self._pending.get(msg.payment_ref)
            if asked is None:
                return "no payment is waiting for this reference"
            if msg.outcome == "paid" and msg.amount_fen != asked:
                return f"paid {msg.amount_fen} fen but {asked} fen was asked"
            del self._pending[msg.payment_ref]
            self._results[msg.payment_ref] = msg
            self._cond.notify_all()
            return ""


class HqMqttPayment(PaymentMethod):
    """Single-threaded like every PaymentMethod; `clock` (monotonic seconds) times the wait for HQ."""

    name = NAME

    def __init__(self, payments: MqttPayments, method: str = "qr", timeout_s: float = 180.0,
                 clock: Callable[[], float] = time.monotonic):
        self._payments, self._method, self._timeout_s, self._clock = payments, method, timeout_s, clock
        self._ref = ""
        self._amount = 0
        self._deadline = 0.0
        self._status = PaymentStatus(PaymentState.FAILED, reason="not_started")

    def unavailable_reason(self) -> str:
        return "" if self._payments.online else OFFLINE

    def start(self, request: PaymentRequest) -> None:
        ref = f"hq:{request.request_id}"[:64]
        self._payments.request(ref, request.amount_fen, self._method)
        self._ref, self._amount = ref, request.amount_fen
        self._deadline = self._clock() + self._timeout_s
        self._status = PaymentStatus(PaymentState.PENDING)

    def poll(self) -> PaymentStatus:
        if self._status.state is not PaymentState.PENDING:
            return self._status
        answer = self._payments.result(self._ref)
        if answer is None:
            if self._clock() > self._deadline:
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


class NoHqPayment(PaymentMethod):
    """"Pay through HQ" on a kiosk without HQ: unavailable, refuses to start."""

    name = NAME

    def unavailable_reason(self) -> str:
        return NOT_CONFIGURED

    def start(self, request: PaymentRequest) -> None:
        raise PaymentUnavailable(self.name, NOT_CONFIGURED)

    def poll(self) -> PaymentStatus:
        return PaymentStatus(PaymentState.FAILED, reason=NOT_CONFIGURED)

    def cancel(self) -> PaymentStatus:
        return self.poll()
