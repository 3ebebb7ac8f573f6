"""What a new rules document changes against the one in force, field by field, in the paths the
parser and the form use (`tiers[1].discount_pct`), so a reviewer reads changes, not JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass

_IGNORED = frozenset({"version"})  # always changes on publishing; shown apart


@dataclass(frozen=True)
class Change:
    path: str
    before: str  # "" when the field is new
    after: str  # "" when the field is gone


def flatten(value: object, prefix: str = "") -> dict[str, str]:
    """Every leaf of a document by its path; a list of plain values is one leaf."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, child in value.items():
            out.update(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for index, child in enumerate(value):
            out.update(flatten(child, f"{prefix}[{index}]"))
        return out
    return {prefix: json.dumps(value, ensure_ascii=False)}


def changes(before: dict, after: dict) -> list[Change]:
    """The fields that differ, in the new document's order, then those it no longer has."""
    old, new = flatten(before), flatten(after)
    out = [Change(p, old.get(p, ""), v) for p, v in new.items() if old.get(p) != v and p not in _IGNORED]
    out += [Change(p, v, "") for p, v in old.items() if p not in new and p not in _IGNORED]
    return out
