"""`kiosk demo` runs end to end as a real command, and what it prints matches the store it wrote."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from kiosk.demo import DEVICE_ID, OPENING, PEPPER
from kiosk.ledger.money import format_fen
from kiosk.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^  ([0-9A-F]{8})\s+(\w+)\s+(\w+)\s+(-?¥[\d,]+\.\d\d)\s+(\d+)  (\S+)")


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_demo_output_matches_the_store(tmp_path):
    data_dir = tmp_path / "demo"
    done = run_demo("--data-dir", str(data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    rows = {m.group(1): m.groups()[1:] for line in out.splitlines() if (m := ROW.match(line))}
    assert len(rows) == 5
    with Store.open(data_dir, DEVICE_ID, pepper=PEPPER) as store:
        state = store.ledger.state
        assert set(rows) == set(state.cards)
        for uid, (status, tier, balance, points, member_id) in rows.items():
            card = state.cards[uid]
            account = state.accounts[card.member_id]
            assert (status, member_id) == (card.status.value, card.member_id)
            assert balance == format_fen(account.balance_fen)
            assert int(points) == account.points
            assert tier == store.ledger.tier_of(account, OPENING + timedelta(hours=1)).id
        total = sum(a.balance_fen for a in state.accounts.values())
        assert f"stored value total: {format_fen(total)}" in out
        assert f"outbox for HQ: {store.outbox_depth()} " in out
        assert f"committed: {state.last_seq[DEVICE_ID]}," in out
        assert store.check() == []

    # the rules' numbers, independently of the ledger: top-up 500 gets 25 bonus, 1000 gets 80
    assert "top-up ¥500.00, bonus ¥25.00" in out and "top-up ¥1,000.00, bonus ¥80.00" in out
    # the lost card is refused, the replacement carries the money, the return refunds the paid part
    assert "refused: card reported lost (card_blocked)" in out
    assert rows["04445566"][2] == rows["04112233"][2] and rows["04112233"][0] == "replaced"
    assert "refund ¥500.00 (bonus ¥25.00" in out and rows["04778899"][2] == "¥0.00"
    assert "5 wrong PINs in a row" in out and "(pin_locked)" in out
    assert "store closed and reopened: everything is there" in out


def test_demo_refuses_a_non_empty_data_dir(tmp_path):
    (tmp_path / "something").write_text("x")
    done = run_demo("--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "not empty" in done.stdout
    assert (tmp_path / "something").read_text() == "x"
