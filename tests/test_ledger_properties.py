"""Property tests: any sequence of member, staff and HQ operations keeps the ledger's promises."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ledger import charges, vouchers
from kiosk.ledger.codec import state_from_dict, state_to_dict
from kiosk.ledger.kinds import SPECS, fields_set
from kiosk.ledger.model import CardStatus
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.profile import ProfileChange
from kiosk.ledger.sales_rules import FeeRules, RewardStep, StaffRewardRules
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind, txn_from_dict, txn_to_dict

# the sample rules with card fees and sales rewards on (kiosk/ledger/sales_rules.py)
RULES = replace(
    default_rules(),
    fees=FeeRules(3800, 50_000, (), replacement_fee_fen=1000, exchange_fee_fen=500),
    staff_rewards=StaffRewardRules(800, (RewardStep(50_000, 800),)),
)
UIDS = [f"04{i:012X}" for i in range(1, 5)]  # three signed up at the start, one blank
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PIN = "482915"
ORDERS = ["O1", "O2", "O3", "O4"]

_top_up = st.tuples(
    st.just("top_up"),
    st.sampled_from(UIDS),
    st.one_of(st.sampled_from(RULES.topup.presets_fen), st.integers(0, 600_000)),
)
_spend = st.tuples(st.just("spend"), st.sampled_from(UIDS), st.integers(-5, 60_000), st.booleans())
_redeem = st.tuples(
    st.just("redeem"),
    st.sampled_from(UIDS),
    st.sampled_from([r.id for r in RULES.rewards] + ["nope"]),
    st.integers(0, 3),
    st.integers(0, 1200),
)
# One strategy per operation the runner below knows; KIND_OPS says which makes each Kind
# (tests/test_kinds_complete.py fails when a Kind has none).
OPS = {
    "top_up": _top_up,
    "spend": _spend,
    "redeem": _redeem,
    "sign_up": st.tuples(
        st.just("sign_up"), st.sampled_from(UIDS), st.dates(date(1950, 1, 1), date(2008, 12, 31))
    ),
    "gift": st.tuples(st.just("gift"), st.sampled_from(UIDS)),
    "birthday": st.tuples(st.just("birthday"), st.sampled_from(UIDS)),
    "pin": st.tuples(st.just("pin"), st.sampled_from(UIDS), st.booleans()),
    # a new PIN: the same one (later "pin" steps still know it), another, one too simple, too short
    "new_pin": st.tuples(st.just("new_pin"), st.sampled_from(UIDS), st.sampled_from([PIN, "975318", "111111", "12"])),
    "block": st.tuples(st.just("block"), st.sampled_from(UIDS)),
    "unblock": st.tuples(st.just("unblock"), st.sampled_from(UIDS)),
    "replace": st.tuples(st.just("replace"), st.sampled_from(UIDS), st.sampled_from(UIDS)),
    "return": st.tuples(st.just("return"), st.sampled_from(UIDS)),
    "adjust": st.tuples(
        st.just("adjust"), st.sampled_from(UIDS), st.integers(-50_000, 50_000), st.integers(-500, 500)
    ),
    "expire": st.tuples(st.just("expire"), st.sampled_from(UIDS)),
    "wait": st.one_of(
        st.tuples(st.just("wait"), st.integers(1, 60 * 24 * 200)),
        st.tuples(st.just("wait"), st.integers(60 * 20, 60 * 28)),
    ),
    "check_in": st.tuples(st.just("check_in"), st.sampled_from(UIDS)),
    "survey": st.tuples(
        st.just("survey"),
        st.sampled_from(UIDS),
        st.integers(0, 6),
        st.sampled_from(["", "fast_service", "x"]),
    ),
    "referred_sign_up": st.tuples(st.just("referred_sign_up"), st.sampled_from(UIDS), st.sampled_from(UIDS)),
    "referral": st.tuples(st.just("referral"), st.sampled_from(UIDS)),
    "purse": st.tuples(st.just("purse"), st.sampled_from(UIDS), st.integers(0, 12)),
    # a till's order ids and refund ids from small sets, so retries and repeats happen
    "charge": st.tuples(
        st.just("charge"), st.sampled_from(UIDS), st.integers(-5, 60_000), st.booleans(), st.sampled_from(ORDERS)
    ),
    "refund": st.tuples(
        st.just("refund"), st.sampled_from(ORDERS), st.integers(-5, 30_000), st.sampled_from(["R1", "R2", "R3"])
    ),
    "void": st.tuples(st.just("void"), st.sampled_from(ORDERS)),
    "profile": st.tuples(
        st.just("profile"),
        st.sampled_from(UIDS),
        st.sampled_from(["", "王芳", "会员"]),
        st.one_of(st.none(), st.dates(date(1950, 1, 1), date(2008, 12, 31))),
    ),
    # vouchers and points as cash: a voucher of a type (HQ's campaign), the gifts and expiries
    # due, a charge with the member's n-th usable voucher (or a used one) and a share of the points
    "issue": st.tuples(st.just("issue"), st.sampled_from(UIDS), st.sampled_from(["welcome10", "thanks5", "winback20"])),
    "vouchers": st.tuples(st.just("vouchers"), st.sampled_from(UIDS)),
    "charge_v": st.tuples(
        st.just("charge_v"), st.sampled_from(UIDS), st.one_of(st.integers(-5, 60_000), st.integers(2_990, 12_000)),
        st.booleans(), st.sampled_from(ORDERS),
        st.sampled_from([-1, 0, 0, 1]), st.integers(0, 4),
    ),
    "fee": st.tuples(st.just("fee"), st.sampled_from(UIDS), st.sampled_from([3799, 3800, 10_000, 49_999, 50_000])),
    "counter_fee": st.tuples(st.just("counter_fee"), st.sampled_from(UIDS), st.sampled_from(["replacement", "exchange"])),
    "exchange": st.tuples(st.just("exchange"), st.sampled_from(UIDS), st.sampled_from(UIDS)),
    # a kiosk personalised a card made at HQ's counter (refused for a card not waiting)
    "card_written": st.tuples(st.just("card_written"), st.sampled_from(UIDS)),
}
_WEIGHTS = {"top_up": 3, "spend": 2, "redeem": 3, "wait": 2, "check_in": 2, "charge": 2, "refund": 2, "charge_v": 4, "issue": 3}
op = st.one_of([strategy for name, strategy in OPS.items() for _ in range(_WEIGHTS.get(name, 1))])
KIND_OPS = {
    Kind.SIGN_UP: "sign_up",
    Kind.NEW_MEMBER_GIFT: "gift",
    Kind.TOP_UP: "top_up",
    Kind.SPEND: "spend",
    Kind.REDEMPTION: "redeem",
    Kind.BIRTHDAY_GIFT: "birthday",
    Kind.POINTS_EXPIRY: "expire",
    Kind.CARD_REPLACEMENT: "replace",
    Kind.CARD_RETURN: "return",
    Kind.CARD_BLOCKED: "block",
    Kind.CARD_UNBLOCKED: "unblock",
    Kind.ADJUSTMENT: "adjust",
    Kind.PIN_FAILED: "pin",
    Kind.PIN_RESET: "pin",
    Kind.PIN_CHANGED: "new_pin",
    Kind.CHECK_IN: "check_in",
    Kind.REFERRAL_REWARD: "referral",
    Kind.SURVEY: "survey",
    Kind.PURSE_WRITTEN: "purse",
    Kind.REFUND: "refund",
    Kind.VOID: "void",
    Kind.PROFILE_UPDATE: "profile",
    Kind.VOUCHER_ISSUED: "issue",
    Kind.VOUCHER_EXPIRED: "vouchers",
    Kind.CARD_FEE: "fee",
    Kind.CARD_EXCHANGE: "exchange",
    Kind.CARD_WRITTEN: "card_written",
}
ops_strategy = st.lists(op, min_size=25, max_size=80).map(
    lambda ops: [("sign_up", uid, date(1990, 3, 4)) for uid in UIDS[:3]] + ops
)


def run(ops: list[tuple]) -> tuple[Ledger, list, LedgerState, int]:
    """Run ops; return the ledger, the journal, and a snapshot taken part-way (with its index)."""
    ledger = Ledger(LedgerState(), RULES, "kiosk-1", b"pepper", FAST_FOR_TESTS)
    journal, now = [], START
    snapshot, snapshot_at = ledger.state.copy(), 0
    for i, (name, *args) in enumerate(ops):
        if i == len(ops) // 2:
            snapshot, snapshot_at = ledger.state.copy(), len(journal)
        if name == "wait":
            now += timedelta(minutes=args[0])
            continue
        before = state_to_dict(ledger.state)
        try:
            txn = decide(ledger, name, args, now)
        except Refused:
            assert state_to_dict(ledger.state) == before, f"refused {name} changed the state"
            continue
        if txn is None:
            continue
        assert state_to_dict(ledger.state) == before, f"deciding {name} changed the state"
        assert fields_set(txn) <= SPECS[txn.kind].carries, f"{txn.kind} sets {fields_set(txn)}"
        result = ledger.apply(txn)
        assert result.applied and not result.conflict, result
        journal.append(txn)
    return ledger, journal, snapshot, snapshot_at


def decide(ledger: Ledger, name: str, args: list, now: datetime):
    if name == "sign_up":
        uid, birthday = args
        return ledger.sign_up(
            uid, 1, f"138{int(uid, 16) % 10**8:08d}", PIN, now, "会员", birthday, salt=b"s" * 16, staff_id="S-1"
        )
    if name == "referred_sign_up":
        uid, referrer_uid = args
        referrer = ledger.state.cards.get(referrer_uid)
        code = ledger.referral_code(referrer.member_id) if referrer else "NOCODE22"
        return ledger.sign_up(uid, 1, f"139{int(uid, 16) % 10**8:08d}", PIN, now, referral_code=code)
    if name == "referral":
        return ledger.referral_reward(args[0], now)
    if name == "check_in":
        return ledger.check_in(args[0], now)
    if name == "survey":
        uid, rating, reason = args
        return ledger.survey(uid, rating, (reason,) if reason else (), now)
    if name == "gift":
        return ledger.new_member_gift(args[0], now)
    if name == "birthday":
        return ledger.birthday_gift(args[0], now)
    if name == "top_up":
        return ledger.top_up(args[0], args[1], "pay-ref", now, staff_id="S-2" if args[1] % 2 else "")
    if name == "spend":
        return ledger.spend(args[0], args[1], now, pin_verified=args[2])
    if name == "redeem":
        uid, reward, quantity, points = args
        return ledger.redeem(uid, reward, now, quantity=quantity, points=points, pin_verified=True)
    if name == "pin":
        _, txn = ledger.check_pin(args[0], PIN if args[1] else "000001", now)
        return txn
    if name == "new_pin":
        return ledger.change_pin(args[0], args[1], now, salt=b"n" * 16)
    if name == "block":
        return ledger.block_card(args[0], "lost", now)
    if name == "unblock":
        return ledger.unblock_card(args[0], "found", now)
    if name == "replace":
        return ledger.replace_card(args[0], args[1], now)
    if name == "return":
        return ledger.return_card(args[0], now)
    if name == "adjust":
        return ledger.adjust(args[0], args[1], args[2], "HQ correction", now)
    if name == "expire":
        return ledger.expire_points(args[0], now)
    if name == "purse":
        return ledger.purse_written(args[0], args[1], now)
    if name == "charge":
        uid, amount, discount, order = args
        return charges.charge(ledger, uid, f"T1:{order}", amount, discount, now, pin_verified=True)
    if name == "refund":
        order, amount, refund_id = args
        return charges.refund(ledger, f"T1:{order}", refund_id, amount, now)
    if name == "void":
        return charges.void(ledger, f"T1:{args[0]}", now)
    if name == "profile":
        uid, new_name, birthday = args
        return ledger.update_profile(uid, ProfileChange(new_name, "", birthday), now, pin_verified=True)
    if name == "issue":
        card = ledger.state.cards.get(args[0])
        return vouchers.issue(ledger, card.member_id if card else "M-none", args[1], now, "campaign:test")
    if name == "vouchers":
        return vouchers.next_due(ledger, args[0], now)
    if name == "charge_v":
        return _charge_with_voucher(ledger, now, *args)
    if name == "fee":
        return ledger.settle_card_fee(args[0], args[1], "pay-ref", now, staff_id="S-1")[0]
    if name == "counter_fee":
        return ledger.counter_fee(args[0], args[1], "counter", now)
    if name == "exchange":
        return ledger.exchange_card(args[0], args[1], now)
    if name == "card_written":
        return ledger.card_written(args[0], now)
    raise AssertionError(name)


def _charge_with_voucher(ledger: Ledger, now: datetime, uid, amount, discount, order, pick, points_quarters):
    """A charge with the member's `pick`-th voucher (-1: one already used or run out, if any)
    and `points_quarters` quarters of the most points the order takes."""
    found = ledger.state.card_account(uid)
    held = found[2].vouchers if found else ()
    usable = vouchers.valid(found[2], now, "") if found else ()
    if pick < 0:
        voucher_id = next((v.id for v in held if v not in usable), "")
    else:
        voucher_id = usable[pick].id if pick < len(usable) else ""
    key = f"T1:{order}"
    try:
        q = charges.quote(ledger, uid, key, amount, discount, now, voucher_id)
    except Refused:
        q = None
    points = 0
    if q is not None:
        points = q.most_points * points_quarters // 4
        points -= points % q.points_step
    return charges.charge(ledger, uid, key, amount, discount, now, pin_verified=True, voucher_id=voucher_id, points=points)


def replay(state: LedgerState, journal: list) -> LedgerState:
    for txn in journal:
        state.apply(txn)
    return state


# KIOSK_FULL=1 runs the long campaign; the default keeps the suite quick on two cores.
EXAMPLES = 1000 if os.environ.get("KIOSK_FULL") else 150
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ops_strategy)
def test_balance_is_snapshot_plus_journal(ops):
    ledger, journal, snapshot, k = run(ops)
    for member_id, account in ledger.state.accounts.items():
        start = snapshot.accounts[member_id].balance_fen if member_id in snapshot.accounts else 0
        deltas = sum(t.balance_delta_fen for t in journal[k:] if t.member_id == member_id)
        assert account.balance_fen == start + deltas
        points_start = snapshot.accounts[member_id].points if member_id in snapshot.accounts else 0
        assert account.points == points_start + sum(
            t.points_delta for t in journal[k:] if t.member_id == member_id
        )


@SETTINGS
@given(ops_strategy)
def test_points_and_balance_never_negative_and_stock_never_exceeded(ops):
    ledger, journal, _, _ = run(ops)
    for account in ledger.state.accounts.values():
        assert account.points >= 0
        assert account.balance_fen >= 0
        assert 0 <= account.bonus_fen <= account.balance_fen
        assert all(lot.points > 0 for lot in account.lots)
    for reward in RULES.rewards:
        redeemed = sum(t.quantity for t in journal if t.kind is Kind.REDEMPTION and t.reward_id == reward.id)
        assert redeemed <= reward.stock
        assert ledger.state.stock[reward.id] == reward.stock - redeemed


@SETTINGS
@given(ops_strategy)
def test_replay_rebuilds_the_same_state_and_duplicates_are_no_ops(ops):
    ledger, journal, snapshot, k = run(ops)
    stock = {r.id: r.stock for r in RULES.rewards}
    assert replay(LedgerState(stock=dict(stock)), journal) == ledger.state
    assert replay(snapshot.copy(), journal[k:]) == ledger.state
    # Applying the whole journal again, or any part of it, changes nothing.
    again = ledger.state.copy()
    for txn in journal:
        assert not again.apply(txn).applied
    assert again == ledger.state


@SETTINGS
@given(ops_strategy)
def test_journal_and_snapshot_survive_their_codecs(ops):
    ledger, journal, _, _ = run(ops)
    for txn in journal:
        assert txn_from_dict(json.loads(json.dumps(txn_to_dict(txn)))) == txn
    assert state_from_dict(json.loads(json.dumps(state_to_dict(ledger.state)))) == ledger.state


@SETTINGS
@given(ops_strategy)
def test_money_out_never_exceeds_money_in(ops):
    """Refunds and spending never exceed what was paid plus what the rules gave: no bonus farming."""
    ledger, journal, _, _ = run(ops)
    for member_id in ledger.state.accounts:
        txns = [t for t in journal if t.member_id == member_id]
        paid = sum(t.amount_fen for t in txns if t.kind is Kind.TOP_UP)
        refunded = sum(t.amount_fen for t in txns if t.kind is Kind.CARD_RETURN)
        spent = sum(t.amount_fen for t in txns if t.kind is Kind.SPEND) - sum(
            t.amount_fen for t in txns if t.kind in (Kind.REFUND, Kind.VOID)
        )
        adjusted = sum(t.balance_delta_fen for t in txns if t.kind is Kind.ADJUSTMENT)
        assert refunded <= max(0, paid - spent + adjusted) or refunded == 0
        for t in txns:
            if t.kind is Kind.CARD_RETURN:
                assert t.amount_fen <= t.balance_before_fen


@SETTINGS
@given(ops_strategy)
def test_only_active_cards_move_money(ops):
    ledger, journal, _, _ = run(ops)
    live = {}
    for t in journal:
        if t.kind in (Kind.TOP_UP, Kind.SPEND, Kind.REDEMPTION):
            assert live.get(t.card_uid, CardStatus.ACTIVE) is CardStatus.ACTIVE
        if t.kind is Kind.CARD_BLOCKED:
            live[t.card_uid] = CardStatus.BLOCKED
        elif t.kind is Kind.CARD_UNBLOCKED:
            live[t.card_uid] = CardStatus.ACTIVE
        elif t.kind is Kind.CARD_REPLACEMENT:
            live[t.card_uid] = CardStatus.REPLACED
        elif t.kind is Kind.CARD_RETURN:
            live[t.card_uid] = CardStatus.RETURNED


@SETTINGS
@given(ops_strategy)
def test_referral_and_check_in_rewards_are_given_once(ops):
    ledger, journal, _, _ = run(ops)
    rewards = [(t.member_id, t.referee_id) for t in journal if t.kind is Kind.REFERRAL_REWARD]
    assert len(rewards) == len(set(rewards))
    days = [(t.member_id, t.local_day) for t in journal if t.kind is Kind.CHECK_IN]
    assert len(days) == len(set(days))


@SETTINGS
@given(ops_strategy)
def test_card_card_counters_only_rise_and_keep_the_highest_written(ops):
    _, journal, _, _ = run(ops)
    state, highest = LedgerState(), {}
    for txn in journal:
        before = {uid: card.card_counter for uid, card in state.cards.items()}
        state.apply(txn)
        assert all(state.cards[uid].card_counter >= n for uid, n in before.items())
        if txn.kind is Kind.PURSE_WRITTEN:
            highest[txn.card_uid] = max(highest.get(txn.card_uid, 0), txn.card_counter)
    assert {uid: card.card_counter for uid, card in state.cards.items() if card.card_counter} == highest


@SETTINGS
@given(ops_strategy, st.integers(1, 11))
def test_a_txn_made_with_an_older_copy_of_the_card_is_applied_and_flagged(ops, lower):
    """HQ learns of a copy used offline elsewhere: the money still moves, the conflict says why."""
    ledger, _, _, _ = run(ops)
    uid = next((u for u, c in ledger.state.cards.items() if c.status is CardStatus.ACTIVE), None)
    if uid is None:
        return
    seen = ledger.purse_written(uid, 12, START + timedelta(days=400))
    if seen is not None:
        ledger.apply(seen)
    txn = replace(ledger.adjust(uid, 100, 0, "test", START + timedelta(days=400)), card_counter=lower)
    balance = ledger.state.accounts[txn.member_id].balance_fen
    result = ledger.apply(txn)
    assert result.applied and "a copy of the card" in result.conflict
    assert ledger.state.cards[uid].card_counter == 12
    assert ledger.state.accounts[txn.member_id].balance_fen == balance + 100
