"""HQ's payment bridge: a kiosk's `payment_request` goes to a payment provider, the outcome goes
back on the kiosk's `payment` topic. Each payment_ref is decided once and remembered in SQL, so a
repeated request (the kiosk resent it, or a second receiver got it) gets the same answer and
money is never collected twice. The provider is pluggable; with none configured every request
is answered `failed` ("no payment provider at HQ") so a kiosk never waits in vain."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from kiosk.hq.broker import publish_message
from kiosk.hq.db import Database
from kiosk.hq.ledger import now_text
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics

log = logging.getLogger(__name__)

# (request) -> (outcome in paid|failed|cancelled, detail). Called on the receiver's worker thread:
# a provider must answer quickly (a slow one belongs in its own service that publishes itself).
Provider = Callable[[m.HqPaymentRequest], tuple[str, str]]


def no_provider(request: m.HqPaymentRequest) -> tuple[str, str]:
    return "failed", "no payment provider at HQ"


def approve_all_for_demo(request: m.HqPaymentRequest) -> tuple[str, str]:
    """`kiosk demo` only: every request is paid. Never configure this for a real store."""
    return "paid", "demo"


class PaymentBridge:
    def __init__(self, db: Database, client, provider: Provider = no_provider):
        self.db, self.client, self.provider = db, client, provider

    def handle(self, store: str, request: m.HqPaymentRequest) -> None:
        def claim(db: Database) -> tuple:
            db.execute(
                "INSERT INTO payments (payment_ref, device_id, amount_fen, method, outcome, detail, requested_at) "
                "VALUES (?, ?, ?, ?, '', '', ?) ON CONFLICT (payment_ref) DO NOTHING",
                (request.payment_ref, request.device, request.amount_fen, request.method, now_text()),
            )
            return db.one(
                "SELECT device_id, amount_fen, outcome, detail FROM payments WHERE payment_ref = ?",
                (request.payment_ref,),
            )

        device, amount, outcome, detail = self.db.run(claim)
        if (device, int(amount)) != (request.device, request.amount_fen):
            log.warning("payment_ref %s reused by %s with another device or amount", request.payment_ref, request.device)
            self._answer(store, request, "failed", "payment_ref already used")
            return
        if not outcome:
            outcome, detail = self.provider(request)
            if outcome not in m.OUTCOMES:
                outcome, detail = "failed", "payment provider gave no valid outcome"

            def decide(db: Database) -> tuple:
                db.execute(
                    "UPDATE payments SET outcome = ?, detail = ?, decided_at = ? WHERE payment_ref = ? AND outcome = ''",
                    (outcome, detail[:200], now_text(), request.payment_ref),
                )
                return db.one("SELECT outcome, detail FROM payments WHERE payment_ref = ?", (request.payment_ref,))

            outcome, detail = self.db.run(decide)  # the first decision wins
        self._answer(store, request, outcome, detail)

    def _answer(self, store: str, request: m.HqPaymentRequest, outcome: str, detail: str) -> None:
        msg = m.PaymentConfirmation(request.payment_ref, request.amount_fen, outcome, datetime.now(UTC), detail[:200])
        publish_message(self.client, DeviceTopics(store, request.device).topic("payment"), msg)
        log.info("payment %s from %s: %s", request.payment_ref, request.device, outcome)
