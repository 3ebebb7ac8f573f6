"""evolve makes the value dataclasses.replace makes, for every value the ledger keeps."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import pytest

from kiosk.ledger.evolve import evolve
from tests.kind_helpers import every_kind_journal


def _values():
    ledger, journal = every_kind_journal()
    s = ledger.state
    accounts = list(s.accounts.values())
    items = [x for a in accounts for name in ("lots", "recent_topups", "recent", "orders", "vouchers") for x in getattr(a, name)]
    return [*accounts, *s.members.values(), *s.cards.values(), *items, *journal[:3]]


def test_every_field_changed_alone_and_all_at_once_as_replace_does():
    values = _values()
    assert {type(v).__name__ for v in values} >= {"Account", "Member", "Card", "TopUpRecord", "Activity", "TillOrder", "Voucher", "Txn"}
    for value in values:
        other = next(v for v in values if type(v) is type(value) and v is not value) if sum(type(v) is type(value) for v in values) > 1 else value
        every = {f.name: getattr(other, f.name) for f in fields(value)}
        for name, new in every.items():
            made = evolve(value, **{name: new})
            assert made == replace(value, **{name: new}) and vars(made) == vars(replace(value, **{name: new}))
        assert evolve(value, **every) == replace(value, **every) == other
        assert evolve(value) == value and evolve(value) is not value


def test_an_unknown_field_is_refused_as_replace_refuses_it():
    value = _values()[0]
    with pytest.raises(TypeError, match="balance"):
        evolve(value, balance=1)


def test_a_class_with_more_to_its_init_is_refused():
    @dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="plain dataclass"):
        evolve(Checked(1), n=-1)


def test_a_class_with_slots_or_a_field_left_out_of_init_is_refused():
    # `_names` is cached (functools.cache), so mutmut leaves it unmutated: each of its three
    # conditions is checked here alone instead.
    @dataclass(frozen=True, slots=True)
    class Slotted:
        n: int

    @dataclass(frozen=True)
    class Derived:
        n: int
        double: int = field(init=False, default=0)

    @dataclass(frozen=True)
    class Plain:
        n: int

    for value in (Slotted(1), Derived(1)):
        with pytest.raises(TypeError, match=f"plain dataclass; {type(value).__name__} has more"):
            evolve(value, n=2)
    assert evolve(Plain(1), n=2) == Plain(2)
