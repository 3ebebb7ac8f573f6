"""The payment port's MQTT adapter: the kiosk asks HQ's payment bridge to collect an amount
(a QR code, a card terminal...) and waits for the confirmation on its `payment` topic.

Thread-safe: confirmations arrive on the MQTT network thread, the session waits on its own."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from kiosk.sync.messages import PaymentConfirmation, PaymentRequest

log = logging.getLogger("kiosk.sync.payments")


class PaymentUnavailable(Exception):
    """HQ's payment bridge cannot be reached now (the kiosk is offline)."""


class _DeviceSettings(Protocol):
    device_id: str


class PaymentLink(Protocol):
    """What the payments need of the sync client (kiosk.sync.client.SyncClient): kept this small
    so the two do not import each other."""

    @property
    def connected(self) -> bool: ...

    @property
    def settings(self) -> _DeviceSettings: ...

    def publish_payment_request(self, msg: PaymentRequest) -> bool: ...


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
        msg = PaymentRequest(self._sync.settings.device_id, payment_ref, amount_fen, method, datetime.now(UTC))
        with self._cond:
            self._pending[payment_ref] = amount_fen
            self._results.pop(payment_ref, None)
        if not self._sync.publish_payment_request(msg):
            with self._cond:
                self._pending.pop(payment_ref, None)
            raise PaymentUnavailable("not connected to HQ")

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
