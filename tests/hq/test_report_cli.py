"""`kiosk hq report` as a manager runs it: text, CSV files, CSV to stdout, HTML with charts,
the member share of sales from a sales file, phone masking, and clear refusals."""

from __future__ import annotations

import base64
import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.hq.db import open_database
from kiosk.hq.report.migration import migrate
from kiosk.hq.report.tables import SECTIONS
from kiosk.hq.schema import create_schema
from tests.fixtures import report_history

ROOT = Path(__file__).resolve().parents[2]
PERIOD = ["--from", "2026-01-01", "--to", "2026-06-17"]


@pytest.fixture(scope="module")
def hq_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "hq.sqlite3"
    db = open_database(str(path))
    create_schema(db)
    migrate(db)
    history = report_history.generate(1)
    report_history.load(db, history)
    db.close()
    return path, history


def kiosk(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "hq", "--db", str(db), "report", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


def test_text_report_has_every_section_with_masked_phones(hq_file):
    db, history = hq_file
    out = kiosk(db, *PERIOD)
    assert out.returncode == 0, out.stderr
    for title in ("Programme metrics", "Members by tier and activity", "Member share", "Pareto", "RFM",
                  "New members per month", "Check-ins, referrals and satisfaction", "call 3 days", "call 3 weeks", "call 3 months", "win back", "birthdays"):
        assert title in out.stdout
    phones = {t.phone for t in history.txns if t.phone}
    assert not any(p in out.stdout for p in phones)
    assert re.search(r"139\*\*\*\*\d{4}", out.stdout)
    assert "non-member sales are not in HQ's data" in out.stdout


def test_store_report_shows_its_own_members_phones(hq_file):
    db, history = hq_file
    out = kiosk(db, *PERIOD, "--store", "S1", "--format", "csv", "--section", "follow_ups")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and {r["home store"] for r in rows} == {"S1"}
    phones = {t.member_id: t.phone for t in history.txns if t.phone}
    assert all(r["phone"] == phones[r["member"]] for r in rows)


def test_csv_files_one_per_section_with_sales_share(hq_file, tmp_path):
    db, _ = hq_file
    sales = tmp_path / "sales.csv"
    sales.write_text("store,sales_fen\nS1,1500000\nS2,900000\n")
    out = kiosk(db, *PERIOD, "--format", "csv", "--out", str(tmp_path / "csv"), "--sales", str(sales))
    assert out.returncode == 0, out.stderr
    assert sorted(p.stem for p in (tmp_path / "csv").iterdir()) == sorted(SECTIONS)
    share = {r["store"]: r for r in csv.DictReader((tmp_path / "csv" / "value_share.csv").open())}
    assert share["S1"]["all sales"] == "1500000"
    assert float(share["S1"]["member share"]) == pytest.approx(int(share["S1"]["member value"]) / 1500000, abs=1e-6)
    chain = share["全部门店 chain"]
    assert chain["all sales"] == "2400000"
    segments = list(csv.DictReader((tmp_path / "csv" / "segments.csv").open()))
    assert set(segments[0]) == {"store", "tier", "active", "at_risk", "dormant", "lost", "total"}


def test_html_report_embeds_charts(hq_file, tmp_path):
    db, _ = hq_file
    page = tmp_path / "out" / "report.html"
    out = kiosk(db, *PERIOD, "--format", "html", "--out", str(page))
    assert out.returncode == 0, out.stderr
    text = page.read_text()
    images = re.findall(r"alt='(\w+) chart' src='data:image/png;base64,([^']+)'", text)
    assert {name for name, _ in images} == {"segments", "tiers", "new_members", "pareto", "rfm", "satisfaction"}
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script" not in text and "139****" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv"], "needs --out DIR"),
        (["--format", "html"], "needs --out FILE.html"),
        (["--format", "csv", "--section", "nope"], "--section must be one of"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "is after"),
        (["--store", "S9"], "unknown store 'S9'"),
    ],
)
def test_bad_usage_is_refused_clearly(hq_file, args, message):
    db, _ = hq_file
    out = kiosk(db, *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_bad_sales_file_names_the_line(hq_file, tmp_path):
    db, _ = hq_file
    sales = tmp_path / "sales.csv"
    sales.write_text("store,sales_fen\nS1,12.50\n")
    out = kiosk(db, *PERIOD, "--sales", str(sales))
    assert out.returncode == 2 and "line 2: sales_fen must be a whole number" in out.stderr
