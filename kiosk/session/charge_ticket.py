"""A charge handed to the session and its answer: the one object the till's HTTP thread and the
session's driving thread share. The till posts a TillCharge with a ticket and waits on it; the
session (kiosk/session/flows/charge.py) moves its stage along and finishes it exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ChargeOrder:
    """What the till (or the staff menu) asks: take `total_fen` for this order."""

    order_key: str  # the till's order id, keyed by till (kiosk/ledger/charges.order_key)
    total_fen: int
    apply_discount: bool  # True: the kiosk takes the member's tier discount off; False: already discounted
    timeout_s: int = 120  # waiting for the card gives up after this long
    staff_uid: str = ""  # a staff-menu charge: the staff card it is attributed to


@dataclass(frozen=True)
class ChargeOutcome:
    status: str  # approved | declined | cancelled | timed_out
    reason: str = ""  # declined / cancelled: a reason code (docs/pos-api.md)
    total_fen: int = 0
    discount_fen: int = 0
    amount_fen: int = 0  # taken from stored value
    balance_fen: int | None = None  # after the charge (declined for insufficient balance: the balance)
    points_earned: int = 0
    points: int | None = None  # after the charge
    member_id: str = ""
    txn_id: str = ""
    at: datetime | None = None


class ChargeTicket:
    """Thread-safe: `stage` and `outcome` change only under the condition's lock, and every
    change wakes the waiters (the till's long-poll)."""

    def __init__(self, order: ChargeOrder, on_final: Callable[[ChargeTicket, ChargeOutcome], None] | None = None) -> None:
        self.order = order
        self._cond = threading.Condition()
        self.stage = "queued"  # queued | waiting_for_card | confirming | pin | done
        self.version = 0
        self.outcome: ChargeOutcome | None = None
        self._on_final = on_final  # the till's: keep the answer durably before anyone hears it
        self._finishing = False

    def move(self, stage: str) -> None:
        with self._cond:
            if self.outcome is None and stage != self.stage:
                self.stage, self.version = stage, self.version + 1
                self._cond.notify_all()

    def finish(self, outcome: ChargeOutcome) -> bool:
        """The answer; only the first counts (False for any later one). `on_final` runs first,
        outside the lock, so a till's long-poll never hears an answer that a power cut could lose."""
        with self._cond:
            if self.outcome is not None or self._finishing:
                return False
            self._finishing = True
        try:
            if self._on_final is not None:
                self._on_final(self, outcome)
        finally:
            with self._cond:
                self.outcome, self.stage, self.version = outcome, "done", self.version + 1
                self._cond.notify_all()
        return True

    def wait_change(self, since_version: int, timeout_s: float) -> int:
        """Block until the version passes `since_version` (or the time is up); the version now."""
        with self._cond:
            self._cond.wait_for(lambda: self.version > since_version, timeout=timeout_s)
            return self.version


@dataclass(frozen=True)
class TillCharge:
    """Posted to the session (Session.post): start this charge when the kiosk is free."""

    ticket: ChargeTicket


@dataclass(frozen=True)
class TillCancel:
    """Posted to the session: the till cancels this order's charge, if not yet committed."""

    order_key: str


class Reply:
    """One answer handed from the session's driving thread to a waiting till request."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def put(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error
        self._done.set()

    def get(self, timeout_s: float) -> Any:
        """The answer; TimeoutError when the session did not get to it in time."""
        if not self._done.wait(timeout_s):
            raise TimeoutError("the session did not answer in time")
        if self.error is not None:
            raise self.error
        return self.value


@dataclass(frozen=True)
class TillCall:
    """Posted to the session: run `work(session)` on its driving thread (the one thread that
    uses the store and the ledger) and answer through `reply`: a refund, a void, a look-up."""

    work: Callable[[Any], Any]
    reply: Reply
