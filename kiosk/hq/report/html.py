"""The HQ report as one self-contained HTML page: headline figures, charts, then the tables.

Charts are drawn with matplotlib's Agg backend (no display needed) and embedded as base64
PNG, so the page is a single file a manager can open or mail. Chart labels use the
WenQuanYi Micro Hei font when installed (Chinese text), DejaVu Sans otherwise."""

from __future__ import annotations

import base64
import html
import io

from kiosk.hq.report.model import CHAIN, FOLLOW_UP_LABELS, FOLLOW_UPS, SEGMENTS, Report
from kiosk.hq.report.tables import Table, pct, rfm_grid, store_label, tables, title_line
from kiosk.ledger.money import format_fen

COLOURS = {"active": "#2e9d5b", "at_risk": "#f2b233", "dormant": "#e7772f", "lost": "#9a9a9a"}
SEGMENT_NAMES = {"active": "活跃 active", "at_risk": "风险 at risk", "dormant": "沉睡 dormant", "lost": "流失 lost"}
FONTS = ["WenQuanYi Micro Hei", "DejaVu Sans"]


def _pyplot():
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": FONTS, "font.size": 10, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    fig.clf()
    return buf.getvalue()


def charts(report: Report) -> dict[str, bytes]:
    """name -> PNG bytes of each chart (also what the tests and the PNG preview look at)."""
    plt = _pyplot()
    out: dict[str, bytes] = {}
    try:
        out["segments"] = _segments_chart(plt, report)
        out["tiers"] = _tiers_chart(plt, report)
        out["new_members"] = _new_members_chart(plt, report)
        if report.pareto_curve:
            out["pareto"] = _pareto_chart(plt, report)
        if report.rfm:
            out["rfm"] = _rfm_chart(plt, report)
        if any(e.surveys for e in report.engagement):
            out["satisfaction"] = _satisfaction_chart(plt, report)
    finally:
        plt.close("all")
    return out


def _segments_chart(plt, report: Report) -> bytes:
    stores = sorted({c.store for c in report.segments})
    totals = {s: sum(c.members for c in report.segments if c.store == s) for s in stores}
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * max(len(stores), 2) + 1.4))
    left = [0.0] * len(stores)
    for seg in SEGMENTS:
        shares = [
            sum(c.members for c in report.segments if c.store == s and c.segment == seg) / (totals[s] or 1) * 100
            for s in stores
        ]
        bars = ax.barh(stores, shares, left=left, color=COLOURS[seg], label=SEGMENT_NAMES[seg])
        for bar, share in zip(bars, shares, strict=True):
            if share >= 7:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2, f"{share:.0f}%",
                        ha="center", va="center", color="white", fontsize=9)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_xlabel("% of the store's members / 会员占比")
    ax.set_yticks(range(len(stores)), [f"{s}  ({totals[s]})" for s in stores])
    ax.margins(y=0.02)
    ax.set_title("Members by activity / 会员活跃度", loc="left", pad=26)
    ax.legend(ncols=4, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, borderaxespad=0.2)
    return _png(fig)


def _tiers_chart(plt, report: Report) -> bytes:
    tiers = list(report.tiers)
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    bottom = [0] * len(tiers)
    for seg in SEGMENTS:
        counts = [sum(c.members for c in report.segments if c.tier == t and c.segment == seg) for t in tiers]
        ax.bar(tiers, counts, bottom=bottom, color=COLOURS[seg], label=SEGMENT_NAMES[seg])
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    for i, total in enumerate(bottom):
        ax.text(i, total, str(total), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("members / 会员数")
    ax.set_title("Members by tier and activity / 各等级会员", loc="left")
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def _new_members_chart(plt, report: Report) -> bytes:
    months = [m for m, _ in report.new_by_month]
    counts = [n for _, n in report.new_by_month]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    bars = ax.bar(range(len(months)), counts, color="#3b6fb6", tick_label=months)
    for bar, n in zip(bars, counts, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), str(n), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("new members / 新会员")
    ax.set_title("New members per month / 每月新会员", loc="left")
    if len(months) > 8:
        ax.tick_params(axis="x", rotation=45)
    return _png(fig)


def _pareto_chart(plt, report: Report) -> bytes:
    total = sum(v for _, v in report.pareto_curve) or 1
    xs, ys, running = [0], [0.0], 0
    for decile, value in report.pareto_curve:
        running += value
        xs.append(decile * 10)
        ys.append(running / total * 100)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(xs, ys, marker="o", color="#3b6fb6", label="cumulative value / 累计消费")
    ax.plot([0, 100], [0, 100], linestyle="--", color="#bbbbbb", label="if every buyer spent the same")
    top = next((p for p in report.pareto if p.store == (report.store or CHAIN)), None)
    if top and top.top_share is not None:
        ax.axvline(20, color="#e7772f", linewidth=1)
        ax.annotate(f"top 20% of buyers = {top.top_share * 100:.0f}% of value", xy=(20, top.top_share * 100),
                    xytext=(30, max(top.top_share * 100 - 25, 5)), arrowprops={"arrowstyle": "->", "color": "#e7772f"}, color="#e7772f")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("% of buyers, biggest first / 会员(按消费从高到低)")
    ax.set_ylabel("% of value / 消费占比")
    ax.set_title("Who brings the value (Pareto) / 头部会员贡献", loc="left")
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    return _png(fig)


def _rfm_chart(plt, report: Report) -> bytes:
    grid = rfm_grid(report)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    image = ax.imshow(grid, cmap="Blues")
    peak = max(max(row) for row in grid) or 1
    for i in range(5):
        for j in range(5):
            ax.text(j, i, str(grid[i][j]), ha="center", va="center", color="white" if grid[i][j] > peak * 0.6 else "black")
    ax.set_xticks(range(5), [str(f) for f in range(1, 6)])
    ax.set_yticks(range(5), [str(r) for r in range(5, 0, -1)])
    ax.set_xlabel("F: purchases (5 = most) / 购买频次")
    ax.set_ylabel("R: last visit (5 = latest) / 最近到访")
    ax.set_title("RFM: members by recency and frequency", loc="left")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _png(fig)


STAR_COLOURS = ("#d64541", "#ef8a3c", "#f2c94c", "#8cc56b", "#2e9d5b")


def _satisfaction_chart(plt, report: Report) -> bytes:
    rows = [e for e in report.engagement if e.surveys]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.5 * max(len(rows), 3) + 1.6), width_ratios=(3, 2))
    names = [store_label(e.store) for e in rows]
    start = [0.0] * len(rows)
    for i in range(5):
        shares = [e.ratings[i] / e.surveys * 100 for e in rows]
        left.barh(names, shares, left=start, color=STAR_COLOURS[i], label=f"{i + 1}★")
        start = [a + b for a, b in zip(start, shares, strict=True)]
    for y, e in enumerate(rows):
        left.text(101, y, f"{e.average_rating:.2f}★ ({e.surveys})", va="center", fontsize=9)
    left.set_xlim(0, 125)
    left.set_xticks(range(0, 101, 20))
    left.invert_yaxis()
    left.set_xlabel("% of surveys / 评价占比")
    left.margins(y=0.02)
    left.set_title("Satisfaction / 满意度 (average, surveys)", loc="left", pad=26)
    left.legend(ncols=5, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, borderaxespad=0.2)
    scope = next((e for e in rows if e.store == (report.store or CHAIN)), rows[-1])
    reasons = list(reversed(scope.reasons[:8]))
    right.barh([r for r, _ in reasons], [n for _, n in reasons], color="#3b6fb6")
    right.set_title("Reasons chosen / 评价原因", loc="left", pad=26)
    right.set_xlabel("times chosen / 次数")
    fig.tight_layout()
    return _png(fig)


# -- the page ------------------------------------------------------------------------------------

_CSS = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:2px} .sub{color:#666;margin-top:0}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.tile{flex:1 1 150px;background:#f4f7fb;border-radius:8px;padding:12px 14px}
.tile b{display:block;font-size:26px;color:#1d4f91} .tile span{color:#555;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:16px} .charts img{max-width:100%;border:1px solid #eee;border-radius:6px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:13px} th,td{padding:4px 8px;border-bottom:1px solid #e4e4e4}
th{background:#f4f4f4;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#777;font-size:12px;margin:2px 0 14px} h2{font-size:17px;margin-top:28px}
"""


def _table_html(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{html.escape(str(v))}</td>' if _numeric(v) else f"<td>{html.escape(str(v))}</td>" for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _numeric(value) -> bool:
    text = str(value)
    return isinstance(value, int | float) or text.endswith("%") or text.startswith(("¥", "-¥"))


def _tiles(report: Report) -> str:
    chain = next((m for m in report.metrics if m.store == (report.store or CHAIN)), None)
    top = next((p for p in report.pareto if p.store == (report.store or CHAIN)), None)
    value = next((v for v in report.value_share if v.store == (report.store or CHAIN)), None)
    tiles = []
    if chain:
        tiles += [
            (str(chain.members), "members / 会员"),
            (str(chain.new_members), "new in the period / 新会员"),
            (pct(chain.activation_rate, 2), "activation per month / 月激活率"),
            (pct(chain.churn_rate), "churn (lost) / 流失率"),
            (pct(chain.repeat_rate), "repeat-visit rate / 复购率"),
        ]
    if top and top.top_share is not None:
        tiles.append((pct(top.top_share, 0), "value from the top 20% / 头部20%贡献"))
    if value:
        tiles.append((format_fen(value.member_value_fen), "member value / 会员消费"))
        if value.share is not None:
            tiles.append((pct(value.share), "member share of sales / 会员消费占比"))
    return "".join(f'<div class="tile"><b>{html.escape(v)}</b><span>{html.escape(label)}</span></div>' for v, label in tiles)


def render_html(report: Report, limit: int = 50) -> str:
    images = charts(report)
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>会员分析报告 / Member report {report.period.start} - {report.period.end}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>会员分析报告 / Member report</h1>",
        f"<p class='sub'>{html.escape(title_line(report))}</p>",
        f"<div class='tiles'>{_tiles(report)}</div>",
        "<div class='charts'>",
    ]
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<img alt='{name} chart' src='data:image/png;base64,{data}'>")
    parts.append("</div>")
    for table in tables(report):
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        parts += _section_html(table, limit)
    parts.append("</body></html>")
    return "\n".join(parts)


def _section_html(table: Table, limit: int) -> list[str]:
    out = []
    if table.name == "follow_ups":
        for name in FOLLOW_UPS:
            rows = [r[1:] for r in table.rows if r[0] == name]
            out.append(f"<h3>{html.escape(FOLLOW_UP_LABELS[name])}: {len(rows)}</h3>")
            if rows:
                out.append(_table_html(table.header[1:], rows[:limit]))
            if len(rows) > limit:
                out.append(f"<p class='note'>first {limit} of {len(rows)}; all of them: --format csv</p>")
    elif table.rows:
        out.append(_table_html(table.header, table.rows))
    else:
        out.append("<p class='note'>(none)</p>")
    if table.note:
        out.append(f"<p class='note'>{html.escape(table.note)}</p>")
    return out
