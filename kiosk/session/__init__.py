"""The kiosk session: the state machine between the reader, the ledger and the screens."""

from kiosk.session.clock import Clock, ManualClock, SystemClock
from kiosk.session.inputs import CardIssued, CardKind, CardPresented, CardRead, CardRemoved, ReaderStatus
from kiosk.session.session import Session, SessionSettings
from kiosk.session.view import SessionView

__all__ = [
    "CardIssued",
    "CardKind",
    "CardPresented",
    "CardRead",
    "CardRemoved",
    "Clock",
    "ManualClock",
    "ReaderStatus",
    "Session",
    "SessionSettings",
    "SessionView",
    "SystemClock",
]
