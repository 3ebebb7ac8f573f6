"""The rules' vouchers (代金券): the voucher types HQ offers and the gifts that give them.

Read from the rules document's `vouchers` section through the same field reader as the rest of
the rules (kiosk/ledger/rules_fields.py), so a wrong value names its path and nothing loads:

    "vouchers": {
      "types": [{"id": "welcome10", "name": {"zh_CN": "新人券", "en": "Welcome voucher"},
                 "value_fen": 1000, "min_spend_fen": 5000, "valid_days": 30, "stores": []}],
      "gifts": {"new_member": "welcome10", "birthday": "", "referral": "",
                "spend": {"min_fen": 20000, "type": "welcome10"}}
    }

A voucher is worth less than its minimum spend (满50减10), so the card always pays at least
1 fen of an order a voucher is used on: a charge is never all discount.

The spend gift belongs to the sale that earned it: a refund leaving less of the order than
`min_fen` (the rules in force at the refund; a void or a whole refund always) withdraws its voucher,
and keeps the voucher's value from the refund when it was used already (kiosk/ledger/vouchers.py)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.ledger.rules_fields import SAFE_ID, SAFE_ID_HINT, LocalText, _Fields

MAX_VALID_DAYS = 3650


@dataclass(frozen=True)
class VoucherType:
    id: str
    name: LocalText
    value_fen: int  # taken off the order
    min_spend_fen: int  # the order (after the tier discount) must be at least this; above value_fen
    valid_days: int  # 1 = the day it is issued only; the last valid day is issue day + valid_days - 1 (local)
    stores: tuple[str, ...] = ()  # store ids it may be used at; () = every store


@dataclass(frozen=True)
class SpendGift:
    """消费送券: a charge paying at least `min_fen` from stored value earns a voucher of `type`."""

    min_fen: int
    type: str


@dataclass(frozen=True)
class VoucherRules:
    types: tuple[VoucherType, ...] = ()
    new_member: str = ""  # the type given to a new member (入会送券); "" = none
    birthday: str = ""  # given with the birthday gift
    referral: str = ""  # given to the referrer when a referred member joins
    spend: SpendGift | None = None

    def type(self, type_id: str) -> VoucherType | None:
        return next((t for t in self.types if t.id == type_id), None)


_KEYS = frozenset({"types", "gifts"})
_TYPE_KEYS = frozenset({"id", "name", "value_fen", "min_spend_fen", "valid_days", "stores"})
_GIFT_KEYS = frozenset({"new_member", "birthday", "referral", "spend"})
_SPEND_KEYS = frozenset({"min_fen", "type"})


def parse_vouchers(f: _Fields, data: object) -> VoucherRules:
    """The `vouchers` section (absent: no vouchers)."""
    if not isinstance(data, dict):
        raise f.fail("vouchers", "must be an object")
    f.only(data, _KEYS, "vouchers.")
    types = [_type(f, raw, f"vouchers.types[{i}]") for i, raw in enumerate(f.items(data, "types", "vouchers."))] if "types" in data else []
    ids = [t.id for t in types]
    if len(set(ids)) != len(ids):
        raise f.fail("vouchers.types", "voucher type ids must be unique")
    gifts = data.get("gifts", {})
    if not isinstance(gifts, dict):
        raise f.fail("vouchers.gifts", "must be an object")
    f.only(gifts, _GIFT_KEYS, "vouchers.gifts.")

    def named(key: str, raw: dict, path: str) -> str:
        value = raw.get(key, "")
        if value == "":
            return ""
        if value not in ids:
            known = ", ".join(ids) or "none defined in vouchers.types"
            raise f.fail(f"{path}{key}", f"unknown voucher type {str(value)[:64]!r} (known: {known})")
        return value

    spend = None
    if gifts.get("spend") is not None:
        raw = f.table(gifts, "spend", "vouchers.gifts.", _SPEND_KEYS)
        spend = SpendGift(f.int(raw, "min_fen", "vouchers.gifts.spend.", lo=1), named("type", raw, "vouchers.gifts.spend."))
        if not spend.type:
            raise f.fail("vouchers.gifts.spend.type", "is missing")
    return VoucherRules(
        types=tuple(types),
        new_member=named("new_member", gifts, "vouchers.gifts."),
        birthday=named("birthday", gifts, "vouchers.gifts."),
        referral=named("referral", gifts, "vouchers.gifts."),
        spend=spend,
    )


def _type(f: _Fields, raw: object, path: str) -> VoucherType:
    if not isinstance(raw, dict):
        raise f.fail(path, "must be an object")
    p = f"{path}."
    f.only(raw, _TYPE_KEYS, p)
    stores = f.items(raw, "stores", p) if "stores" in raw else []
    for i, store in enumerate(stores):
        if not isinstance(store, str) or not SAFE_ID.match(store):
            raise f.fail(f"{p}stores[{i}]", f"a store id {SAFE_ID_HINT}, got {str(store)[:64]!r}")
    voucher = VoucherType(
        id=f.ident(raw, "id", p),
        name=f.text(raw, "name", p),
        value_fen=f.int(raw, "value_fen", p, lo=1),
        min_spend_fen=f.int(raw, "min_spend_fen", p),
        valid_days=f.int(raw, "valid_days", p, lo=1, hi=MAX_VALID_DAYS),
        stores=tuple(stores),
    )
    if voucher.min_spend_fen <= voucher.value_fen:
        raise f.fail(f"{p}min_spend_fen", f"must be above value_fen ({voucher.value_fen}): the card pays at least 1 fen of an order")
    return voucher
