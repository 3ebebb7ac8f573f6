"""Every session state has a screen, and the states are named once: the machine, the flows
and the screens use kiosk/session/states.py's SessionState. Read without Kivy (no window)."""

from __future__ import annotations

import ast
from pathlib import Path

from kiosk.session.flows import FLOWS
from kiosk.session.machine import SessionMachine
from kiosk.session.states import TITLES, SessionState
from kiosk.ui.screen_map import SCREEN_FOR, SCREEN_MODULE, missing_states

UI = Path(__file__).resolve().parent.parent / "kiosk" / "ui"


def _classes_defined_in(module: str) -> set[str]:
    """The classes a screen module defines, read from its source (no Kivy import)."""
    path = UI.parent.parent / (module.replace(".", "/") + ".py")
    return {n.name for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, ast.ClassDef)}


def test_every_state_has_a_screen():
    assert missing_states() == []
    assert set(SCREEN_FOR) == set(SessionState)


def test_every_screen_named_in_the_map_is_one_the_app_builds():
    """The app imports a screen's class from the module SCREEN_MODULE names, when it first makes it."""
    named = set(SCREEN_FOR.values())
    assert named == set(SCREEN_MODULE), named ^ set(SCREEN_MODULE)
    misplaced = {name: module for name, module in SCREEN_MODULE.items() if name not in _classes_defined_in(module)}
    assert not misplaced, misplaced


def test_the_machine_has_exactly_the_named_states():
    assert [s.id for s in SessionMachine.states] == [str(s) for s in SessionState]
    assert all(s.value is SessionState(s.id) for s in SessionMachine.states)
    assert set(TITLES) == set(SessionState)


def test_no_state_is_owned_by_two_flows():
    owners: dict[SessionState, str] = {}
    for flow in FLOWS:
        for state in flow.states:
            assert state not in owners, f"{state} owned by {owners[state]} and {flow.__name__}"
            owners[state] = flow.__name__
