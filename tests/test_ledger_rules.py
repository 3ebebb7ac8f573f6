"""Bad rules documents are refused with the field named, and nothing is loaded."""

from __future__ import annotations

import copy
import json
from importlib.resources import files

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.ledger.rules import RulesError, load_rules_json, parse_rules, parse_rules_json
from kiosk.ledger.rules_fields import IMAGE_NAME
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
    with pytest.raises(RulesError, match="rules.json: line 1 column 2: not valid JSON"):
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


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("tiers.0.colour", "red", "tiers[0].colour"),  # unknown key inside a tier
        ("points.earn_on_spennd", False, "points.earn_on_spennd"),  # a typo must not fall back
        ("topup.bonus_steps.0.extra", 1, "topup.bonus_steps[0].extra"),
        ("rewards.3.flexible.max_pts", 5, "rewards[3].flexible.max_pts"),
        ("rewards.0.name.fr", "Café", "rewards[0].name.fr"),
        ("birthday.gift.point", 5, "birthday.gift.point"),
        ("pin.lenght", 6, "pin.lenght"),
        ("engagement.checkin", 5, "engagement.checkin"),
        ("segments.lost_days", 400, "segments.lost_days"),
        ("card_return.forfeit", True, "card_return.forfeit"),
    ],
)
def test_unknown_keys_are_refused_at_every_level(path, value, field):
    with pytest.raises(RulesError) as err:
        parse_rules(broken(path, value), "rules.json")
    assert err.value.field == field and "unknown field" in err.value.problem


def test_a_typo_is_named_with_the_key_it_probably_meant():
    with pytest.raises(RulesError, match=r"points.earn_on_spennd: unknown field \(did you mean 'earn_on_spend'\?\)"):
        parse_rules(broken("points.earn_on_spennd", False), "rules.json")


def test_comments_are_allowed_in_every_object():
    doc = broken("tiers.0.comment", "the entry tier")
    doc["points"]["comment"] = "one point per yuan"
    assert parse_rules(doc).tiers[0].id == "regular"


def test_duplicate_keys_are_refused_not_last_wins():
    text = json.dumps(GOOD, ensure_ascii=False)
    doubled = text.replace('"version": 1,', '"version": 1, "version": 9,', 1)
    assert doubled != text
    with pytest.raises(RulesError, match="duplicate key 'version'"):
        parse_rules_json(doubled, "rules.json")


@pytest.mark.parametrize(
    "bad_id",
    ["gold\u200b", "\u202egold", "go ld", "gold\n", "", "-gold", "金卡", "gold\u0000"],
)
def test_ids_are_limited_to_a_printable_safe_alphabet(bad_id):
    with pytest.raises(RulesError) as err:
        parse_rules(broken("tiers.2.id", bad_id), "rules.json")
    assert err.value.field == "tiers[2].id"


@pytest.mark.parametrize("bad_name", ["Gold\u202e", "Gold\x07", "\ufeffGold", "Go\u2066ld"])
def test_display_names_refuse_control_and_bidi_characters(bad_name):
    with pytest.raises(RulesError) as err:
        parse_rules(broken("tiers.2.name.en", bad_name), "rules.json")
    assert err.value.field == "tiers[2].name.en"


def test_a_lone_surrogate_is_a_clean_error_naming_the_field():
    text = json.dumps(GOOD).replace('"gold"', '"gold\\ud800"', 1)
    with pytest.raises(RulesError) as err:
        parse_rules_json(text.encode(), "rules.json")
    assert err.value.field == "tiers[2].id" and "lone surrogate" in err.value.problem


def test_the_sample_rules_still_pass_the_strict_checks():
    text = files("kiosk.data").joinpath("rules.default.json").read_bytes()
    assert parse_rules_json(text, "rules.default.json").version == 1


@pytest.mark.parametrize("zone", ["x" * 5000, "../../etc/passwd", "Asia/Shang hai", "\u202eAsia/Shanghai"])
def test_a_hostile_time_zone_is_a_rules_error_not_an_os_error(zone):
    """Found by the hostile campaign: a 5000-character zone made ZoneInfo raise OSError."""
    with pytest.raises(RulesError) as err:
        parse_rules(broken("timezone", zone), "rules.json")
    assert err.value.field == "timezone"


def test_a_reward_may_name_its_image_and_without_one_has_none():
    rules = parse_rules(broken("rewards.0.image", "coffee.png"), "rules.json")
    assert rules.reward("coffee").image == "coffee.png"
    assert rules.reward("mask-set").image is None
    assert parse_rules(broken("rewards.0.image", None), "rules.json").reward("coffee").image is None


@pytest.mark.parametrize("bad", [
    "../../etc/passwd.png", "/etc/shadow.png", "images/coffee.png", "coffee", "coffee.gif", ".coffee.png",
    "coffee.PNG", "coffee.png\n", "咖啡.png", "", 42, ["coffee.png"], "c" * 61 + ".png", "coffee\u202e.png",
])
def test_a_bad_image_name_is_refused_naming_the_field(bad):
    with pytest.raises(RulesError) as err:
        parse_rules(broken("rewards.1.image", bad), "hq/rules-v2.json")
    assert err.value.field == "rewards[1].image"
    assert "coffee.png" in err.value.problem  # the error shows what a good one looks like


@given(st.text(max_size=70))
def test_an_accepted_image_name_is_always_a_plain_file_name_in_its_folder(name):
    doc = broken("rewards.0.image", name)
    try:
        image = parse_rules(doc, "rules.json").reward("coffee").image
    except RulesError as err:
        assert err.field == "rewards[0].image"
        assert not IMAGE_NAME.match(name)
        return
    assert image == name and "/" not in name and "\\" not in name and not name.startswith(".")
    assert name.isascii() and name.isprintable() and name.rsplit(".", 1)[1] in ("png", "jpg", "jpeg")


@given(st.from_regex(IMAGE_NAME, fullmatch=True))
def test_every_name_of_the_documented_shape_is_accepted(name):
    assert parse_rules(broken("rewards.2.image", name), "rules.json").reward("mask-set").image == name


# -- edges found by mutation testing ---------------------------------------------------------


def test_a_problem_without_a_place_names_the_document_and_the_default_source():
    with pytest.raises(RulesError) as err:
        parse_rules_json(b'{"version": NaN}')
    assert (err.value.field, str(err.value)) == ("", "<rules>: not valid JSON: NaN is not allowed")
    with pytest.raises(RulesError, match=r"^<rules>: not valid JSON: NaN is not allowed$"):
        load_rules_json(b'{"version": NaN}')
    with pytest.raises(RulesError) as err:
        parse_rules_json(json.dumps(broken("pin.max_attempts", 0)), "hq/rules-v3.json")
    assert str(err.value) == "hq/rules-v3.json: pin.max_attempts: must be between 1 and 20, got 0"


def test_the_second_highest_tier_leads_to_the_highest():
    rules = default_rules()
    assert [t.id for t in map(rules.next_tier, rules.tiers[:-1])] == ["silver", "gold", "platinum"]


def segments_of(value) -> tuple[int, int, int]:
    doc = copy.deepcopy(GOOD)
    doc["segments"] = value
    s = parse_rules(doc).segments
    return s.active_days, s.at_risk_days, s.dormant_days


def test_segments_default_each_day_count_alone_and_take_1_to_3650_days():
    assert segments_of({}) == (30, 90, 180)
    assert segments_of({"dormant_days": 200}) == (30, 90, 200)
    assert segments_of({"active_days": 1, "at_risk_days": 2, "dormant_days": 3}) == (1, 2, 3)
    assert segments_of({"active_days": 3648, "at_risk_days": 3649, "dormant_days": 3650}) == (3648, 3649, 3650)


@pytest.mark.parametrize("key", ["active_days", "at_risk_days", "dormant_days"])
@pytest.mark.parametrize("days", [0, 3651])
def test_a_segment_day_count_out_of_range_is_named(key, days):
    with pytest.raises(RulesError) as err:
        segments_of({key: days})
    assert (err.value.field, err.value.problem) == (f"segments.{key}", f"must be between 1 and 3650, got {days}")


def test_segments_that_are_not_an_object_are_named():
    with pytest.raises(RulesError) as err:
        segments_of([])
    assert (err.value.field, err.value.problem) == ("segments", "must be an object")
