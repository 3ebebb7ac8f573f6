"""The committed state diagram is the machine's current one."""

from pathlib import Path

from kiosk.session.diagram import render


def test_docs_diagram_is_current():
    committed = (Path(__file__).resolve().parent.parent / "docs" / "session-states.md").read_text()
    assert committed == render(), "run: python -m kiosk.session.diagram > docs/session-states.md"
