"""The kiosk session: the state machine between the reader, the ledger and the screens.

Names are loaded on first use, so reading the configuration (kiosk.session.settings) does not
pull in the state machine library."""

from __future__ import annotations

import importlib

_WHERE = {
    "Clock": "kiosk.session.clock",
    "ManualClock": "kiosk.session.clock",
    "SystemClock": "kiosk.session.clock",
    "CardIssued": "kiosk.session.inputs",
    "CardKind": "kiosk.session.inputs",
    "CardPresented": "kiosk.session.inputs",
    "CardRead": "kiosk.session.inputs",
    "CardRemoved": "kiosk.session.inputs",
    "ReaderStatus": "kiosk.session.inputs",
    "Session": "kiosk.session.session",
    "SessionSettings": "kiosk.session.settings",
    "SessionView": "kiosk.session.view",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'kiosk.session' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
