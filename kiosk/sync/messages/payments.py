"""Payment through HQ's bridge: the kiosk's `payment_request` up, the bridge's `payment` outcome down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.ledger.rules import MAX_FEN
from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.spec import DEVICE, DOWN, KIB, UP, Message, MessageSpec, Place, utc_text

OUTCOMES = ("paid", "failed", "cancelled")


def _payment_ref(f: Fields) -> str:
    ref = f.str("payment_ref", 64)
    if not ref:
        raise f.fail("payment_ref", "must not be empty")
    return ref


@dataclass(frozen=True)
class HqPaymentRequest(Message, spec=MessageSpec("payment_request", UP, 4 * KIB, (Place(DEVICE),))):
    """Kiosk -> HQ's payment bridge: collect `amount_fen` for `payment_ref`."""

    device: str
    payment_ref: str
    amount_fen: int
    method: str  # e.g. "qr", "card_terminal"
    at: datetime

    def body(self) -> dict:
        return {
            "device": self.device,
            "payment_ref": self.payment_ref,
            "amount_fen": self.amount_fen,
            "method": self.method,
            "at": utc_text(self.at),
        }

    @classmethod
    def read(cls, f: Fields) -> HqPaymentRequest:
        return cls(
            device=f.ident("device"),
            payment_ref=_payment_ref(f),
            amount_fen=f.int("amount_fen", 1, MAX_FEN),
            method=f.str("method", 32),
            at=f.time("at"),
        )


@dataclass(frozen=True)
class PaymentConfirmation(Message, spec=MessageSpec("payment", DOWN, 4 * KIB, (Place(DEVICE),))):
    """HQ's payment bridge -> kiosk: the outcome of a payment request."""

    payment_ref: str
    amount_fen: int
    outcome: str  # "paid" | "failed" | "cancelled"
    at: datetime
    detail: str = ""

    def body(self) -> dict:
        return {
            "payment_ref": self.payment_ref,
            "amount_fen": self.amount_fen,
            "outcome": self.outcome,
            "at": utc_text(self.at),
            "detail": self.detail,
        }

    @classmethod
    def read(cls, f: Fields) -> PaymentConfirmation:
        return cls(
            payment_ref=_payment_ref(f),
            amount_fen=f.int("amount_fen", 0, MAX_FEN),
            outcome=f.str("outcome", choices=OUTCOMES),
            at=f.time("at"),
            detail=f.str("detail", default=""),
        )
