"""A transaction from the wire setting a field its kind may not carry (kiosk/ledger/kinds.py
KindSpec.carries) is refused by LedgerState.apply, naming the kind and the field, and changes
nothing but its device's seq (as every refused txn). Every kind x every field it may not carry,
through the JSON codec as HQ and the kiosks' replicas read it."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.kinds import COMMON_FIELDS, SPECS, carried_problem
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Txn, txn_from_dict, txn_to_dict
from tests.kind_helpers import every_kind_journal

# A value each field accepts on the wire other than its default (the codec's own checks pass).
_SAMPLE = {
    datetime: datetime(2026, 3, 2, 4, 0, tzinfo=UTC), date: date(2026, 3, 31), bool: True, int: 1,
}
_STR_SAMPLE = {"new_card_uid": "04000000000999", "kind": None}
_TYPES = {"int": int, "bool": bool, "str": str, "date | None": date, "datetime | None": datetime}


def _sample(name: str, type_text: str) -> object:
    tp = _TYPES[type_text]
    return _STR_SAMPLE.get(name, "X1") if tp is str else _SAMPLE[tp]


_FIELD_TYPES = {f.name: f.type for f in fields(Txn)}


@cache
def _journal() -> tuple[Txn, ...]:
    return tuple(every_kind_journal()[1])


def _state_before(i: int) -> LedgerState:
    state = LedgerState()
    for txn in _journal()[:i]:
        state.apply(txn)
    return state


def test_every_kind_made_by_the_ledger_carries_only_its_own_fields():
    journal = _journal()
    assert {t.kind for t in journal} == set(SPECS)
    assert [(t.kind, carried_problem(t)) for t in journal if carried_problem(t)] == []


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_field_its_kind_may_not_carry_is_refused_and_changes_nothing(data):
    journal = _journal()
    i = data.draw(st.integers(0, len(journal) - 1), label="txn")
    txn = journal[i]
    foreign = sorted(set(_FIELD_TYPES) - COMMON_FIELDS - SPECS[txn.kind].carries)
    name = data.draw(st.sampled_from(foreign), label="field")
    changes = {name: _sample(name, _FIELD_TYPES[name])}
    if name == "staff_reward_fen":  # the codec wants the staff member it is for
        changes["staff_id"] = txn.staff_id or "S1"
    wire = json.dumps(txn_to_dict(replace(txn, **changes)))
    hostile = txn_from_dict(json.loads(wire))  # well-formed: only its kind objects to the field
    state = _state_before(i)
    before = state_to_dict(state)
    result = state.apply(hostile)
    assert result.refused, (txn.kind, name)
    assert result.conflict.startswith(f"not applied: a {txn.kind} transaction may not carry ")
    assert result.conflict.split()[-1] in (name, "staff_id")
    after = state_to_dict(state)
    assert after["last_seq"] == {**before["last_seq"], txn.device_id: txn.seq}
    assert {k: v for k, v in after.items() if k != "last_seq"} == {k: v for k, v in before.items() if k != "last_seq"}


def test_the_same_txn_without_the_foreign_field_is_applied():
    """The refusal is the field's, not the txn's: the honest original applies cleanly there."""
    journal = _journal()
    i = next(i for i, t in enumerate(journal) if t.kind == "top_up")
    state = _state_before(i)
    hostile = replace(journal[i], voucher_id=journal[i].txn_id)
    assert state.copy().apply(hostile).conflict == "not applied: a top_up transaction may not carry voucher_id"
    assert state.apply(journal[i]).conflict == ""
