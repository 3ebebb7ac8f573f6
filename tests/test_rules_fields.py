"""The rules document's field readers (kiosk/ledger/rules_fields.py), each error worked to its exact
text: a technician editing rules.json reads the file, the field's path and the problem, so a
message that loses its path or its words is a defect (mutation testing left these open)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.ledger.rules_fields import LocalText, RulesError, _Fields

F = _Fields("rules.json")
LONG = "x" * 100


@pytest.mark.parametrize(("read", "message"), [
    (lambda: F.table({"a": 1}, "a", "p."), "rules.json: p.a: must be an object"),
    (lambda: F.table({"a": {"colr": 1}}, "a", "p.", frozenset({"color", "size"})),
     "rules.json: p.a.colr: unknown field (did you mean 'color'?)"),
    (lambda: F.only({"qqq": 1}, frozenset({"b", "a"}), "p."), "rules.json: p.qqq: unknown field (known: a, b)"),
    (lambda: F.only({"ab" * 30: 1}, frozenset({"z"}), "p."), f"rules.json: p.{('ab' * 30)[:40]}: unknown field (known: z)"),
    (lambda: F.int({}, "n", "p."), "rules.json: p.n: is missing"),
    (lambda: F.int({"n": "1"}, "n", "p."), "rules.json: p.n: must be an integer, got '1'"),
    (lambda: F.bool({}, "b", "p."), "rules.json: p.b: is missing"),
    (lambda: F.bool({"b": 1}, "b", "p."), "rules.json: p.b: must be true or false, got 1"),
    (lambda: F.str({}, "s", "p."), "rules.json: p.s: is missing"),
    (lambda: F.str({"s": 5}, "s", "p."), "rules.json: p.s: must be a non-empty string, got 5"),
    (lambda: F.str({"s": "  "}, "s", "p."), "rules.json: p.s: must be a non-empty string, got '  '"),
    (lambda: F.str({"s": "a\u202eb"}, "s", "p."),
     "rules.json: p.s: must not hold control, bidi-override or invisible format characters"),
    (lambda: F.image({"i": LONG}, "i", "p."), None),  # checked below: the value cut at 80
    (lambda: F.text({"t": 5}, "t", "p."), "rules.json: p.t: must be a string or {zh_CN, en}"),
    (lambda: F.text({"t": "a\x07"}, "t", "p."),
     "rules.json: p.t: must not hold control, bidi-override or invisible format characters"),
    (lambda: F.text({"t": {"zh_CN": "好"}}, "t", "p."), "rules.json: p.t.en: is missing"),
    (lambda: F.text({"t": {"en": "a"}}, "t", "p."), "rules.json: p.t.zh_CN: is missing"),
    (lambda: F.time({"w": 5}, "w", "p."), "rules.json: p.w: must be an ISO 8601 time with a zone, got 5"),
    (lambda: F.time({"w": "soon"}, "w", "p."), "rules.json: p.w: must be an ISO 8601 time with a zone, got 'soon'"),
    (lambda: F.time({"w": "2026-12-07T10:00:00"}, "w", "p."),
     "rules.json: p.w: must be an ISO 8601 time with a zone, got '2026-12-07T10:00:00'"),
])
def test_each_bad_field_names_its_path_and_problem(read, message):
    with pytest.raises(RulesError) as bad:
        read()
    if message is None:
        assert str(bad.value).endswith(f", got {LONG[:80]!r}") and str(bad.value).startswith("rules.json: p.i: ")
    else:
        assert str(bad.value) == message


def test_defaults_are_given_only_when_the_field_is_absent():
    assert (F.bool({}, "b", "p.", default=True), F.str({}, "s", "p.", default="d")) == (True, "d")
    assert (F.bool({"b": False}, "b", "p.", default=True), F.str({"s": "v"}, "s", "p.", default="d")) == (False, "v")
    assert F.int({}, "n", "p.", default=7) == 7


def test_text_in_one_language_serves_both_and_a_pair_each_its_own():
    assert F.text({"t": "Hello"}, "t", "p.") == LocalText("Hello", "Hello")
    both = F.text({"t": {"zh_CN": "你好", "en": "Hello"}}, "t", "p.")
    assert both == LocalText("你好", "Hello")
    assert (both.get("en"), both.get("zh_CN"), both.get("fr")) == ("Hello", "你好", "你好")


def test_times_are_read_with_their_zone_and_kept_in_utc():
    at = F.time({"w": "2026-12-07T10:00:00+08:00"}, "w", "p.")
    assert at == datetime(2026, 12, 7, 2, 0, tzinfo=UTC) and at.tzinfo is UTC
    assert F.time({}, "w", "p.") is None and F.time({"w": None}, "w", "p.") is None
