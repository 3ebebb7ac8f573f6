"""Points as cash (积分抵现): the member pays part of a till order with points.

The rules set the rate (`points_per_yuan`: 100 means 100 points pay 1 yuan) and the largest share
of an order points may pay (`max_share_pct`, below 100, so the card always pays at least 1 fen):

    "points_cash": {"points_per_yuan": 100, "max_share_pct": 20}

A charge states the points it took and what they paid; the lots they come from are the oldest
(the points earned on the same charge are added after). A refund gives them back in proportion
to the stored value refunded, all of them once the order is refunded whole, as fresh points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from math import gcd

from kiosk.ledger.model import PointsLot, TillOrder, lots_added, lots_taken
from kiosk.ledger.rules_fields import _Fields


@dataclass(frozen=True)
class PointsCashRule:
    points_per_yuan: int = 0  # 0: points cannot pay
    max_share_pct: int = 0  # of the order (after the tier discount and the voucher)

    @property
    def enabled(self) -> bool:
        return self.points_per_yuan > 0 and self.max_share_pct > 0

    @property
    def step(self) -> int:
        """The smallest number of points worth a whole number of fen."""
        return self.points_per_yuan // gcd(self.points_per_yuan, 100) if self.points_per_yuan else 1

    def fen_for(self, points: int) -> int:
        return points * 100 // self.points_per_yuan if self.points_per_yuan else 0

    def most_points(self, payable_fen: int, points_held: int) -> int:
        """The most points the member may use on `payable_fen` (a multiple of `step`)."""
        if not self.enabled or payable_fen <= 0:
            return 0
        cap_fen = payable_fen * self.max_share_pct // 100
        most = min(points_held, cap_fen * self.points_per_yuan // 100)
        return most - most % self.step


_KEYS = frozenset({"points_per_yuan", "max_share_pct"})


def parse_points_cash(f: _Fields, data: object) -> PointsCashRule:
    """The `points_cash` section (absent: points cannot pay)."""
    if not isinstance(data, dict):
        raise f.fail("points_cash", "must be an object")
    f.only(data, _KEYS, "points_cash.")
    return PointsCashRule(
        points_per_yuan=f.int(data, "points_per_yuan", "points_cash.", lo=0, hi=100_000, default=0),
        max_share_pct=f.int(data, "max_share_pct", "points_cash.", lo=0, hi=99, default=0),
    )


def cash_due_back(order: TillOrder, refund_fen: int) -> int:
    """Points paid as cash that a refund of `refund_fen` gives back: in proportion, rounded down,
    cumulative (every point back once the whole order is refunded)."""
    if order.paid_fen <= 0 or not order.points_cash:
        return 0
    due = order.points_cash * (order.refunded_fen + refund_fen) // order.paid_fen
    return max(0, due - order.points_cash_back)


def lots_after_cash(
    lots: tuple[PointsLot, ...], taken: int, added: int, expires_on: date | None
) -> tuple[PointsLot, ...]:
    """Lots after a charge or refund with points as cash: `taken` from the oldest lots, then
    `added` new ones (a net difference would leave old points where new ones belong)."""
    lots = lots_taken(lots, taken) if taken > 0 else lots
    return lots_added(lots, added, expires_on) if added > 0 and expires_on is not None else lots
