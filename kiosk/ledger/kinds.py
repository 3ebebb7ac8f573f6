"""One table of what each transaction kind is: the one place to add a kind.

Each KindSpec says what the kind may carry, how its stated amounts must agree with each other
(checked by LedgerState.apply before anything moves), whether it is a visit, a use of the card
by the member (HQ flags one made on a card it had already stopped), and the name of its line in
the member's recent activity (none: a silent kind). The state, HQ's ledger and report, and the
member screen read this table; tests/test_kinds_complete.py fails when a Kind is missing here,
in a catalogue, in the property tests or at HQ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from operator import attrgetter

from kiosk.ledger.txn import Kind, Txn, txn_to_dict


def N_(message: str) -> str:
    """Marks an activity name for the translators' catalogue (`make locale` extracts this file);
    the UI translates it where it is shown."""
    return message


class Money(StrEnum):
    """How a kind's stated balance difference must follow from its own amounts."""

    NONE = "none"  # moves no money
    OPENS = "opens"  # sign-up: starts at balance 0 and points 0, moves nothing
    PAID_IN = "paid_in"  # the amount paid plus its bonus (top-up)
    PAID_OUT = "paid_out"  # minus the amount (spend)
    # plus the amount, less what it keeps for a used voucher, plus what it pays back for one (a till order refunded or voided)
    PAID_BACK = "paid_back"
    BONUS = "bonus"  # its bonus credit (gifts)
    TO_ZERO = "to_zero"  # to balance 0 and points 0, refunding at most the balance (card return)
    FREE = "free"  # any amounts: HQ's own corrections


@dataclass(frozen=True)
class KindSpec:
    money: Money
    carries: frozenset[str] = frozenset()  # Txn fields beyond the common ones it may set
    gives_points: bool = False
    takes_points: bool = False
    visit: bool = False  # the member came in: last visit, HQ's activity segments
    member_use: bool = False  # the member using the card (HQ: flagged on a card it had already stopped)
    activity: str = ""  # the activity line's name (an English msgid the UI translates); "" = silent

    @property
    def may_carry_bonus(self) -> bool:
        return self.money in (Money.PAID_IN, Money.BONUS, Money.FREE)

    @property
    def silent(self) -> bool:
        return not self.activity


# Every Txn may set these; `carries` lists the rest.
COMMON_FIELDS = frozenset(
    {
        "txn_id", "device_id", "seq", "at", "kind", "member_id", "card_uid", "balance_before_fen",
        "balance_after_fen", "points_before", "points_after", "rules_version", "card_counter", "clock_untrusted",
    }
)
_POINTS = frozenset({"points_expire_on"})
_GIFT = frozenset({"bonus_fen"}) | _POINTS
# A charge's voucher and points as cash; a refund or void gives them back (kiosk/ledger/vouchers.py)
_VOUCHER_USE = frozenset({"voucher_id", "voucher_fen", "points_cash", "points_cash_fen"})
# and withdraw the voucher the charge earned, keeping its value from the refund when it was used;
# the whole refund of the order that used a withdrawn voucher pays back what was kept for it
_GIVE_BACK = (
    frozenset({"voucher_id", "points_cash", "voucher_withdrawn", "voucher_kept_fen", "voucher_repaid_fen"}) | _POINTS
)
FEE_SIGN_UP, FEE_REPLACEMENT, FEE_EXCHANGE = "sign_up", "replacement", "exchange"  # a CARD_FEE's reason
_SALE = frozenset({"staff_id", "staff_reward_fen", "waiver"})  # kiosk/ledger/fees.py

SPECS: dict[Kind, KindSpec] = {
    Kind.SIGN_UP: KindSpec(
        Money.OPENS,
        frozenset({"card_seq", "name", "phone", "birthday", "pin_hash", "referrer_id", "notes_consent"})
        | _SALE
        | {"amount_fen", "awaiting_write"},
        visit=True,
        activity=N_("Joined"),
    ),
    Kind.NEW_MEMBER_GIFT: KindSpec(
        Money.BONUS, _GIFT, gives_points=True, visit=True, member_use=True, activity=N_("Welcome gift")
    ),
    Kind.TOP_UP: KindSpec(
        Money.PAID_IN,
        frozenset({"amount_fen", "bonus_fen", "payment_ref"}) | _POINTS | _SALE - {"waiver"},
        gives_points=True,
        visit=True,
        member_use=True,
        activity=N_("Top-up"),
    ),
    # A till's charge sets payment_ref to its order key (kiosk/ledger/charges.py); a refund or a
    # void names that key in payment_ref, and a refund its own refund id in `reason`.
    Kind.SPEND: KindSpec(
        Money.PAID_OUT,
        frozenset({"amount_fen", "payment_ref"}) | _POINTS | _VOUCHER_USE,
        gives_points=True,
        takes_points=True,  # points as cash (kiosk/ledger/points_cash.py): never more than it states
        visit=True,
        member_use=True,
        activity=N_("Purchase"),
    ),
    Kind.REDEMPTION: KindSpec(
        Money.NONE,
        frozenset({"reward_id", "quantity", "amount_fen"}),
        takes_points=True,
        visit=True,
        member_use=True,
        activity=N_("Reward"),
    ),
    Kind.BIRTHDAY_GIFT: KindSpec(
        Money.BONUS,
        _GIFT | {"gift_year"},
        gives_points=True,
        visit=True,
        member_use=True,
        activity=N_("Birthday gift"),
    ),
    Kind.POINTS_EXPIRY: KindSpec(
        Money.NONE, frozenset({"expire_before"}), takes_points=True, activity=N_("Points expired")
    ),
    Kind.CARD_REPLACEMENT: KindSpec(
        Money.NONE, frozenset({"new_card_uid", "card_seq", "awaiting_write"}), activity=N_("New card")
    ),
    Kind.CARD_RETURN: KindSpec(
        Money.TO_ZERO, frozenset({"amount_fen"}), takes_points=True, activity=N_("Card returned")
    ),
    Kind.CARD_BLOCKED: KindSpec(Money.NONE, frozenset({"reason"}), activity=N_("Card blocked")),
    Kind.CARD_UNBLOCKED: KindSpec(Money.NONE, frozenset({"reason"}), activity=N_("Card unblocked")),
    Kind.ADJUSTMENT: KindSpec(
        Money.FREE,
        frozenset({"reason"}) | _POINTS,
        gives_points=True,
        takes_points=True,
        activity=N_("Adjustment"),
    ),
    Kind.PIN_FAILED: KindSpec(Money.NONE, frozenset({"pin_locked_until"})),
    Kind.PIN_RESET: KindSpec(Money.NONE),
    # a new PIN the member chose at a kiosk (staff checked who they are): its hash, never the PIN
    Kind.PIN_CHANGED: KindSpec(Money.NONE, frozenset({"pin_hash"}), activity=N_("New PIN")),
    Kind.CHECK_IN: KindSpec(
        Money.NONE, frozenset({"local_day"}) | _POINTS, gives_points=True, visit=True, activity=N_("Check-in")
    ),
    Kind.REFERRAL_REWARD: KindSpec(
        Money.NONE, frozenset({"referee_id"}) | _POINTS, gives_points=True, activity=N_("Referral reward")
    ),
    Kind.SURVEY: KindSpec(Money.NONE, frozenset({"rating", "reasons"})),
    Kind.PURSE_WRITTEN: KindSpec(Money.NONE),
    Kind.REFUND: KindSpec(
        Money.PAID_BACK,
        frozenset({"amount_fen", "payment_ref", "reason"}) | _GIVE_BACK,
        gives_points=True,  # points paid as cash come back (never more than it states)
        takes_points=True,
        activity=N_("Refund"),
    ),
    Kind.VOID: KindSpec(
        Money.PAID_BACK,
        frozenset({"amount_fen", "payment_ref"}) | _GIVE_BACK,
        gives_points=True,
        takes_points=True,
        activity=N_("Purchase voided"),
    ),
    # The member's own change of name, phone or birthday at the kiosk (kiosk/ledger/profile.py):
    # each field set is the new value, one left out is unchanged; points once for a complete profile.
    Kind.PROFILE_UPDATE: KindSpec(
        Money.NONE,
        frozenset({"name", "phone", "birthday"}) | _POINTS,
        gives_points=True,
        member_use=True,
        visit=True,
        activity=N_("Profile updated"),
    ),
    # A voucher given (its id is this txn's id; its value in amount_fen) and one run out unused.
    Kind.VOUCHER_ISSUED: KindSpec(
        Money.NONE,
        frozenset({"amount_fen", "voucher_type", "voucher_min_fen", "voucher_until", "voucher_stores", "reason"}),
        activity=N_("Voucher received"),
    ),
    Kind.VOUCHER_EXPIRED: KindSpec(Money.NONE, frozenset({"voucher_id"}), activity=N_("Voucher expired")),
    # A fee is revenue beside the balance (kiosk/ledger/fees.py): it moves no stored value, and
    # `reason` says what it was for (sign_up, replacement, exchange); SIGN_UP's amount_fen is the fee due.
    Kind.CARD_FEE: KindSpec(
        Money.NONE, frozenset({"amount_fen", "payment_ref", "reason", "staff_id", "waiver"}), activity=N_("Card fee")
    ),
    Kind.CARD_EXCHANGE: KindSpec(
        Money.NONE, frozenset({"new_card_uid", "card_seq", "awaiting_write"}), activity=N_("Card exchanged")
    ),
    # A card made at HQ's counter (awaiting_write) personalised at a kiosk behind the member's PIN,
    # with the card_seq it was written with (kiosk/ledger/card_write.py): the card is the member's now.
    Kind.CARD_WRITTEN: KindSpec(
        Money.NONE, frozenset({"card_seq"}), visit=True, member_use=True, activity=N_("Card activated")
    ),
}

VISITS = frozenset(k for k, s in SPECS.items() if s.visit)
MEMBER_USES = frozenset(k for k, s in SPECS.items() if s.member_use)
SILENT = frozenset(k for k, s in SPECS.items() if s.silent)


def stated_amounts_problem(txn: Txn) -> str:
    """Why a transaction's own amounts contradict its kind ("" when they agree).

    The state moves by the stated before/after difference, so a sender that could state any
    difference could write any balance (a top-up of 100 fen that takes 5,000,000 away). Each kind
    says what its difference must be; only an HQ adjustment may move money by a free amount."""
    delta, points = txn.balance_delta_fen, txn.points_delta
    kind, s = txn.kind, SPECS[txn.kind]
    if s.money is Money.FREE:
        return ""
    if txn.bonus_fen and not s.may_carry_bonus:
        return f"{kind} carries a bonus of {txn.bonus_fen} fen"
    if s.money is Money.OPENS and (txn.balance_before_fen, txn.points_before) != (0, 0):
        return f"{kind} must start at balance 0 and points 0"
    expected = 0
    if s.money is Money.PAID_IN:
        if txn.amount_fen <= 0:
            return f"{kind} of no amount"
        expected = txn.amount_fen + txn.bonus_fen
    elif s.money in (Money.PAID_OUT, Money.PAID_BACK):
        if txn.amount_fen <= 0:
            return f"{kind} of no amount"
        if txn.voucher_kept_fen > txn.amount_fen:
            return f"{kind} keeps {txn.voucher_kept_fen} fen of {txn.amount_fen}"
        back = txn.amount_fen - txn.voucher_kept_fen + txn.voucher_repaid_fen
        expected = -txn.amount_fen if s.money is Money.PAID_OUT else back
    elif s.money is Money.BONUS:
        expected = txn.bonus_fen
    elif s.money is Money.TO_ZERO:
        if txn.balance_after_fen != 0 or txn.points_after != 0:
            return f"{kind} must leave balance 0 and points 0"
        if txn.amount_fen > max(txn.balance_before_fen, 0):
            return f"{kind} refunds {txn.amount_fen} fen of a balance of {txn.balance_before_fen}"
        expected = delta
    if delta != expected:
        return f"{kind} of amount {txn.amount_fen} + bonus {txn.bonus_fen} fen moves the balance by {delta}, not {expected}"
    if points < 0 and not s.takes_points:
        return f"{kind} takes {-points} points"
    if points > 0 and not s.gives_points:
        return f"{kind} gives {points} points"
    return ""


def _not_carried(kind: Kind) -> tuple[tuple[str, ...], Callable[[Txn], tuple], tuple]:
    """The Txn fields a kind may not set, a getter of their values (one call: HQ applies
    thousands of txns a second) and their defaults."""
    allowed = COMMON_FIELDS | SPECS[kind].carries
    foreign = [f for f in fields(Txn) if f.name not in allowed]
    names = tuple(f.name for f in foreign)
    return names, (lambda txn, get=attrgetter(*names): get(txn)), tuple(f.default for f in foreign)


_NOT_CARRIED = {kind: _not_carried(kind) for kind in SPECS}


def carried_problem(txn: Txn) -> str:
    """Why a transaction sets a field its kind may not carry ("" when it sets none). The state
    would ignore such a field, so a sender could slip a voucher, a PIN hash or a new card into a
    kind that never uses it and have HQ store it as if it meant something: refused instead."""
    names, values_of, defaults = _NOT_CARRIED[txn.kind]
    values = values_of(txn)
    if values == defaults:
        return ""
    name = next(n for n, v, d in zip(names, values, defaults, strict=True) if v != d)
    return f"a {txn.kind} transaction may not carry {name}"


def fields_set(txn: Txn) -> frozenset[str]:
    """The fields of a Txn that are not at their default, beyond the common ones."""
    return frozenset(txn_to_dict(txn)) - COMMON_FIELDS
