"""A coin/note acceptor that reports money as pulses on a GPIO line (N fen per pulse).

Money counted is money taken: the payment confirms once the counted amount reaches the
request; a cancelled payment still reports what was counted so it can be recorded and refunded.
The acceptor is enabled only while a payment waits (when it has an enable line), and money
counted outside any payment is handed to the session as "stray" so it is recorded, never lost."""

from __future__ import annotations

from typing import Protocol

from kiosk.payment.port import (
    PaymentMethod,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    PaymentUnavailable,
)


class PulseSource(Protocol):
    @property
    def count(self) -> int:
        """Pulses counted since the source started; never goes down."""
        ...

    # optional: enable() / disable() the acceptor (its inhibit line)


class CashAcceptorPayment(PaymentMethod):
    name = "cash_acceptor"

    def __init__(self, pulses: PulseSource | None, fen_per_pulse: int):
        if fen_per_pulse <= 0:
            raise ValueError("fen_per_pulse must be positive")
        self._pulses = pulses
        self._fen_per_pulse = fen_per_pulse
        self._request: PaymentRequest | None = None
        self._start_count = 0
        self._accounted = pulses.count if pulses is not None else 0  # pulses already attributed
        self._stray = 0  # stray money found when a payment started, reported after it
        self._status = PaymentStatus(PaymentState.FAILED, reason="not_started")

    def unavailable_reason(self) -> str:
        return "" if self._pulses is not None else "no_cash_acceptor"

    def start(self, request: PaymentRequest) -> None:
        if self._pulses is None:
            raise PaymentUnavailable(self.name, "no_cash_acceptor")
        self._stray = self.take_stray_fen()
        self._request = request
        self._start_count = self._accounted = self._pulses.count
        self._status = PaymentStatus(PaymentState.PENDING)
        self._switch("enable")

    def _received(self) -> int:
        assert self._pulses is not None
        return (self._pulses.count - self._start_count) * self._fen_per_pulse

    def poll(self) -> PaymentStatus:
        if self._request is None or self._status.state is not PaymentState.PENDING:
            return self._status
        received = self._received()
        if received >= self._request.amount_fen:
            self._switch("disable")
            self._accounted = self._start_count + received // self._fen_per_pulse
            ref = f"acceptor:{self._request.request_id}"[:64]
            self._status = PaymentStatus(PaymentState.CONFIRMED, received, ref)
            self._request = None
        else:
            self._status = PaymentStatus(PaymentState.PENDING, received)
        return self._status

    def cancel(self) -> PaymentStatus:
        status = self.poll()
        if status.state is PaymentState.PENDING:
            self._switch("disable")
            self._accounted = self._start_count + status.received_fen // self._fen_per_pulse
            self._status = PaymentStatus(PaymentState.FAILED, status.received_fen, reason="cancelled")
        self._request = None
        return self._status

    def take_stray_fen(self) -> int:
        """Money counted while no payment was waiting (and not yet reported); 0 during a payment."""
        if self._pulses is None or self._request is not None:
            return 0
        count = self._pulses.count
        stray, self._accounted = (count - self._accounted) * self._fen_per_pulse, count
        stray, self._stray = stray + self._stray, 0
        return stray

    def _switch(self, how: str) -> None:
        action = getattr(self._pulses, how, None)
        if action is not None:
            action()
