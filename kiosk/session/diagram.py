"""The session's state diagram for the docs (docs/session-states.md), made from the machine
itself so it cannot drift: `python -m kiosk.session.diagram > docs/session-states.md`."""

from __future__ import annotations

HEADER = """# Session states

Generated from kiosk/session/machine.py by `python -m kiosk.session.diagram > docs/session-states.md`
(python-statemachine's mermaid renderer); tests/test_session_diagram.py fails when it is out of date.
The states are kiosk/session/states.py's SessionState; `[name]` on a move is its condition, a method
of the flow that owns it (kiosk/session/flows/). Moves that stay on their screen (a PIN key, a rating,
reloading the rules) are not drawn. What each state shows and which actions fit it: docs/session-api.md.
"""


def render() -> str:
    from statemachine.contrib.diagram import formatter

    from kiosk.session.machine import SessionMachine

    return HEADER + "\n```mermaid\n" + formatter.render(SessionMachine, "mermaid").rstrip() + "\n```\n"


if __name__ == "__main__":
    print(render(), end="")
