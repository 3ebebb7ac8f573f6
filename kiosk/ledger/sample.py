"""The sample rules shipped with the package (the demo's and the tests' starting point)."""

from __future__ import annotations

from importlib.resources import files

from kiosk.ledger.rules import Rules, parse_rules_json


def default_rules() -> Rules:
    resource = files("kiosk.data").joinpath("rules.default.json")
    return parse_rules_json(resource.read_bytes(), "kiosk/data/rules.default.json")
