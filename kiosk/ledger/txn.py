"""Transactions: immutable events with a stable id (device id + per-device sequence).

A Txn carries everything needed to apply it (amounts before and after, the points' expiry
date, the new card's uid...), so replaying a journal never depends on the rules in force at
replay time. The codec is strict: payloads from MQTT or disk are hostile until checked."""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, date, datetime
from enum import StrEnum
from operator import attrgetter

from kiosk.ledger.rules import MAX_FEN, SAFE_ID, SAFE_ID_HINT
from kiosk.ledger.uid import is_card_uid
from kiosk.ledger.utc import parse_utc, utc_text

MAX_POINTS = 1_000_000_000
_DEVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_TEXT_MAX = 200
_VOUCHER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}\Z")  # a voucher is named by its issuing txn_id


class Kind(StrEnum):
    SIGN_UP = "sign_up"
    NEW_MEMBER_GIFT = "new_member_gift"
    TOP_UP = "top_up"
    SPEND = "spend"
    REDEMPTION = "redemption"
    BIRTHDAY_GIFT = "birthday_gift"
    POINTS_EXPIRY = "points_expiry"
    CARD_REPLACEMENT = "card_replacement"
    CARD_RETURN = "card_return"
    CARD_BLOCKED = "card_blocked"
    CARD_UNBLOCKED = "card_unblocked"
    ADJUSTMENT = "adjustment"
    PIN_FAILED = "pin_failed"
    PIN_RESET = "pin_reset"
    PIN_CHANGED = "pin_changed"
    CHECK_IN = "check_in"
    REFERRAL_REWARD = "referral_reward"
    SURVEY = "survey"
    PURSE_WRITTEN = "purse_written"
    REFUND = "refund"
    VOID = "void"
    PROFILE_UPDATE = "profile_update"
    VOUCHER_ISSUED = "voucher_issued"
    VOUCHER_EXPIRED = "voucher_expired"
    CARD_FEE = "card_fee"
    CARD_EXCHANGE = "card_exchange"
    CARD_WRITTEN = "card_written"


class TxnFormatError(ValueError):
    """A transaction record that is not well-formed; names the field."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"transaction {field}: {problem}")


@dataclass(frozen=True)
class Txn:
    txn_id: str
    device_id: str
    seq: int
    at: datetime
    kind: Kind
    member_id: str
    card_uid: str
    balance_before_fen: int
    balance_after_fen: int
    points_before: int
    points_after: int
    amount_fen: int = 0  # paid (top-up), spent, refunded (return), or voucher value (redemption)
    bonus_fen: int = 0  # bonus credit added to the balance (top-up, gifts)
    points_expire_on: date | None = None  # expiry of the points this txn adds
    expire_before: date | None = None  # POINTS_EXPIRY: lots expiring before this date go
    payment_ref: str = ""
    reward_id: str = ""
    quantity: int = 0
    new_card_uid: str = ""
    card_seq: int = 0
    gift_year: int = 0
    name: str = ""
    phone: str = ""
    birthday: date | None = None
    pin_hash: str = ""
    pin_locked_until: datetime | None = None
    reason: str = ""
    rules_version: int = 0
    local_day: date | None = None  # CHECK_IN: the store's local date of the visit
    referrer_id: str = ""  # SIGN_UP: the member whose referral code was used
    referee_id: str = ""  # REFERRAL_REWARD: the new member the reward is for
    rating: int = 0  # SURVEY: 1-5 stars
    reasons: str = ""  # SURVEY: comma-separated reason ids from the rules
    card_counter: int = 0  # the card's counter (purse or NTAG tap): read at the tap, or (PURSE_WRITTEN) just written
    notes_consent: bool = False  # SIGN_UP: the member agreed that staff may keep notes on them (privacy notice)
    clock_untrusted: bool = False  # `at` came from a clock not yet trusted (before NTP, behind the ledger)
    # Vouchers and points as cash (kiosk/ledger/vouchers.py, points_cash.py): a VOUCHER_ISSUED's
    # voucher is named by its own txn_id and carries its type, value (amount_fen), minimum spend,
    # end of validity and stores; a SPEND names the voucher it used and the points it paid with,
    # a REFUND or VOID the voucher and points it gives back, and the voucher its order earned that
    # it withdraws (voucher_withdrawn), keeping that voucher's value when it was used already, and
    # paying that value back with the whole refund of the order that used it (voucher_repaid_fen).
    voucher_id: str = ""
    voucher_type: str = ""
    voucher_fen: int = 0  # SPEND: the voucher's discount
    voucher_min_fen: int = 0
    voucher_until: datetime | None = None  # the voucher is valid before this instant (end of its last local day)
    voucher_stores: str = ""  # comma-separated store ids; "" = every store
    points_cash: int = 0  # SPEND: points paid as cash; REFUND/VOID: points given back
    points_cash_fen: int = 0  # SPEND: what those points paid
    voucher_withdrawn: str = ""  # REFUND/VOID: the voucher the order earned (消费送券), taken back
    voucher_kept_fen: int = 0  # REFUND/VOID: of amount_fen, kept for that voucher used already
    # REFUND/VOID completing the order that used a voucher since withdrawn: what the earning order's
    # refunds kept for it, paid back (that discount is undone now), beyond amount_fen
    voucher_repaid_fen: int = 0
    staff_id: str = ""  # SIGN_UP, TOP_UP, CARD_FEE: the staff member credited with the sale
    staff_reward_fen: int = 0  # the sales reward the rules gave that staff member for it (not the member's money)
    waiver: str = ""  # SIGN_UP, CARD_FEE: why no fee was charged ("topup", "campaign:<id>")
    awaiting_write: bool = False  # SIGN_UP, CARD_REPLACEMENT, CARD_EXCHANGE: the card was not written (HQ's counter)

    @property
    def balance_delta_fen(self) -> int:
        return self.balance_after_fen - self.balance_before_fen

    @property
    def points_delta(self) -> int:
        return self.points_after - self.points_before


def txn_id_for(device_id: str, seq: int) -> str:
    return f"{device_id}:{seq}"


_NAMES = tuple(f.name for f in fields(Txn))
_DEFAULTS = {f.name: f.default for f in fields(Txn) if f.default is not MISSING}
_DATE_FIELDS = {"points_expire_on", "expire_before", "birthday", "local_day"}
_TIME_FIELDS = {"at", "pin_locked_until", "voucher_until"}
_BOOL_FIELDS = {"clock_untrusted", "notes_consent", "awaiting_write"}
_INT_RANGES = {
    "seq": (1, 2**62),
    "balance_before_fen": (-MAX_FEN, MAX_FEN),
    "balance_after_fen": (-MAX_FEN, MAX_FEN),
    "points_before": (0, MAX_POINTS),
    "points_after": (0, MAX_POINTS),
    "amount_fen": (0, MAX_FEN),
    "bonus_fen": (0, MAX_FEN),
    "quantity": (0, 10_000),
    "card_seq": (0, 65_535),
    "gift_year": (0, 9999),
    "rules_version": (0, 2**31),
    "rating": (0, 5),
    "card_counter": (0, 0xFFFFFFFF),
    "voucher_fen": (0, MAX_FEN),
    "voucher_min_fen": (0, MAX_FEN),
    "points_cash": (0, MAX_POINTS),
    "points_cash_fen": (0, MAX_FEN),
    "voucher_kept_fen": (0, MAX_FEN),
    "voucher_repaid_fen": (0, MAX_FEN),
    "staff_reward_fen": (0, MAX_FEN),
}


def txn_to_dict(txn: Txn) -> dict:
    """A JSON-ready dict; fields at their default are left out to keep the journal small."""
    out: dict = {}
    for (name, default, convert), value in zip(_ENCODING, _VALUES(txn), strict=True):
        if value == default:
            continue
        out[name] = value if convert is None else convert(value)
    return out


_REQUIRED = object()  # the "default" of a field that has none: equal to no value
_VALUES = attrgetter(*_NAMES)
# (name, default, how its value becomes JSON) per field, built once: HQ encodes every txn it stores
_ENCODING = tuple(
    (
        name,
        _DEFAULTS.get(name, _REQUIRED),
        utc_text if name in _TIME_FIELDS else date.isoformat if name in _DATE_FIELDS else str if name == "kind" else None,
    )
    for name in _NAMES
)


def txn_from_dict(data: object) -> Txn:
    """Check every field of an untrusted record and build the Txn, or raise TxnFormatError."""
    if not isinstance(data, dict):
        raise TxnFormatError("-", "must be an object")
    if not data.keys() <= _NAME_SET:
        key = next(k for k in data if k not in _NAME_SET)
        raise TxnFormatError(str(key)[:40], "unknown field")
    if not _REQUIRED_SET <= data.keys():
        raise TxnFormatError(next(n for n in _NAMES if n in _REQUIRED_SET and n not in data), "is missing")
    # only the fields present (a txn carries about a third of them; HQ decodes every one it receives)
    values = {name: _CHECK_OF[name](name, value) for name, value in data.items()}
    txn = txn_of(_DEFAULTS | values)
    check_txn(txn)
    return txn


def txn_of(values: dict) -> Txn:
    """The Txn of a dict holding every field's value (checked already), the object Txn(**values)
    would make, without the frozen dataclass's __init__: that sets the 51 fields one
    object.__setattr__ at a time, and cost HQ more than decoding the record (Txn has no
    __post_init__; tests/hq/test_hq_events_wire.py holds both to the same result)."""
    txn = object.__new__(Txn)
    object.__setattr__(txn, "__dict__", values)
    return txn


def _int_check(lo: int, hi: int):
    def check(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise TxnFormatError(name, f"must be an integer in {lo}..{hi}")
        return value

    return check


def _bool_check(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TxnFormatError(name, "must be true or false")
    return value


def _date_check(name: str, value: object) -> date:
    if not isinstance(value, str):
        raise TxnFormatError(name, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TxnFormatError(name, "must be a date YYYY-MM-DD") from None


def _kind_check(name: str, value: object) -> Kind:
    try:
        return Kind(value)
    except (ValueError, TypeError):
        raise TxnFormatError(name, "unknown kind") from None


def _text_check(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > _TEXT_MAX:
        raise TxnFormatError(name, f"must be a string of at most {_TEXT_MAX} characters")
    return value


def check_txn(txn: Txn) -> None:
    """Invariants every transaction keeps, whoever built it."""
    if not _DEVICE.match(txn.device_id):
        raise TxnFormatError("device_id", "must be 1-64 letters, digits, '-' or '_'")
    if txn.txn_id != txn_id_for(txn.device_id, txn.seq):
        raise TxnFormatError("txn_id", "must be device_id:seq")
    if txn.at.tzinfo is None or txn.at.utcoffset() != UTC.utcoffset(None):
        raise TxnFormatError("at", "must be a UTC time")
    if not is_card_uid(txn.card_uid):
        raise TxnFormatError("card_uid", "must be a 4, 7 or 10 byte UID in upper-case hex")
    if txn.new_card_uid and not is_card_uid(txn.new_card_uid):
        raise TxnFormatError("new_card_uid", "must be a 4, 7 or 10 byte UID in upper-case hex")
    if not SAFE_ID.match(txn.member_id):
        raise TxnFormatError("member_id", SAFE_ID_HINT)
    if txn.reward_id and not SAFE_ID.match(txn.reward_id):
        raise TxnFormatError("reward_id", SAFE_ID_HINT)
    for name in ("voucher_id", "voucher_type", "voucher_withdrawn"):
        if getattr(txn, name) and not _VOUCHER_ID.match(getattr(txn, name)):
            raise TxnFormatError(name, "must be 1-100 of A-Z a-z 0-9 _ . : - (starting with a letter or digit)")
    if txn.staff_id and not SAFE_ID.match(txn.staff_id):
        raise TxnFormatError("staff_id", SAFE_ID_HINT)
    if txn.staff_reward_fen and not txn.staff_id:
        raise TxnFormatError("staff_reward_fen", "a sales reward needs the staff_id it is for")
    if txn.points_after < 0 or txn.points_before < 0:
        raise TxnFormatError("points_after", "points are never negative")
    if txn.points_delta > 0 and txn.points_expire_on is None:
        raise TxnFormatError("points_expire_on", "points added need an expiry date")


def _parse_time(name: str, value: object) -> datetime:
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise TxnFormatError(name, str(exc)) from None


_NAME_SET = frozenset(_NAMES)
# (name, may be left out, its check) per field, built once: HQ decodes every txn a kiosk sends
_CHECKS = tuple(
    (
        name,
        name in _DEFAULTS,
        _int_check(*_INT_RANGES[name]) if name in _INT_RANGES
        else _parse_time if name in _TIME_FIELDS
        else _bool_check if name in _BOOL_FIELDS
        else _date_check if name in _DATE_FIELDS
        else _kind_check if name == "kind"
        else _text_check,
    )
    for name in _NAMES
)
_CHECK_OF = {name: check for name, _, check in _CHECKS}
_REQUIRED_SET = frozenset(name for name, optional, _ in _CHECKS if not optional)


@dataclass(frozen=True)
class FieldRule:
    """How txn_from_dict reads one field, for another decoder of the same record to read it alike
    (kiosk/hq/events_wire.py): `form` is int (in low..high), time, bool, date, kind or text (at
    most TEXT_MAX characters); `default` is REQUIRED for a field that must be present."""

    name: str
    form: str
    default: object
    low: int = 0
    high: int = 0


REQUIRED = _REQUIRED
TEXT_MAX = _TEXT_MAX
FIELD_RULES = tuple(
    FieldRule(
        name,
        "int" if name in _INT_RANGES else "time" if name in _TIME_FIELDS else "bool" if name in _BOOL_FIELDS
        else "date" if name in _DATE_FIELDS else "kind" if name == "kind" else "text",
        _DEFAULTS.get(name, REQUIRED),
        *_INT_RANGES.get(name, (0, 0)),
    )
    for name in _NAMES
)
