"""Every session state has a screen, and the states are named once: the machine, the flows
and the screens use kiosk/session/states.py's SessionState. Read without Kivy (no window)."""

from __future__ import annotations

import ast
from pathlib import Path

from kiosk.session.flows import FLOWS
from kiosk.session.machine import SessionMachine
from kiosk.session.states import TITLES, SessionState
from kiosk.ui.screen_map import SCREEN_FOR, missing_states

UI = Path(__file__).resolve().parent.parent / "kiosk" / "ui"


def _screen_classes_in_app() -> set[str]:
    """The names in kiosk/ui/app.py's SCREEN_CLASSES (the classes the app builds)."""
    tree = ast.parse((UI / "app.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "SCREEN_CLASSES":
            return {elt.id for elt in node.value.elts}
    raise AssertionError("kiosk/ui/app.py has no SCREEN_CLASSES")


def _classes_defined_in_screens() -> set[str]:
    names = set()
    for path in (UI / "screens").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return names


def test_every_state_has_a_screen():
    assert missing_states() == []
    assert set(SCREEN_FOR) == set(SessionState)


def test_every_screen_named_in_the_map_is_one_the_app_builds():
    named = set(SCREEN_FOR.values())
    assert named <= _classes_defined_in_screens(), named - _classes_defined_in_screens()
    assert named <= _screen_classes_in_app(), named - _screen_classes_in_app()
    assert _screen_classes_in_app() <= named, "a screen the app builds shows no state"


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
