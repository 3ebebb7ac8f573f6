"""Bad rules documents are refused with the field named, and nothing is loaded."""

from __future__ import annotations

import copy
import json
from importlib.resources import files

import pytest

from kiosk.ledger.rules import RulesError, parse_rules, parse_rules_json
from kiosk.ledger.sample import default_rules

GOOD = json.loads(files("kiosk.data").joinpath("rules.default.json").read_text())


def broken(path: str, value):
    doc = copy.deepcopy(GOOD)
    node = doc
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is KeyError:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("version", "3", "version"),
        ("tiers.0.min_topup_12m_fen", -1, "tiers[0].min_topup_12m_fen"),
        ("tiers.1.discount_pct", 0, "tiers[1].discount_pct"),
        ("tiers.2.points_multiplier_pct", 1.5, "tiers[2].points_multiplier_pct"),
        ("topup.min_fen", -500, "topup.min_fen"),
        ("topup.bonus_steps.0.bonus_fen", "25", "topup.bonus_steps[0].bonus_fen"),
        ("topup.presets_fen.1", 0, "topup.presets_fen[1]"),
        ("rewards.0.points_cost", KeyError, "rewards[0].points_cost"),
        ("rewards.1.stock", -3, "rewards[1].stock"),
        ("rewards.2.valid_to", "2027-01-01", "rewards[2].valid_to"),
        ("pin.max_attempts", True, "pin.max_attempts"),
        ("offline", [], "offline"),
        ("timezone", "Mars/Olympus", "timezone"),
        ("points.fen_per_point", 0, "points.fen_per_point"),
        ("surprise", 1, "surprise"),
    ],
)
def test_bad_field_is_named(path, value, field):
    with pytest.raises(RulesError) as err:
        parse_rules(broken(path, value), "hq/rules-v2.json")
    assert err.value.field == field
    assert "hq/rules-v2.json" in str(err.value)


def test_unknown_tier_order_and_duplicates_refused():
    doc = broken("tiers.0.min_topup_12m_fen", 100)
    with pytest.raises(RulesError, match="lowest tier"):
        parse_rules(doc)
    doc = copy.deepcopy(GOOD)
    doc["tiers"][1]["id"] = doc["tiers"][0]["id"]
    with pytest.raises(RulesError, match="unique"):
        parse_rules(doc)


def test_not_json_is_refused_with_source():
    with pytest.raises(RulesError, match="rules.json: not valid JSON"):
        parse_rules_json(b"{version: 1", "rules.json")


def test_sample_rules_load_and_bonus_steps():
    rules = default_rules()
    assert [t.id for t in rules.tiers] == ["regular", "silver", "gold", "platinum"]
    assert rules.topup.bonus_for(49_999) == 0
    assert rules.topup.bonus_for(50_000) == 2_500
    assert rules.topup.bonus_for(100_000) == 8_000
    assert rules.topup.bonus_for(500_000) == 8_000
    assert rules.tier_for_topups(99_999).id == "regular"
    assert rules.tier_for_topups(100_000).id == "silver"
    assert rules.tier_for_topups(10**7).id == "platinum"
