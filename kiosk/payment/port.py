"""The payment port the session talks to, whatever takes the money.

A payment is started for a request, polled until it is confirmed, fails, or the session gives
up (cancel). The session credits the member only after `poll()` says CONFIRMED, with the
amount and the reference the adapter reports; it never credits on its own."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import StrEnum


class PaymentUnavailable(Exception):
    """This way of paying cannot be used now (not built yet, hardware missing, HQ offline)."""

    def __init__(self, method: str, reason: str):
        self.method, self.reason = method, reason
        super().__init__(f"payment method {method} unavailable: {reason}")


@dataclass(frozen=True)
class PaymentRequest:
    request_id: str  # unique per attempt; adapters build their payment_ref from it
    card_uid: str
    amount_fen: int


class PaymentState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True)
class PaymentStatus:
    state: PaymentState
    received_fen: int = 0  # money counted so far (cash acceptor) or confirmed
    payment_ref: str = ""  # set when CONFIRMED; at most 64 characters
    reason: str = ""  # set when FAILED


class PaymentMethod(abc.ABC):
    """One way of paying. Single-threaded: called from the thread that drives the session."""

    name: str  # stable id the screens translate: "staff_cash", "cash_acceptor", "hq"

    @abc.abstractmethod
    def unavailable_reason(self) -> str:
        """'' when the method can be used now, else a short stable reason code."""

    @abc.abstractmethod
    def start(self, request: PaymentRequest) -> None:
        """Begin taking payment; raises PaymentUnavailable when it cannot."""

    @abc.abstractmethod
    def poll(self) -> PaymentStatus: ...

    @abc.abstractmethod
    def cancel(self) -> PaymentStatus:
        """Stop waiting; returns the last status (money already counted stays reported)."""

    def staff_confirmed(self, staff_uid: str) -> bool:
        """A staff card was tapped while this payment was pending; True if that confirms it."""
        return False

    def take_stray_fen(self) -> int:
        """Money this method took while no payment was waiting (a coin dropped in at idle),
        not reported before; the session records it for a refund. Most methods take none."""
        return 0

    @property
    def wants_staff_card(self) -> bool:
        """True when the member's card may leave the reader so a staff card can be tapped."""
        return False
