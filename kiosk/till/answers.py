"""The till's answers that the ledger does not keep: a charge declined, cancelled or timed out.

An approved charge is found again in the ledger by its order key (kiosk/ledger/charges.py); an
answer that moved no money is kept here, so that a till retrying the same order after a lost
response, or after the kiosk restarted, gets that first answer back, as Stripe's and Adyen's
idempotency keys do, instead of a fresh attempt on the screen for a member who has left. A new
attempt at the order takes a new order id (docs/pos-api.md).

The answers live in the store's meta values (journalled and fdatasync'd: a power cut keeps every
answer the till has heard), in KEPT slots used in turn: the newest overwrites the oldest, so the
kiosk's disk never holds more than KEPT of them. Used on the session's driving thread only, the
one thread that uses the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kiosk.store.errors import StoreError

log = logging.getLogger("kiosk.till")
KEPT = 200  # answers kept; a till retries within minutes, and an older key is tried afresh
PREFIX = "till.answer."  # meta keys: till.answer.0 .. till.answer.<KEPT-1>
STATUSES = frozenset({"declined", "cancelled", "timed_out"})


@dataclass(frozen=True)
class Answer:
    """A charge's final answer that moved no money, as the till heard it."""

    key: str  # the order key (<till>:<order id>)
    status: str  # declined | cancelled | timed_out
    reason: str
    total_fen: int
    apply_discount: bool
    version: int
    balance_fen: int | None = None  # declined for the balance: the balance
    n: int = 0  # its place in the order the answers were kept

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "status": self.status, "reason": self.reason, "total_fen": self.total_fen,
                "apply_discount": self.apply_discount, "version": self.version, "balance_fen": self.balance_fen,
                "n": self.n}

    @classmethod
    def from_json(cls, data: object) -> Answer | None:
        """The kept answer, or None for a slot that is empty or not one of ours."""
        if not isinstance(data, dict) or set(data) != set(cls.__dataclass_fields__):
            return None
        ints = ("total_fen", "version", "n")
        if not all(isinstance(data[k], int) and not isinstance(data[k], bool) for k in ints):
            return None
        balance = data["balance_fen"]
        if (not isinstance(data["key"], str) or not isinstance(data["status"], str) or data["status"] not in STATUSES
                or not isinstance(data["reason"], str)
                or not isinstance(data["apply_discount"], bool)
                or not (balance is None or (isinstance(balance, int) and not isinstance(balance, bool)))):
            return None
        return cls(**data)


class AnswerBook:
    """The kept answers by order key, read from the store once, then kept in step with it."""

    def __init__(self, store: Any, kept: int = KEPT) -> None:
        self.store = store
        self.kept = kept
        self._by_key: dict[str, Answer] | None = None
        self._slots: dict[int, Answer] = {}
        self._next = 0

    def get(self, key: str) -> Answer | None:
        return self._index().get(key)

    def remember(self, answer: Answer) -> bool:
        """Keep `answer` durably in the next slot (the oldest answer's); False when the store
        could not write it (the till still hears it, and a retry after a restart is a new attempt)."""
        by_key = self._index()
        slot = self._next % self.kept
        answer = Answer(**{**answer.to_json(), "n": self._next})
        try:
            self.store.meta_put(f"{PREFIX}{slot}", answer.to_json())
        except (StoreError, OSError, ValueError) as exc:  # a store that cannot write must not stop the answer
            log.warning("a till answer could not be kept (%s): a retry after a restart will be a new attempt",
                        type(exc).__name__)
            return False
        old = self._slots.get(slot)
        if old is not None and by_key.get(old.key) == old:
            del by_key[old.key]
        self._slots[slot], by_key[answer.key], self._next = answer, answer, self._next + 1
        return True

    def _index(self) -> dict[str, Answer]:
        if self._by_key is None:
            self._by_key = {}
            for slot in range(self.kept):
                answer = Answer.from_json(self.store.meta_get(f"{PREFIX}{slot}"))
                if answer is None:
                    continue
                self._slots[slot] = answer
                self._next = max(self._next, answer.n + 1)
                if answer.key not in self._by_key or self._by_key[answer.key].n < answer.n:
                    self._by_key[answer.key] = answer
        return self._by_key
