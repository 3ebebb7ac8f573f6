"""The rules page over HTTP against the real server: a section edited with an error shown beside
its field, the review's changes, publishing to chosen stores or the chain (one version counter),
the JSON import and export; and the form's own pieces (paths, merge, the sections it grows)."""

from __future__ import annotations

import json
import re
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hq.console import i18n, rules_diff, rules_form
from kiosk.hq.rules_scopes import highest_version, own_stores, rules_for_store, scoped_rules
from kiosk.ledger.rules import RulesError, parse_rules
from tests.hq.console.conftest import csrf_of, http_client

DEFAULT = json.loads(files("kiosk.data").joinpath("rules.default.json").read_text(encoding="utf-8"))


def english(username: str, console) -> object:
    client = http_client(console.url, username)
    client.cookies.set("kiosk_console_lang", "en")
    return client


def draft_of(html: str) -> str:
    from html import unescape

    return unescape(re.search(r'name="draft" value="([^"]*)"', html).group(1))


def document_of(html: str) -> str:
    from html import unescape

    return unescape(re.search(r'name="document" value="([^"]*)"', html).group(1))


def review_points(client, token: str, fen_per_point: str):
    """The Points section typed in (points on top-ups and spending ticked) and reviewed."""
    page = client.get("/rules?section=points").text
    return client.post("/rules/draft", data={
        "csrf": token, "draft": draft_of(page), "section": "points", "go": "review",
        "points.fen_per_point": fen_per_point, "points.expiry_months": "12", "points.earn_on_topup": "on",
        "points.earn_on_spend": "on",
    })


def test_a_wrong_value_is_shown_beside_its_field_and_nothing_is_published(console):
    client = english("prog", console)
    token = csrf_of(client, "/rules")
    answer = review_points(client, token, "0")
    assert answer.status_code == 400
    beside = re.search(r'<td class="field invalid">(.*?)</td>', answer.text, re.S).group(1)
    assert 'name="points.fen_per_point"' in beside and 'value="0"' in beside
    assert 'id="points.fen_per_point-error"' in beside and "must be between 1 and" in beside
    db = console.db()
    assert scoped_rules(db) is None and highest_version(db) == 0
    db.close()


def test_an_error_in_a_row_of_a_list_is_beside_that_row(console):
    client = english("admin", console)
    token = csrf_of(client, "/rules")
    page = client.get("/rules?section=tiers").text
    form = {"csrf": token, "draft": draft_of(page), "section": "tiers", "go": "review"}
    for i, tier in enumerate(DEFAULT["tiers"]):
        for key in ("id", "min_topup_12m_fen", "points_multiplier_pct", "discount_pct"):
            form[f"tiers[{i}].{key}"] = str(tier[key])
        form[f"tiers[{i}].name.zh_CN"], form[f"tiers[{i}].name.en"] = tier["name"]["zh_CN"], tier["name"]["en"]
    form["tiers[2].discount_pct"] = "101"  # one over the highest
    answer = client.post("/rules/draft", data=form)
    assert answer.status_code == 400
    assert 'id="tiers[2].discount_pct-error"' in answer.text and "between 1 and 100, got 101" in answer.text
    form["tiers[2].discount_pct"] = "100"  # exactly the highest: fine
    assert client.post("/rules/draft", data=form).status_code == 200


def test_review_then_publish_to_one_store_then_the_chain(console):
    client = english("prog", console)
    token = csrf_of(client, "/rules")
    review = review_points(client, token, "50")
    assert review.status_code == 200, review.text
    changes = re.findall(r"<tr><td><code>([^<]+)</code></td><td class=\"before\">([^<]*)</td><td class=\"after\">([^<]*)</td>",
                         review.text)
    assert changes == [("points.fen_per_point", "100", "50")]
    document = document_of(review.text)
    assert json.loads(document)["version"] == 2  # nothing published yet: above the built-in rules (1)
    refused = client.post("/rules", data={"csrf": token, "document": document, "scope": "stores"})
    assert refused.status_code == 409 and "Choose at least one store" in refused.text
    done = client.post("/rules", data={"csrf": token, "document": document, "scope": "stores", "store:S1": "1"})
    assert done.status_code == 303 and done.headers["location"] == "/rules?done=S1"
    db = console.db()
    assert scoped_rules(db) is None and own_stores(db) == ["S1"]
    assert rules_for_store(db, "S1")[1].points.fen_per_point == 50 and rules_for_store(db, "S2") is None
    # the same document again: its version is no longer above the newest published anywhere
    again = client.post("/rules", data={"csrf": token, "document": document, "scope": "chain"})
    assert again.status_code == 409 and "not above 2" in again.text
    chain = dict(json.loads(document), version=3)
    assert client.post("/rules", data={"csrf": token, "document": json.dumps(chain), "scope": "chain"}).status_code == 303
    assert scoped_rules(db)[1].version == 3
    assert scoped_rules(db, "S1")[1].version == 3  # the store's own copy follows the chain
    entries = db.all("SELECT target, after_value FROM audit_log WHERE action = 'rules.publish' ORDER BY id")
    assert [t for t, _ in entries] == ["rules:S1", "rules:chain"]
    db.close()
    shown = client.get("/rules").text
    assert "version 3" in shown


def test_import_of_broken_json_names_the_line_and_a_bad_rule_finds_its_field(console):
    client = english("admin", console)
    token = csrf_of(client, "/rules")
    broken = client.post("/rules/draft", data={"csrf": token, "import": '{"version": 3,\n "tiers": [}'})
    assert broken.status_code == 400 and 'id="import-error"' in broken.text and "line 2" in broken.text
    bad = dict(DEFAULT, pin={**DEFAULT["pin"], "max_attempts": 0})
    answer = client.post("/rules/draft", data={"csrf": token, "import": json.dumps(bad)})
    assert answer.status_code == 400 and 'id="pin.max_attempts-error"' in answer.text


def test_export_gives_the_document_in_force(console):
    client = english("aud", console)
    exported = client.get("/rules/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert json.loads(exported.text) == DEFAULT
    assert client.post("/rules/draft", data={"csrf": csrf_of(client)}).status_code == 403


def test_a_new_section_of_the_rules_gets_its_fields_from_the_document():
    doc = dict(DEFAULT, later={"replacement_fen": 1000, "waiting_days": 0, "comment": "x"})
    section = rules_form.sections_for(doc)[-1]
    assert (section.path, [f.key for f in section.fields]) == ("later", ["replacement_fen", "waiting_days"])
    merged = rules_form.merge(doc, section, {"later.replacement_fen": "1500", "later.waiting_days": "7"})
    assert merged["later"] == {"replacement_fen": 1500, "waiting_days": 7, "comment": "x"}
    assert doc["later"]["replacement_fen"] == 1000  # a copy


def test_rows_are_added_and_removed_and_text_stays_for_the_parser_to_name():
    section = rules_form.find(rules_form.sections_for(DEFAULT), "topup-bonus_steps")
    merged = rules_form.merge(DEFAULT, section, {
        "topup.bonus_steps[0]!remove": "on", "topup.bonus_steps[1].min_fen": "100000",
        "topup.bonus_steps[1].bonus_fen": "8000", "topup.bonus_steps[2].min_fen": "200000",
        "topup.bonus_steps[2].bonus_fen": "2 yuan",
    })
    assert merged["topup"]["bonus_steps"] == [{"min_fen": 100000, "bonus_fen": 8000}, {"min_fen": 200000, "bonus_fen": "2 yuan"}]
    with pytest.raises(RulesError) as refused:
        parse_rules(dict(merged, version=2))
    assert refused.value.field == "topup.bonus_steps[1].bonus_fen"
    sections = rules_form.sections_for(merged)
    assert rules_form.locate(sections, merged, refused.value.field) == (section, "topup.bonus_steps[1].bonus_fen")


@pytest.mark.parametrize(("path", "slug", "field"), [
    ("points.fen_per_point", "points", "points.fen_per_point"),
    ("topup.presets_fen[2]", "topup", "topup.presets_fen"),  # an item of a comma-separated field
    ("rewards[1].flexible", "rewards", "rewards[1].flexible.min_points"),  # an object of fields
    ("tiers", "tiers", ""),  # about the whole section
    ("timezone", "general", "timezone"),
    ("version", "general", ""),
])
def test_every_path_the_parser_names_finds_a_field_or_its_section(path, slug, field):
    sections = rules_form.sections_for(DEFAULT)
    section, name = rules_form.locate(sections, DEFAULT, path)
    assert (section.slug, name) == (slug, field)


def test_the_changes_are_field_by_field():
    after = json.loads(json.dumps(DEFAULT))
    after["version"] = 9
    after["tiers"][1]["discount_pct"] = 97
    del after["rewards"][2]["valid_to"]
    after["pin"]["length"] = 4
    assert rules_diff.changes(DEFAULT, after) == [
        rules_diff.Change("tiers[1].discount_pct", "98", "97"),
        rules_diff.Change("pin.length", "6", "4"),
        rules_diff.Change("rewards[2].valid_to", '"2027-01-01T00:00:00+08:00"', ""),
    ]
    assert rules_diff.changes(DEFAULT, dict(DEFAULT, version=5)) == []


def test_every_section_title_and_field_label_has_its_chinese():
    words = {s.title for s in rules_form.SECTIONS} | {f.label for s in rules_form.SECTIONS for f in s.fields}
    assert sorted(w for w in words if w not in i18n.ZH) == []


def test_the_new_forms_refuse_a_post_without_this_sessions_token(console):
    client = english("admin", console)
    document = json.dumps(dict(DEFAULT, version=5))
    for path, data in (("/rules", {"document": document, "scope": "chain"}), ("/rules/draft", {"import": document}),
                       ("/fleet/silent", {"minutes": "5"})):
        for token in ({}, {"csrf": csrf_of(client) + "x"}):
            assert client.post(path, data={**data, **token}).status_code == 403, path
    db = console.db()
    assert highest_version(db) == 0 and db.one("SELECT value FROM settings WHERE key = 'console_silent_minutes'") is None
    db.close()
    assert client.post("/rules", data={"document": document, "scope": "chain", "csrf": csrf_of(client)}).status_code == 303


def form_of(doc: dict, section: rules_form.Section) -> dict[str, str]:
    """The inputs as the page fills them (a ticked box sends "on", an unticked one nothing)."""
    form: dict[str, str] = {}
    items = list(enumerate(rules_form.rows_of(doc, section))) if section.rows else [(None, doc)]
    for index, item in items:
        where = item if section.rows else (rules_form._get(doc, section.path) if section.path else doc)
        for field in section.fields:
            value = rules_form.shown(field.kind, rules_form._get(where, field.key))
            if field.kind == rules_form.BOOL:
                if value == "True":
                    form[rules_form.name(section, field, index)] = "on"
            else:
                form[rules_form.name(section, field, index)] = value
    return form


def test_every_section_filled_as_shown_and_sent_back_gives_the_same_document():
    for section in rules_form.sections_for(DEFAULT):
        assert rules_form.merge(DEFAULT, section, form_of(DEFAULT, section)) == DEFAULT, section.path
    plain = json.loads(json.dumps(DEFAULT))
    plain["tiers"][0]["name"] = "Regular"  # a name may be one plain string: the form leaves it so
    tiers = rules_form.find(rules_form.sections_for(plain), "tiers")
    assert rules_form.merge(plain, tiers, form_of(plain, tiers)) == plain


@settings(max_examples=40, deadline=None)
@given(tiers=st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), st.integers(0, 10**7),
                                st.integers(0, 1000), st.integers(1, 100), st.text(min_size=1, max_size=8)),
                      min_size=1, max_size=5),
       presets=st.lists(st.integers(1, 10**6), max_size=6), earn=st.booleans())
def test_any_document_survives_the_form_unchanged(tiers, presets, earn):
    doc = json.loads(json.dumps(DEFAULT))
    doc["tiers"] = [{"id": i, "name": {"zh_CN": n.strip() or "x", "en": "T"}, "min_topup_12m_fen": m,
                     "points_multiplier_pct": p, "discount_pct": d} for i, m, p, d, n in tiers]
    doc["topup"]["presets_fen"], doc["points"]["earn_on_spend"] = presets, earn
    for section in rules_form.sections_for(doc):
        assert rules_form.merge(doc, section, form_of(doc, section)) == doc, section.path
