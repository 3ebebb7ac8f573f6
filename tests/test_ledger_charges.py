"""Charges for a till's order, refunds and voids (kiosk/ledger/charges.py, orders.py): worked
examples at each rule's edge (exactly the limit, one fen over, zero) and properties: never more
refunded than paid, never more points taken back than earned, a full refund undoes the charge."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger import charges
from kiosk.ledger.codec import decode, encode
from kiosk.ledger.model import Account
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Kind
from tests.test_vouchers import JOINED as VOUCHER_JOINED
from tests.test_vouchers import UID as VOUCHER_UID
from tests.test_vouchers import _charge as voucher_charge
from tests.test_vouchers import _ledger as voucher_ledger
from tests.test_vouchers import _welcome as welcome

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CARD, OTHER = "04A1B2C3D4E5F6", "04FFEEDDCCBBAA"
PIN = "482915"


def make(balance_fen: int = 100_000) -> Ledger:
    ledger = Ledger(LedgerState(), default_rules(), "store1-k1", b"pepper", FAST_FOR_TESTS)
    do(ledger, ledger.sign_up(CARD, 1, "13800138000", PIN, NOW, "王芳"))
    if balance_fen:
        do(ledger, ledger.top_up(CARD, balance_fen, "p1", NOW))
    return ledger


def do(ledger: Ledger, txn):
    result = ledger.apply(txn)
    assert result.applied and not result.conflict, result
    return txn


def refused(code: str, call, *args, **kwargs) -> Refused:
    with pytest.raises(Refused) as err:
        call(*args, **kwargs)
    assert err.value.code == code
    return err.value


def account(ledger: Ledger):
    return ledger.state.accounts[ledger.state.cards[CARD].member_id]


# -- the charge --------------------------------------------------------------------------------


def test_discount_applied_by_the_kiosk_or_already_applied_by_the_till():
    ledger = make(500_000)  # ¥5,000 in 12 months: gold, 95%
    q = charges.quote(ledger, CARD, "T1:A1", 12_800, True, NOW)
    assert (q.tier_id, q.discount_fen, q.amount_fen) == ("gold", 640, 12_160)
    assert q.balance_after_fen == q.balance_before_fen - 12_160 == account(ledger).balance_fen - 12_160
    q = charges.quote(ledger, CARD, "T1:A1", 12_800, False, NOW)
    assert (q.discount_fen, q.amount_fen) == (0, 12_800)


def test_discount_rounds_in_the_members_favour():
    ledger = make(500_000)
    assert charges.quote(ledger, CARD, "T1:A1", 19, True, NOW).amount_fen == 18  # 18.05 -> 18
    refused("amount_out_of_range", charges.quote, ledger, CARD, "T1:A1", 1, True, NOW)  # 0.95 -> 0


def test_charge_carries_the_order_key_and_earns_points_with_the_tier():
    ledger = make(500_000)
    txn = do(ledger, charges.charge(ledger, CARD, "T1:A1", 12_800, True, NOW))
    assert (txn.kind, txn.payment_ref, txn.amount_fen, txn.points_delta) == (Kind.SPEND, "T1:A1", 12_160, 121 * 150 // 100)
    order = account(ledger).order("T1:A1")
    assert (order.paid_fen, order.points_earned, order.balance_after_fen) == (12_160, 181, txn.balance_after_fen)
    assert charges.find_order(ledger.state, "T1:A1") == (txn.member_id, order)


def test_charge_exactly_the_balance_one_fen_over_and_zero():
    ledger = make(10_000)
    err = refused("insufficient_balance", charges.charge, ledger, CARD, "T1:A1", 10_001, False, NOW)
    assert err.detail == "10000"  # the balance, for the screen and the till
    refused("amount_out_of_range", charges.charge, ledger, CARD, "T1:A1", 0, False, NOW)
    refused("amount_out_of_range", charges.charge, ledger, CARD, "T1:A1", -1, False, NOW)
    assert do(ledger, charges.charge(ledger, CARD, "T1:A1", 10_000, False, NOW)).balance_after_fen == 0


def test_pin_exactly_at_the_threshold_and_one_fen_over():
    ledger = make()
    threshold = ledger.rules.pin.spend_threshold_fen
    assert not charges.quote(ledger, CARD, "T1:A1", threshold, False, NOW).pin_required
    assert charges.quote(ledger, CARD, "T1:A1", threshold + 1, False, NOW).pin_required
    charges.charge(ledger, CARD, "T1:A1", threshold, False, NOW)
    refused("pin_required", charges.charge, ledger, CARD, "T1:A1", threshold + 1, False, NOW)
    charges.charge(ledger, CARD, "T1:A1", threshold + 1, False, NOW, pin_verified=True)


def test_discounted_amount_decides_the_pin():
    ledger = make(500_000)  # gold 95%: 21,052 -> 19,999 after the discount, under the threshold
    assert not charges.quote(ledger, CARD, "T1:A1", 21_052, True, NOW).pin_required
    assert charges.quote(ledger, CARD, "T1:A1", 21_052, False, NOW).pin_required


def test_offline_limit_exactly_and_one_fen_over():
    ledger = make()
    policy = ledger.rules.offline
    long = timedelta(hours=policy.after_hours) + timedelta(seconds=1)
    limit = policy.max_spend_fen_per_card
    charges.charge(ledger, CARD, "T1:A1", 5_000, False, NOW, offline_for=long, offline_spent_fen=limit - 5_000)
    refused(
        "offline_limit", charges.charge, ledger, CARD, "T1:A1", 5_001, False, NOW,
        offline_for=long, offline_spent_fen=limit - 5_000,
    )
    # not yet past the grace hours: no limit
    charges.charge(
        ledger, CARD, "T1:A1", 5_001, False, NOW,
        offline_for=timedelta(hours=policy.after_hours), offline_spent_fen=limit - 5_000,
    )


@pytest.mark.parametrize("stop", ["block_card", "return_card"])
def test_stopped_cards_are_refused(stop):
    ledger = make()
    do(ledger, getattr(ledger, stop)(CARD, "lost", NOW) if stop == "block_card" else ledger.return_card(CARD, NOW))
    code = "card_blocked" if stop == "block_card" else "card_returned"
    refused(code, charges.charge, ledger, CARD, "T1:A1", 100, False, NOW)


def test_replaced_card_is_refused_and_unknown_card_too():
    ledger = make()
    do(ledger, ledger.replace_card(CARD, OTHER, NOW))
    refused("card_replaced", charges.charge, ledger, CARD, "T1:A1", 100, False, NOW)
    refused("unknown_card", charges.charge, ledger, "04000000000001", "T1:A1", 100, False, NOW)


def test_an_order_key_is_charged_once():
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 100, False, NOW))
    refused("order_already_charged", charges.charge, ledger, CARD, "T1:A1", 100, False, NOW)
    do(ledger, charges.charge(ledger, CARD, "T2:A1", 100, False, NOW))  # another till's A1


@pytest.mark.parametrize("key", ["", ":A1", "T1:A 1", "T1:" + "x" * 150, "T1:订单"])
def test_bad_order_keys_are_refused(key):
    refused("bad_order_id", charges.charge, make(), CARD, key, 100, False, NOW)


# -- refunds and voids -----------------------------------------------------------------------


def test_partial_refunds_return_money_and_points_in_proportion_never_more():
    ledger = make(500_000)
    start = account(ledger)
    charge = do(ledger, charges.charge(ledger, CARD, "T1:A1", 20_000, False, NOW))
    earned = charge.points_delta  # 200 fen/point x1.5 = 300
    r1 = do(ledger, charges.refund(ledger, "T1:A1", "R1", 5_000, NOW))
    assert (r1.kind, r1.amount_fen, r1.balance_delta_fen, -r1.points_delta) == (Kind.REFUND, 5_000, 5_000, earned // 4)
    refused("refund_already_made", charges.refund, ledger, "T1:A1", "R1", 1, NOW)
    err = refused("refund_too_large", charges.refund, ledger, "T1:A1", "R2", 15_001, NOW)
    assert err.detail == "15000"
    refused("amount_out_of_range", charges.refund, ledger, "T1:A1", "R2", 0, NOW)
    do(ledger, charges.refund(ledger, "T1:A1", "R2", 15_000, NOW))  # exactly what is left
    order = account(ledger).order("T1:A1")
    assert (order.refunded_fen, order.points_reversed) == (20_000, earned)
    refused("refund_too_large", charges.refund, ledger, "T1:A1", "R3", 1, NOW)
    assert (account(ledger).balance_fen, account(ledger).points) == (start.balance_fen, start.points)


def test_void_same_day_undoes_the_charge_entirely():
    ledger = make()
    before = account(ledger)
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 3_000, False, NOW))
    txn = do(ledger, charges.void(ledger, "T1:A1", NOW + timedelta(hours=5)))
    after = account(ledger)
    assert (txn.kind, after.balance_fen, after.points, after.bonus_fen) == (
        Kind.VOID, before.balance_fen, before.points, before.bonus_fen
    )
    assert after.lifetime_spend_fen == before.lifetime_spend_fen
    refused("order_voided", charges.void, ledger, "T1:A1", NOW)
    refused("order_voided", charges.refund, ledger, "T1:A1", "R1", 1, NOW)


def test_void_on_the_next_local_day_or_after_a_refund_is_refused():
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 3_000, False, NOW))
    midnight = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 on the 24th in Shanghai
    charges.void(ledger, "T1:A1", midnight - timedelta(seconds=1))
    refused("void_too_late", charges.void, ledger, "T1:A1", midnight)
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 1, NOW))
    refused("order_refunded", charges.void, ledger, "T1:A1", NOW)


def test_unknown_order_is_refused():
    refused("unknown_order", charges.refund, make(), "T1:NOPE", "R1", 1, NOW)
    refused("unknown_order", charges.void, make(), "T1:NOPE", NOW)


def test_refund_of_bonus_credit_goes_back_as_bonus_not_refundable_money():
    ledger = make(0)
    do(ledger, ledger.top_up(CARD, 50_000, "p", NOW))  # ¥500 earns a bonus in the sample rules
    bonus = account(ledger).bonus_fen
    assert bonus > 0
    whole = account(ledger).balance_fen
    do(ledger, charges.charge(ledger, CARD, "T1:A1", whole, False, NOW, pin_verified=True))
    do(ledger, charges.refund(ledger, "T1:A1", "R1", whole, NOW))
    assert (account(ledger).balance_fen, account(ledger).bonus_fen) == (whole, bonus)
    assert ledger.return_card(CARD, NOW).amount_fen == 50_000  # not the bonus too


def test_the_state_refuses_a_refund_larger_than_the_charge_from_any_sender():
    """HQ applies the same check: a kiosk stating a refund beyond the charge moves nothing."""
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    txn = charges.refund(ledger, "T1:A1", "R1", 1_000, NOW)
    forged = replace(txn, amount_fen=1_001, balance_after_fen=txn.balance_after_fen + 1)
    before = account(ledger)
    result = ledger.apply(forged)
    assert result.refused and "left to refund" in result.conflict
    assert account(ledger) == before
    again = replace(charges.refund(ledger, "T1:A1", "R1", 600, NOW))
    do(ledger, again)
    twice = replace(again, seq=again.seq + 1, txn_id=f"store1-k1:{again.seq + 1}")
    assert ledger.apply(twice).refused  # the same refund id


# -- properties --------------------------------------------------------------------------------

_steps = st.lists(
    st.one_of(
        st.tuples(st.just("charge"), st.sampled_from(["A", "B"]), st.integers(1, 40_000)),
        st.tuples(st.just("refund"), st.sampled_from(["A", "B"]), st.integers(-2, 40_000), st.sampled_from("xyz")),
        st.tuples(st.just("void"), st.sampled_from(["A", "B"])),
        st.tuples(st.just("redeem")),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(_steps, st.integers(1_000, 300_000))
def test_never_more_refunded_than_paid_nor_points_taken_than_earned(steps, top_up):
    ledger = make(top_up)
    made = []
    for name, order, *args in [(s[0], *(s[1:] or ("A",))) for s in steps]:
        key = f"T1:{order}"
        try:
            if name == "charge":
                txn = charges.charge(ledger, CARD, key, args[0], True, NOW, pin_verified=True)
            elif name == "refund":
                txn = charges.refund(ledger, key, args[1], args[0], NOW)
            elif name == "void":
                txn = charges.void(ledger, key, NOW)
            else:
                txn = ledger.redeem(CARD, "coffee", NOW, pin_verified=True)
        except Refused:
            continue
        do(ledger, txn)
        made.append(txn)
    for order in ("T1:A", "T1:B"):
        paid = [t for t in made if t.kind is Kind.SPEND and t.payment_ref == order]
        back = [t for t in made if t.kind in (Kind.REFUND, Kind.VOID) and t.payment_ref == order]
        assert len(paid) <= 1
        paid_fen = sum(t.amount_fen for t in paid)
        assert sum(t.amount_fen for t in back) <= paid_fen
        assert sum(-t.points_delta for t in back) <= sum(t.points_delta for t in paid)
        if back and sum(t.amount_fen for t in back) == paid_fen:
            kept = account(ledger).order(order)
            assert kept.points_reversed == kept.points_earned
    a = account(ledger)
    assert a.balance_fen >= 0 and 0 <= a.bonus_fen <= a.balance_fen


def test_orders_and_refunds_survive_the_snapshot_codec():
    from kiosk.ledger.codec import state_from_dict, state_to_dict

    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 3_000, False, NOW))
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 1_000, NOW))
    do(ledger, charges.charge(ledger, CARD, "T1:A2", 500, False, NOW))
    do(ledger, charges.void(ledger, "T1:A2", NOW))
    again = state_from_dict(json.loads(json.dumps(state_to_dict(ledger.state))))
    assert again == ledger.state
    kept = account(ledger).order("T1:A1")
    assert kept.refund("R1").amount_fen == 1_000 and account(ledger).order("T1:A2").refund("void") is not None


# -- edges found by mutation testing (mutmut over charges.py / orders.py) ------------------------


def test_order_key_is_the_till_and_its_order_id():
    assert charges.order_key("T1", "A1") == "T1:A1"
    err = refused("bad_order_id", charges.order_key, "T1", "A 1")
    assert err.detail == charges.KEY_HINT


def test_one_fen_and_the_largest_amount_are_in_range():
    ledger = make()
    q = charges.quote(ledger, CARD, "T1:A1", 1, False, NOW)
    assert (q.order_key, q.total_fen, q.discount_fen, q.amount_fen) == ("T1:A1", 1, 0, 1)
    err = refused("insufficient_balance", charges.quote, ledger, CARD, "T1:A1", charges.MAX_FEN, False, NOW)
    assert err.detail == str(account(ledger).balance_fen)  # the balance (with the top-up's bonus)
    for bad in (0, charges.MAX_FEN + 1, "100", 100.0, True):
        err = refused("amount_out_of_range", charges.quote, ledger, CARD, "T1:A1", bad, False, NOW)
        assert err.detail == f"1..{charges.MAX_FEN} fen"


def test_refusal_details_name_the_key_and_the_hint():
    ledger = make()
    assert refused("bad_order_id", charges.quote, ledger, CARD, "T1:A 1", 100, False, NOW).detail == charges.KEY_HINT
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 100, False, NOW))
    assert refused("order_already_charged", charges.quote, ledger, CARD, "T1:A1", 100, False, NOW).detail == "T1:A1"
    err = refused("amount_out_of_range", charges.quote, make(500_000), CARD, "T1:A2", 1, True, NOW)
    assert "discount" in err.detail


def test_quote_shows_the_points_the_charge_earns():
    ledger = make(500_000)
    before = account(ledger).points
    q = charges.quote(ledger, CARD, "T1:A1", 12_800, True, NOW)
    txn = do(ledger, charges.charge(ledger, CARD, "T1:A1", 12_800, True, NOW))
    assert q.points_earned == txn.points_delta == 181
    assert q.points_after == before + 181 == account(ledger).points


def test_no_points_on_a_charge_when_the_rules_say_so():
    ledger = make(500_000)
    ledger.rules = replace(ledger.rules, points=replace(ledger.rules.points, earn_on_spend=False))
    q = charges.quote(ledger, CARD, "T1:A1", 12_800, True, NOW)
    assert (q.points_earned, q.points_after) == (0, account(ledger).points)


def test_offline_limit_exactly_with_nothing_spent_before():
    ledger = make(500_000)
    policy = ledger.rules.offline
    long = timedelta(hours=policy.after_hours) + timedelta(seconds=1)
    limit = policy.max_spend_fen_per_card
    charges.charge(ledger, CARD, "T1:A1", limit, False, NOW, pin_verified=True, offline_for=long)
    refused("offline_limit", charges.charge, ledger, CARD, "T1:A1", limit + 1, False, NOW, pin_verified=True, offline_for=long)


@pytest.mark.parametrize("bad", ["void", "R 1", "", None])
def test_bad_refund_ids_are_refused_with_the_hint(bad):
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    err = refused("bad_refund_id", charges.refund, ledger, "T1:A1", bad, 100, NOW)
    assert err.detail == charges.KEY_HINT + ', not "void"'


@pytest.mark.parametrize("bad", ["100", 1.5, True, 0, -1])
def test_refund_amounts_out_of_range_show_what_is_left(bad):
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 400, NOW))
    err = refused("amount_out_of_range", charges.refund, ledger, "T1:A1", "R2", bad, NOW)
    assert err.detail == "1..600 fen"


def test_refund_and_void_refusals_name_the_order_and_refund():
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 400, NOW))
    assert refused("refund_already_made", charges.refund, ledger, "T1:A1", "R1", 1, NOW).detail == "R1"
    assert refused("order_refunded", charges.void, ledger, "T1:A1", NOW).detail == "T1:A1"
    do(ledger, charges.charge(ledger, CARD, "T1:A2", 1_000, False, NOW))
    err = refused("void_too_late", charges.void, ledger, "T1:A2", NOW + timedelta(days=1))
    assert "refund" in err.detail
    do(ledger, charges.void(ledger, "T1:A2", NOW))
    assert refused("order_voided", charges.refund, ledger, "T1:A2", "R1", 1, NOW).detail == "T1:A2"
    assert refused("order_voided", charges.void, ledger, "T1:A2", NOW).detail == "T1:A2"


def test_unknown_order_detail_is_the_key_cut_to_150():
    ledger = make()
    long = "T1:" + "x" * 200
    assert refused("unknown_order", charges.refund, ledger, "T1:NOPE", "R1", 1, NOW).detail == "T1:NOPE"
    assert refused("unknown_order", charges.refund, ledger, long, "R1", 1, NOW).detail == long[:150]
    assert refused("unknown_order", charges.void, ledger, None, NOW).detail == ""


def test_refund_to_a_blocked_card_and_to_a_member_with_no_card_left():
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    do(ledger, charges.charge(ledger, CARD, "T1:A2", 1_000, False, NOW))
    before = account(ledger).balance_fen
    do(ledger, ledger.block_card(CARD, "lost", NOW))
    txn = do(ledger, charges.refund(ledger, "T1:A1", "R1", 1_000, NOW))
    assert (txn.card_uid, account(ledger).balance_fen) == (CARD, before + 1_000)
    member_id = account(ledger).member_id
    ledger2 = make()
    do(ledger2, charges.charge(ledger2, CARD, "T1:A1", 1_000, False, NOW))
    do(ledger2, ledger2.return_card(CARD, NOW))
    err = refused("member_closed", charges.refund, ledger2, "T1:A1", "R1", 1_000, NOW)
    assert err.detail == account(ledger2).member_id and member_id


def test_the_refund_record_keeps_the_points_taken_back():
    ledger = make(500_000)
    earned = do(ledger, charges.charge(ledger, CARD, "T1:A1", 20_000, False, NOW)).points_delta
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 5_000, NOW))
    assert account(ledger).order("T1:A1").refund("R1").points_back == earned // 4 > 0


def test_a_top_up_payment_reference_is_not_a_till_order():
    ledger = make()  # topped up with payment reference "p1"
    refused("unknown_order", charges.refund, ledger, "p1", "R1", 1, NOW)
    refused("unknown_order", charges.void, ledger, "p1", NOW)


def test_bonus_goes_back_rounded_up_across_partial_refunds():
    ledger = make(0)
    do(ledger, ledger.top_up(CARD, 50_000, "p", NOW))
    bonus = account(ledger).bonus_fen
    whole = account(ledger).balance_fen
    do(ledger, charges.charge(ledger, CARD, "T1:A1", whole, False, NOW, pin_verified=True))
    assert account(ledger).bonus_fen == 0
    got = 0
    for i, part in enumerate((333, 333, 777)):
        got += part
        do(ledger, charges.refund(ledger, "T1:A1", f"R{i}", part, NOW))
        assert account(ledger).bonus_fen == -(-bonus * got // whole), (i, bonus, whole)
        assert isinstance(account(ledger).bonus_fen, int)


def test_the_state_refuses_forged_refunds_and_voids():
    """HQ applies these checks: a kiosk stating more than the order allows moves nothing."""
    ledger = make(500_000)
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    do(ledger, charges.charge(ledger, CARD, "T1:A2", 20_000, False, NOW))
    do(ledger, charges.charge(ledger, CARD, "T1:A3", 1_000, False, NOW))
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 600, NOW))
    before = account(ledger)

    txn = charges.refund(ledger, "T1:A1", "R2", 400, NOW)
    result = ledger.apply(replace(txn, amount_fen=401, balance_after_fen=txn.balance_after_fen + 1))
    assert result.refused and "only 400 fen of it is left" in result.conflict

    txn = charges.refund(ledger, "T1:A1", "R2", 400, NOW)
    assert ledger.apply(replace(txn, reason="void")).refused  # a refund under the void's id

    txn = charges.refund(ledger, "T1:A2", "R1", 5_000, NOW)
    assert ledger.apply(replace(txn, points_after=txn.points_after - 1)).refused  # one point too many back

    void = charges.void(ledger, "T1:A3", NOW)
    short = replace(void, amount_fen=999, balance_after_fen=void.balance_after_fen - 1, points_after=void.points_before)
    result = ledger.apply(short)  # 999 of 1,000 fen, no points back: still not a whole void
    assert result.refused and "must return all 1000 fen" in result.conflict
    assert account(ledger) == before


def test_a_refund_may_fill_the_balance_to_the_limit_not_one_fen_past_it():
    ledger = make(0)
    ledger.rules = replace(ledger.rules, topup=replace(ledger.rules.topup, max_fen=charges.MAX_FEN, bonus_steps=()))
    do(ledger, ledger.top_up(CARD, 10_000, "p1", NOW))
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 2_000, False, NOW))
    do(ledger, ledger.top_up(CARD, charges.MAX_FEN - 8_000 - 999, "p2", NOW))  # 999 fen short of the limit
    refused("balance_limit", charges.refund, ledger, "T1:A1", "R1", 1_000, NOW)
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 999, NOW))  # exactly to the limit
    assert account(ledger).balance_fen == charges.MAX_FEN


def test_a_one_fen_charge_gives_back_its_bonus_and_its_points():
    ledger = make(0)
    ledger.rules = replace(ledger.rules, points=replace(ledger.rules.points, fen_per_point=1))
    do(ledger, ledger.top_up(CARD, 50_000, "p", NOW))
    bonus, points = account(ledger).bonus_fen, account(ledger).points
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 50_000, False, NOW, pin_verified=True))  # the paid money
    points = account(ledger).points
    charge = do(ledger, charges.charge(ledger, CARD, "T1:A2", 1, False, NOW))  # 1 fen of bonus credit
    assert account(ledger).bonus_fen == bonus - 1 and charge.points_delta >= 1
    do(ledger, charges.refund(ledger, "T1:A2", "R1", 1, NOW))
    assert (account(ledger).bonus_fen, account(ledger).points) == (bonus, points)


def test_the_state_refuses_a_refund_for_a_member_it_does_not_hold():
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    txn = charges.refund(ledger, "T1:A1", "R1", 1_000, NOW)
    result = ledger.apply(replace(txn, member_id="M-nobody"))
    assert result.refused and "no charge for" in result.conflict



def test_the_order_keeps_the_card_that_paid_and_each_refund_the_card_credited():
    """A retried answer names the card that paid, not the member's card of now (issue 12)."""
    ledger = make()
    do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    do(ledger, ledger.replace_card(CARD, OTHER, NOW))
    do(ledger, charges.refund(ledger, "T1:A1", "R1", 400, NOW))
    order = account(ledger).order("T1:A1")
    assert order.card_uid == CARD  # paid with the old card
    assert order.refund("R1").card_uid == OTHER  # the money went back to the new one
    kept = decode(Account, json.loads(json.dumps(encode(account(ledger)))))
    assert kept.order("T1:A1") == order  # through the codec (snapshots, HQ's rows)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["charge", "refund", "replace"]), st.sampled_from("ABC"),
                          st.integers(1, 5_000)), max_size=12))
def test_every_order_names_the_card_that_paid_and_every_refund_the_card_credited(steps):
    ledger, card, made, n = make(), CARD, [], 0
    for name, order, amount in steps:
        key = f"T1:{order}"
        try:
            if name == "charge":
                txn = charges.charge(ledger, card, key, amount, False, NOW, pin_verified=True)
            elif name == "refund":
                n += 1
                txn = charges.refund(ledger, key, f"R{n}", amount, NOW)
            else:
                new = f"04{n + 1:012X}"
                n += 1
                txn = ledger.replace_card(card, new, NOW)
                card = new
        except Refused:
            continue
        do(ledger, txn)
        made.append(txn)
    for txn in made:
        if txn.kind is Kind.SPEND:
            assert account(ledger).order(txn.payment_ref).card_uid == txn.card_uid
        elif txn.kind is Kind.REFUND:
            assert account(ledger).order(txn.payment_ref).refund(txn.reason).card_uid == txn.card_uid


def test_one_order_charged_at_two_kiosks_offline_keeps_the_first_charge_as_its_record():
    ledger = make()
    other_kiosk = Ledger(ledger.state.copy(), default_rules(), "store1-k2", b"pepper", FAST_FOR_TESTS)
    first = do(ledger, charges.charge(ledger, CARD, "T1:A1", 1_000, False, NOW))
    late = charges.charge(other_kiosk, CARD, "T1:A1", 700, False, NOW)  # made before it heard of the first
    assert ledger.apply(late).applied
    assert [(o.key, o.txn_id, o.paid_fen) for o in account(ledger).orders] == [("T1:A1", first.txn_id, 1_000)]


def test_the_order_keeps_what_its_voucher_took_off():
    ledger = voucher_ledger()
    vid = welcome(ledger)
    spend = voucher_charge(ledger, "A1", 5_000, VOUCHER_JOINED, vid)
    order = ledger.state.accounts[ledger.state.cards[VOUCHER_UID].member_id].order("T1:A1")
    assert spend.voucher_fen > 0 and (order.voucher_id, order.voucher_fen) == (vid, spend.voucher_fen)
    assert order.paid_fen + order.voucher_fen == 5_000


def test_the_order_keeps_the_points_paid_as_cash_and_what_they_took_off():
    ledger = voucher_ledger()
    spend = voucher_charge(ledger, "A1", 1_000, VOUCHER_JOINED, points=200)
    order = ledger.state.accounts[ledger.state.cards[VOUCHER_UID].member_id].order("T1:A1")
    assert (order.points_cash, order.points_cash_fen) == (spend.points_cash, spend.points_cash_fen) == (200, 200)
    assert order.paid_fen + order.points_cash_fen == 1_000


def test_each_refund_record_keeps_the_voucher_and_the_points_it_gave_back():
    ledger = voucher_ledger()
    vid = welcome(ledger)
    with_voucher = voucher_charge(ledger, "A1", 5_000, VOUCHER_JOINED, vid)
    voucher_charge(ledger, "A2", 1_000, VOUCHER_JOINED, points=200)
    for key, refund_id, amount in (("T1:A2", "R1", 400), ("T1:A1", "R1", with_voucher.amount_fen)):
        do(ledger, charges.refund(ledger, key, refund_id, amount, VOUCHER_JOINED))
    orders = ledger.state.accounts[ledger.state.cards[VOUCHER_UID].member_id]
    whole, part = orders.order("T1:A1").refund("R1"), orders.order("T1:A2").refund("R1")
    assert (whole.voucher_back, whole.points_cash_back) == (vid, 0)  # the whole refund: the voucher back
    assert (part.voucher_back, part.points_cash_back) == ("", 100)  # 400 of the 800 paid: half of the 200
