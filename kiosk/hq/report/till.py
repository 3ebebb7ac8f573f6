"""The till's figures in `kiosk hq report`: charges, refunds and voids paid with the member card,
and vouchers issued, used and run out (with the redemption rate), by the store of the kiosk
where each happened (vouchers HQ gave in a campaign: store "HQ").

Definitions: a charge is a SPEND; refunded and voided = what went back to the cards (a refund's
amount less the value of a used voucher its sale had earned, kept back: "voucher value kept", plus
what was kept so for the voucher this order used, paid back by its whole refund or void:
"voucher value repaid");
net member spend = charged - refunded - voided; vouchers used
= charges that used one less refunds and voids that gave one back; redemption rate = vouchers
used / issued in the period (None when none were issued); points as cash = the points charges
took as payment. One pass over the period's events of these kinds; JSON is read only for
charges, refunds and voids."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hq.db import Database
from kiosk.hq.report.model import CHAIN, HQ_STORE, Period, sql_time

_KINDS = ("spend", "refund", "void", "voucher_issued", "voucher_expired")


@dataclass(frozen=True)
class TillFigures:
    store: str
    charges: int = 0
    charged_fen: int = 0
    refunds: int = 0
    refunded_fen: int = 0
    voids: int = 0
    voided_fen: int = 0
    voucher_kept_fen: int = 0  # kept back from refunds and voids: used vouchers their sales had earned
    voucher_repaid_fen: int = 0  # paid back by whole refunds and voids of the orders that used them
    vouchers_issued: int = 0
    vouchers_used: int = 0
    vouchers_expired: int = 0
    voucher_fen: int = 0  # taken off orders by vouchers at the charges
    points_cash: int = 0
    points_cash_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.charged_fen - self.refunded_fen - self.voided_fen

    @property
    def redemption_rate(self) -> float | None:
        return self.vouchers_used / self.vouchers_issued if self.vouchers_issued else None


def till_figures(db: Database, period: Period, store: str | None) -> tuple[TillFigures, ...]:
    """Per store where it happened, and the chain's row (CHAIN) when no store is asked for."""
    doc = "CAST(e.body AS jsonb)" if db.dialect == "postgresql" else "e.body"
    pick = f"CASE WHEN e.kind IN ('spend', 'refund', 'void') THEN {doc} END"
    rows = db.all(
        f"""
        SELECT store, kind, COUNT(*), SUM(amount_fen),
          SUM(CASE WHEN COALESCE(vid, '') <> '' THEN 1 ELSE 0 END),
          SUM(CASE WHEN COALESCE(vid, '') <> '' THEN CAST(COALESCE(vfen, '0') AS BIGINT) ELSE 0 END),
          SUM(CAST(COALESCE(pc, '0') AS BIGINT)), SUM(CAST(COALESCE(pcf, '0') AS BIGINT)),
          SUM(CAST(COALESCE(kept, '0') AS BIGINT)), SUM(CAST(COALESCE(repaid, '0') AS BIGINT))
        FROM (
          SELECT COALESCE(d.store, '{HQ_STORE}') AS store, kind, amount_fen,
            {db.json_text('doc', 'voucher_id')} AS vid, {db.json_text('doc', 'voucher_fen')} AS vfen,
            {db.json_text('doc', 'points_cash')} AS pc, {db.json_text('doc', 'points_cash_fen')} AS pcf,
            {db.json_text('doc', 'voucher_kept_fen')} AS kept, {db.json_text('doc', 'voucher_repaid_fen')} AS repaid
          FROM (
            SELECT e.device_id, e.kind, e.amount_fen, {pick} AS doc FROM events e
            WHERE e.kind IN {_KINDS!r} AND {db.bytewise('e.at')} >= ? AND {db.bytewise('e.at')} < ?
          ) e LEFT JOIN devices d ON d.device_id = e.device_id
        ) happened
        GROUP BY 1, 2""",
        (sql_time(period.start_at), sql_time(period.as_of)),
    )
    tally: dict[str, dict[str, int]] = {}
    for place, kind, count, fen, with_voucher, voucher_fen, points, points_fen, kept, repaid in rows:
        t = tally.setdefault(place, {})
        count, fen = int(count), int(fen or 0)
        with_voucher, voucher_fen = int(with_voucher or 0), int(voucher_fen or 0)
        if kind == "spend":
            _add(t, charges=count, charged_fen=fen, vouchers_used=with_voucher, voucher_fen=voucher_fen,
                 points_cash=int(points or 0), points_cash_fen=int(points_fen or 0))
        elif kind in ("refund", "void"):
            kept, repaid = int(kept or 0), int(repaid or 0)
            _add(t, **{f"{kind}s": count, f"{kind}ed_fen": fen - kept + repaid, "voucher_kept_fen": kept,
                       "voucher_repaid_fen": repaid, "vouchers_used": -with_voucher})
        elif kind == "voucher_issued":
            _add(t, vouchers_issued=count)
        else:
            _add(t, vouchers_expired=count)
    out = [TillFigures(place, **t) for place, t in sorted(tally.items()) if store in (None, place)]
    if store is not None:
        return tuple(out) or (TillFigures(store),)
    chain: dict[str, int] = {}
    for t in tally.values():
        _add(chain, **t)
    return tuple(out) + (TillFigures(CHAIN, **chain),)


def _add(into: dict[str, int], **amounts: int) -> None:
    for name, value in amounts.items():
        into[name] = into.get(name, 0) + value
