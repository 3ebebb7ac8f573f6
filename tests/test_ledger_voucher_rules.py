"""The rules' `vouchers` section (kiosk/ledger/voucher_rules.py) read at its limits: a value of
1 fen, a minimum spend 1 fen above the value, 1 and MAX_VALID_DAYS valid days, a spend gift from
1 fen, each store kept; and each wrong value refused with its exact text, since the technician
editing rules.json reads the field's path and the problem (mutation testing left these open)."""

from __future__ import annotations

import pytest

from kiosk.ledger.rules_fields import LocalText, RulesError, _Fields
from kiosk.ledger.voucher_rules import MAX_VALID_DAYS, SpendGift, VoucherRules, VoucherType, parse_vouchers

ID_HINT = "must be 1-64 of A-Z a-z 0-9 _ . : - (starting with a letter or digit)"


def _type(**changes) -> dict:
    raw = {"id": "w10", "name": "W", "value_fen": 1000, "min_spend_fen": 5000, "valid_days": 30}
    raw.update(changes)
    return raw


def _read(data: object) -> VoucherRules:
    return parse_vouchers(_Fields("rules.json"), data)


def test_a_voucher_type_is_read_at_its_limits_with_each_of_its_stores():
    read = _read({
        "types": [
            _type(value_fen=1, min_spend_fen=2, valid_days=1, stores=["S1", "S-2"]),
            _type(id="long", name={"zh_CN": "长", "en": "Long"}, valid_days=MAX_VALID_DAYS),
        ],
        "gifts": {"new_member": "w10", "birthday": "long", "referral": "", "spend": {"min_fen": 1, "type": "long"}},
    })
    assert read == VoucherRules(
        types=(
            VoucherType("w10", LocalText("W", "W"), 1, 2, 1, ("S1", "S-2")),
            VoucherType("long", LocalText("长", "Long"), 1000, 5000, MAX_VALID_DAYS, ()),
        ),
        new_member="w10",
        birthday="long",
        referral="",
        spend=SpendGift(1, "long"),
    )
    assert read.type("long") is read.types[1] and read.type("nope") is None


def test_no_types_and_no_gifts_read_as_no_vouchers():
    assert _read({}) == VoucherRules() == _read({"types": [], "gifts": {"spend": None}})


@pytest.mark.parametrize(("data", "message"), [
    ([], "vouchers: must be an object"),
    ({"type": []}, "vouchers.type: unknown field (did you mean 'types'?)"),
    ({"types": {}}, "vouchers.types: must be a list"),
    ({"types": [_type(), _type()]}, "vouchers.types: voucher type ids must be unique"),
    ({"gifts": []}, "vouchers.gifts: must be an object"),
    ({"gifts": {"birthdays": ""}}, "vouchers.gifts.birthdays: unknown field (did you mean 'birthday'?)"),
    ({"gifts": {"new_member": "w10"}}, "vouchers.gifts.new_member: unknown voucher type 'w10' (known: none defined in vouchers.types)"),
    ({"types": [_type(), _type(id="b5")], "gifts": {"referral": "x" * 70}},
     f"vouchers.gifts.referral: unknown voucher type {'x' * 64!r} (known: w10, b5)"),
    ({"types": [_type()], "gifts": {"birthday": 5}}, "vouchers.gifts.birthday: unknown voucher type '5' (known: w10)"),
    ({"gifts": {"spend": 5}}, "vouchers.gifts.spend: must be an object"),
    ({"gifts": {"spend": {"min_fen": 1, "typ": "w10"}}}, "vouchers.gifts.spend.typ: unknown field (did you mean 'type'?)"),
    ({"types": [_type()], "gifts": {"spend": {"min_fen": 0, "type": "w10"}}},
     "vouchers.gifts.spend.min_fen: must be between 1 and 100000000, got 0"),
    ({"types": [_type()], "gifts": {"spend": {"min_fen": 1}}}, "vouchers.gifts.spend.type: is missing"),
    ({"types": [_type()], "gifts": {"spend": {"min_fen": 1, "type": "nope"}}},
     "vouchers.gifts.spend.type: unknown voucher type 'nope' (known: w10)"),
    ({"types": [5]}, "vouchers.types[0]: must be an object"),
    ({"types": [_type(), _type(id="b5", value=1)]}, "vouchers.types[1].value: unknown field (did you mean 'value_fen'?)"),
    ({"types": [_type(stores="S1")]}, "vouchers.types[0].stores: must be a list"),
    ({"types": [_type(stores=["S1", "a b"])]}, f"vouchers.types[0].stores[1]: a store id {ID_HINT}, got 'a b'"),
    ({"types": [_type(stores=[7])]}, f"vouchers.types[0].stores[0]: a store id {ID_HINT}, got '7'"),
    ({"types": [_type(stores=["s" * 70])]}, f"vouchers.types[0].stores[0]: a store id {ID_HINT}, got {'s' * 64!r}"),
    ({"types": [_type(id="a b")]}, f"vouchers.types[0].id: {ID_HINT}, got 'a b'"),
    ({"types": [_type(name=5)]}, "vouchers.types[0].name: must be a string or {zh_CN, en}"),
    ({"types": [_type(value_fen=0)]}, "vouchers.types[0].value_fen: must be between 1 and 100000000, got 0"),
    ({"types": [_type(min_spend_fen=-1)]}, "vouchers.types[0].min_spend_fen: must be between 0 and 100000000, got -1"),
    ({"types": [_type(valid_days=0)]}, f"vouchers.types[0].valid_days: must be between 1 and {MAX_VALID_DAYS}, got 0"),
    ({"types": [_type(valid_days=MAX_VALID_DAYS + 1)]},
     f"vouchers.types[0].valid_days: must be between 1 and {MAX_VALID_DAYS}, got {MAX_VALID_DAYS + 1}"),
    ({"types": [_type(value_fen=1000, min_spend_fen=1000)]},
     "vouchers.types[0].min_spend_fen: must be above value_fen (1000): the card pays at least 1 fen of an order"),
])
def test_a_wrong_vouchers_section_is_refused_naming_the_field_and_the_problem(data, message):
    with pytest.raises(RulesError) as bad:
        _read(data)
    assert str(bad.value) == f"rules.json: {message}"
