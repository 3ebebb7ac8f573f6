"""Every transaction Kind is complete everywhere: a spec in kiosk/ledger/kinds.py, its activity
name marked for and translated in both catalogues (or silent), an operation in the property
tests, HQ's handling, and the state doing what its spec says. Adding a Kind fails here until
each of those is done."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po

from kiosk.hq.ledger import card_use_conflict
from kiosk.ledger.kinds import MEMBER_USES, SILENT, SPECS, VISITS, fields_set, stated_amounts_problem
from kiosk.ledger.model import CardStatus
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind
from kiosk.ui import i18n
from tests.kind_helpers import EVERY_KIND_SCRIPT, every_kind_journal
from tests.test_ledger_properties import KIND_OPS, OPS

ROOT = Path(__file__).resolve().parent.parent


def test_every_kind_has_a_spec():
    assert set(SPECS) == set(Kind)
    assert VISITS <= set(Kind) and MEMBER_USES <= VISITS and SILENT.isdisjoint(VISITS)


def test_activity_names_are_marked_for_the_catalogues():
    with open(ROOT / "kiosk" / "ledger" / "kinds.py", "rb") as f:
        marked = {item[1] for item in extract("python", f, keywords={"N_": None})}
    assert {s.activity for s in SPECS.values() if not s.silent} <= marked


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_activity_line_has_a_translated_name(locale):
    with open(ROOT / "kiosk" / "locale" / locale / "LC_MESSAGES" / "kiosk.po", "rb") as f:
        catalogue = {m.id: m for m in read_po(f, locale=locale) if m.id}
    for kind, spec in SPECS.items():
        if spec.silent:
            continue
        message = catalogue.get(spec.activity)
        assert message is not None and message.string and not message.fuzzy, (kind, locale, "run `make locale`")


def test_the_property_runner_makes_every_kind_and_each_carries_only_its_fields():
    assert set(KIND_OPS) == set(Kind)
    assert set(KIND_OPS.values()) <= set(OPS)
    assert {name for name, *_ in EVERY_KIND_SCRIPT} <= set(OPS)
    _, journal = every_kind_journal()
    assert {t.kind for t in journal} == set(Kind)
    for txn in journal:
        assert fields_set(txn) <= SPECS[txn.kind].carries, txn.kind
        assert stated_amounts_problem(txn) == "", txn.kind


def test_the_state_counts_visits_and_activity_lines_as_the_specs_say():
    _, journal = every_kind_journal()
    state = LedgerState()
    for txn in journal:
        before = state.accounts.get(txn.member_id)
        result = state.apply(txn)
        assert result.applied and not result.conflict, result
        after = state.accounts[txn.member_id]
        spec = SPECS[txn.kind]
        if before is None:
            continue
        assert after.last_visit == (txn.at if spec.visit else before.last_visit), txn.kind
        if spec.silent:
            assert after.recent == before.recent, txn.kind
        else:
            assert (after.recent[0].kind, after.recent[1:]) == (str(txn.kind), before.recent[:4]), txn.kind


def test_hq_flags_exactly_the_member_uses_on_a_stopped_card():
    ledger, journal = every_kind_journal()
    state = ledger.state.copy()
    uid = journal[0].card_uid
    assert state.cards[uid].status is not CardStatus.ACTIVE  # the script replaced it
    base = journal[1]
    for kind in Kind:
        note = card_use_conflict(state, replace(base, kind=kind, card_uid=uid))
        assert bool(note) is (kind in MEMBER_USES), kind


def test_no_room_imports_the_ledgers_private_names():
    for path in (ROOT / "kiosk").rglob("*.py"):
        if "ledger" in path.relative_to(ROOT / "kiosk").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kiosk.ledger"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert private == [], f"{path.relative_to(ROOT)} imports {private} from {node.module}"
