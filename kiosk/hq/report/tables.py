"""The HQ report as rows: one table per section, printed as aligned text or written as CSV.

Each section is a `Table` (title, header, rows of plain values) built once from the Report, so
the terminal, CSV and HTML outputs always say the same thing."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from kiosk.hq.report.model import CHAIN, FOLLOW_UP_LABELS, FOLLOW_UPS, SEGMENT_LABELS, SEGMENTS, Report
from kiosk.ledger.money import format_fen

SECTIONS = ("metrics", "segments", "value_share", "till", "pareto", "rfm", "new_members", "engagement", "follow_ups", "staff")
NO_SALES = "n/a: non-member sales are not in HQ's data (give --sales FILE) / 非会员销售额不在HQ数据中"


@dataclass(frozen=True)
class Table:
    name: str  # the section, also the CSV file name
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple, ...]
    note: str = ""


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def store_label(store: str) -> str:
    return "全部门店 chain" if store == CHAIN else store


def title_line(report: Report) -> str:
    p = report.period
    scope = f"store {report.store}" if report.store else "chain / 全部门店"
    a, r, d = report.thresholds
    return (
        f"会员分析报告 / Member report: {scope}, {p.start} .. {p.end} ({p.timezone}), rules v{report.rules_version}; "
        f"active < {a} d <= at risk < {r} d <= dormant < {d} d <= lost"
    )


def tables(report: Report, csv_mode: bool = False) -> list[Table]:
    """Every section; csv_mode keeps numbers raw (fen, fractions) instead of formatted."""

    def money(fen: int) -> object:
        return fen if csv_mode else format_fen(fen)

    def rate(value: float | None) -> object:
        return ("" if value is None else round(value, 6)) if csv_mode else pct(value)

    out = []
    out.append(Table(
        "metrics", "项目指标 / Programme metrics",
        ("store", "members", "new", "new/month", "activation/month", "lost", "churn", "visitors", "repeat visitors",
         "repeat-visit rate", "buyers", "member value"),
        tuple(
            (store_label(m.store), m.members, m.new_members, round(m.new_members / m.months, 2), rate(m.activation_rate),
             m.lost, rate(m.churn_rate), m.visitors, m.repeat_visitors, rate(m.repeat_rate), m.buyers, money(m.value_fen))
            for m in report.metrics
        ),
        "activation = new members per month / members; churn = lost / members; "
        "repeat-visit rate = visitors on 2+ days / visitors in the period",
    ))
    stores = sorted({c.store for c in report.segments})
    seg_rows = []
    for store in stores + ([CHAIN] if report.store is None and len(stores) > 0 else []):
        for tier in report.tiers + ("total",):
            counts = [
                sum(c.members for c in report.segments
                    if store in (CHAIN, c.store) and c.segment == s and tier in ("total", c.tier))
                for s in SEGMENTS
            ]
            if sum(counts) or tier == "total":
                seg_rows.append((store_label(store), tier, *counts, sum(counts)))
    out.append(Table(
        "segments", "会员分群 / Members by tier and activity",
        ("store", "tier", *(SEGMENT_LABELS[s] if not csv_mode else s for s in SEGMENTS), "total"),
        tuple(seg_rows),
        "days since the last visit; thresholds from the rules in force",
    ))
    share_note = "" if any(v.sales_fen for v in report.value_share) else NO_SALES
    out.append(Table(
        "value_share", "会员消费占比 / Member share of transaction value (where spent)",
        ("store", "member value", "purchases", "all sales", "member share"),
        tuple(
            (store_label(v.store), money(v.member_value_fen), v.purchases,
             "" if v.sales_fen is None else money(v.sales_fen), rate(v.share) if v.sales_fen else ("" if csv_mode else "n/a"))
            for v in report.value_share
        ),
        share_note,
    ))
    out.append(Table(
        "till", "会员卡消费与代金券 / Paid with the card at the till, and vouchers (where it happened)",
        ("store", "charges", "charged", "refunds", "refunded", "voids", "voided", "voucher value kept",
         "voucher value repaid", "net member spend",
         "vouchers issued", "vouchers used", "vouchers expired", "redemption rate", "voucher value", "points as cash",
         "points value"),
        tuple(
            (store_label(t.store), t.charges, money(t.charged_fen), t.refunds, money(t.refunded_fen), t.voids,
             money(t.voided_fen), money(t.voucher_kept_fen), money(t.voucher_repaid_fen), money(t.net_fen),
             t.vouchers_issued, t.vouchers_used, t.vouchers_expired,
             rate(t.redemption_rate), money(t.voucher_fen), t.points_cash, money(t.points_cash_fen))
            for t in report.till
        ),
        "refunded, voided = what went back to the cards; voucher value kept = used vouchers a refunded sale "
        "had earned; voucher value repaid = that value paid back when the order that used the voucher was "
        "refunded whole; vouchers used = charges with a voucher less refunds and voids that gave one back; "
        "redemption rate = used / issued in the period",
    ))
    out.append(Table(
        "pareto", "头部20%会员 / Top 20% of buyers by value (Pareto)",
        ("store", "buyers", "top 20% buyers", "value", "top 20% value", "top 20% share"),
        tuple(
            (store_label(p.store), p.buyers, p.top_buyers, money(p.value_fen), money(p.top_value_fen), rate(p.top_share))
            for p in report.pareto
        ),
    ))
    out.append(Table(
        "rfm", "RFM 评分 / RFM scores (quintiles, 5 = best) of the period's buyers",
        ("R", "F", "M", "members", "value"),
        tuple((c.r, c.f, c.m, c.members, money(c.value_fen)) for c in report.rfm),
        "R: last visit, F: purchases, M: value in the period",
    ))
    out.append(Table(
        "new_members", "每月新会员 / New members per month",
        ("month", "new members"),
        tuple(report.new_by_month),
    ))
    out.append(Table(
        "engagement", "会员互动 / Check-ins, referrals and satisfaction (at the store's kiosks)",
        ("store", "check-ins", "members checking in", "referred sign-ups", "referral rewards", "surveys",
         "average rating", "1★", "2★", "3★", "4★", "5★", "reasons chosen"),
        tuple(
            (store_label(e.store), e.check_ins, e.checkin_members, e.referred_sign_ups, e.referral_rewards, e.surveys,
             ("" if e.average_rating is None else round(e.average_rating, 4)) if csv_mode
             else ("-" if e.average_rating is None else f"{e.average_rating:.2f}"),
             *e.ratings, "; ".join(f"{r} {n}" for r, n in e.reasons))
            for e in report.engagement
        ),
    ))
    out.append(Table(
        "follow_ups", "跟进名单 / Follow-up lists for staff",
        ("list", "member", "name", "phone", "home store", "tier", "segment", "day", "days since visit", "period value",
         "calls so far"),
        tuple(
            (f.list_name, f.member_id, f.name, f.phone, f.home_store, f.tier, f.segment,
             f.day.isoformat() if f.day else "", f.days_since_visit, money(f.value_fen), f.calls)
            for f in report.follow_ups
        ),
        "phones masked except for the member's home store (--store); day = first purchase (calls), "
        "last visit (win back), birthday; a member reached for that occasion (回访记录) is not listed",
    ))
    out.append(Table(
        "staff", "销售业绩 / Staff sales and rewards",
        ("store", "staff", "name", "home store", "cards sold", "top-ups", "top-up amount", "card fees", "reward"),
        tuple(
            (store_label(r.store), r.staff_id, r.name, r.home_store, r.cards_sold, r.topups, money(r.topup_fen),
             money(r.fees_fen), money(r.reward_fen))
            for r in report.staff
        ),
        "store = where the sale happened; reward = the rules' reward written into each sale "
        "(per card sold, per top-up step); names from `kiosk hq staff`",
    ))
    return out


def rfm_grid(report: Report) -> list[list[int]]:
    """Members by R (rows, 5 first) and F (columns 1-5)."""
    grid = [[0] * 5 for _ in range(5)]
    for c in report.rfm:
        grid[5 - c.r][c.f - 1] += c.members
    return grid


# -- text ---------------------------------------------------------------------------------------


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int, right: bool) -> str:
    fill = " " * max(0, size - width(text))
    return fill + text if right else text + fill


def format_table(header: tuple, rows: list[tuple]) -> str:
    cells = [[str(v) for v in header]] + [[str(v) for v in row] for row in rows]
    sizes = [max(width(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(pad(v, sizes[i], n > 0 and bool(_NUMBER.match(v))) for i, v in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * s for s in sizes))
    return "\n".join(lines)


_NUMBER = re.compile(r"^-?¥?-?[\d,]+(\.\d+)?%?$")


def render_text(report: Report, limit: int = 20, section: str | None = None) -> str:
    """Every section, or the one named."""
    parts = [title_line(report), ""]
    for table in tables(report):
        if section and table.name != section:
            continue
        parts.append(f"== {table.title} ==")
        if table.name == "rfm":
            grid = rfm_grid(report)
            parts.append("members by recency (rows) and frequency (columns):")
            parts.append(format_table(("R \\ F", "1", "2", "3", "4", "5"), [(5 - i, *grid[i]) for i in range(5)]))
            by_m = {m: (0, 0) for m in range(1, 6)}
            for c in report.rfm:
                n, v = by_m[c.m]
                by_m[c.m] = (n + c.members, v + c.value_fen)
            parts.append("")
            parts.append(format_table(("M score", "members", "value"), [(m, n, format_fen(v)) for m, (n, v) in by_m.items()]))
        elif table.name == "follow_ups":
            for name in FOLLOW_UPS:
                rows = [r[1:] for r in table.rows if r[0] == name]
                parts.append(f"-- {FOLLOW_UP_LABELS[name]}: {len(rows)} --")
                if rows:
                    parts.append(format_table(table.header[1:], rows[:limit]))
                    if len(rows) > limit:
                        parts.append(f"... and {len(rows) - limit} more (--limit, or --format csv for all)")
        elif table.rows:
            parts.append(format_table(table.header, list(table.rows)))
        else:
            parts.append("(none)")
        if table.note:
            parts.append(f"note: {table.note}")
        parts.append("")
    return "\n".join(parts)


# -- CSV ----------------------------------------------------------------------------------------


def render_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return buf.getvalue()


def csv_tables(report: Report) -> dict[str, Table]:
    return {t.name: t for t in tables(report, csv_mode=True)}
