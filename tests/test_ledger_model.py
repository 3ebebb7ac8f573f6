"""Worked examples for kiosk/ledger/model.py at the edges mutation testing found open: a points lot
taken whole leaves no empty lot behind, a refund id a till order never had is None (not an
error), and a member's referral code stays what earlier versions printed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from kiosk.ledger.model import PointsLot, TillOrder, TillRefund, lots_taken, points_expiry, referral_code_of

MARCH, APRIL = date(2026, 3, 31), date(2026, 4, 30)
AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_a_lot_taken_whole_leaves_no_empty_lot_and_one_point_more_takes_from_the_next():
    lots = (PointsLot(MARCH, 5), PointsLot(APRIL, 3))
    assert lots_taken(lots, 5) == (PointsLot(APRIL, 3),)
    assert lots_taken(lots, 6) == (PointsLot(APRIL, 2),)
    assert lots_taken(lots, 8) == ()
    assert lots_taken(lots, 0) == lots


def test_a_refund_id_the_order_never_had_is_none():
    refund = TillRefund("R1", "k1:9", AT, 100, 0, 900, 0)
    order = TillOrder("T1:A1", "k1:8", AT, 1_000, 0, 0, 0, refunds=(refund,))
    assert order.refund("R1") is refund
    assert order.refund("R2") is None


def test_referral_codes_are_the_ones_earlier_versions_printed():
    """A code is shared on paper and QR codes: changing how it is made would orphan them."""
    assert referral_code_of("M-kiosk-1-1") == "7UKP3MBL"
    assert referral_code_of("M-hq-42") == "ZJ3V2KN3"


def test_points_expire_at_the_end_of_the_month_the_rules_say_from_any_day_earned():
    assert points_expiry(date(2026, 1, 31), 1) == date(2026, 1, 31)
    assert points_expiry(date(2026, 1, 1), 2) == date(2026, 2, 28)
    assert points_expiry(date(2026, 12, 15), 3) == date(2027, 2, 28)
