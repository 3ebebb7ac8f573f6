"""`evolve`: dataclasses.replace for the ledger's frozen values, at the cost of a dict copy.

dataclasses.replace reads every field in Python and calls the frozen __init__, which sets each
field with object.__setattr__: for an Account (23 fields) that was most of what applying a
top-up cost HQ. A value whose class has no __post_init__, no field left out of __init__ and no
__slots__ is made by __init__ as exactly its fields in __dict__, so copying that dict with the
changes makes the same value replace would."""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import TypeVar

T = TypeVar("T")


@functools.cache
def _names(cls: type) -> frozenset[str]:
    if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__") or any(not f.init for f in fields(cls)):
        raise TypeError(f"evolve needs a plain dataclass; {cls.__name__} has more to its __init__")
    return frozenset(f.name for f in fields(cls))


def evolve(value: T, **changes: object) -> T:
    """The value with `changes`, as dataclasses.replace(value, **changes) makes it."""
    cls = type(value)
    if not changes.keys() <= _names(cls):
        unknown = sorted(changes.keys() - _names(cls))
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}")
    new = object.__new__(cls)
    object.__setattr__(new, "__dict__", value.__dict__ | changes)
    return new
