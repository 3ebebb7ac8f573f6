"""What the session needs from the parts around it, as small protocols, and the do-nothing
stand-ins used when a part is absent (no GPIO, no incident file)."""

from __future__ import annotations

from typing import Protocol

from kiosk.ledger.operations import Ledger
from kiosk.ledger.state import ApplyResult
from kiosk.ledger.txn import Txn
from kiosk.session.incidents import Incident


class StoreLike(Protocol):
    """What the session needs from kiosk.store.Store."""

    ledger: Ledger

    def commit(self, txn: Txn) -> ApplyResult: ...


class CardWriter(Protocol):
    """Writes cards on the reader's thread; answers later with a CardIssued or PurseWritten post."""

    def request_issue(self, uid: str, member_id: str, card_seq: int, replacing: str = "") -> None: ...

    def request_purse(self, uid: str, balance_fen: int, points: int) -> None: ...


class IncidentSink(Protocol):
    def record(self, incident: Incident) -> None: ...


class Feedback(Protocol):
    """LEDs and buzzer (kiosk.hw); every method must be quick and never raise."""

    def tap(self) -> None: ...
    def ok(self) -> None: ...
    def error(self) -> None: ...
    def ready(self) -> None: ...
    def describe(self) -> str: ...


class NoFeedback:
    """No LEDs or buzzer (off a Pi, or none configured); `note` says why, for the staff menu."""

    def __init__(self, note: str = "disabled") -> None:
        self.note = note

    def tap(self) -> None: ...
    def ok(self) -> None: ...
    def error(self) -> None: ...
    def ready(self) -> None: ...

    def describe(self) -> str:
        return self.note


class MemoryIncidents:
    """Keeps incidents in memory (tests, demo); the kiosk uses incidents.IncidentLog."""

    def __init__(self) -> None:
        self.items: list[Incident] = []

    def record(self, incident: Incident) -> None:
        self.items.append(incident)
