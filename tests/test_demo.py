"""`kiosk demo` runs end to end as a real command, and what it prints matches the store it wrote."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from kiosk.demo.story import DEVICE_ID, OPENING, PEPPER
from kiosk.ledger.money import format_fen
from kiosk.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^  ([0-9A-F]{8})\s+(\w+)\s+(\w+)\s+(-?¥[\d,]+\.\d\d)\s+(\d+)  No\. (\d+) (.+)$")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# what a store owner must never read: codes, field names, Python reprs
INTERNAL = re.compile(r"\b[a-z]+_[a-z_]+\b|\w+=|\[\'|M-DEMO")


def run_demo(*args: str, lang: str = "en") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", "--lang", lang, *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )


def test_demo_output_matches_the_store(tmp_path):
    data_dir = tmp_path / "demo"
    done = run_demo("--data-dir", str(data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    rows = {m.group(1): m.groups()[1:] for line in out.splitlines() if (m := ROW.match(line))}
    assert len(rows) == 6
    with Store.open(data_dir, DEVICE_ID, pepper=PEPPER) as store:
        state = store.ledger.state
        # member no. N is the N-th sign-up at this kiosk: 1 to 5 with no gaps
        by_signup = sorted(state.members, key=lambda member_id: int(member_id.rsplit("-", 1)[1]))
        assert sorted({int(r[4]) for r in rows.values()}) == [1, 2, 3, 4, 5]
        assert set(rows) == set(state.cards)
        for uid, (status, tier, balance, points, number, _name) in rows.items():
            card = state.cards[uid]
            account = state.accounts[card.member_id]
            assert (status, by_signup[int(number) - 1]) == (card.status.value, card.member_id)
            assert balance == format_fen(account.balance_fen)
            assert int(points) == account.points
            assert tier == store.ledger.tier_of(account, OPENING + timedelta(hours=1)).name.en
        assert rows["04A1B2C3"][5] == "Wang Fang" and state.members[by_signup[0]].name == "王芳"
        total = sum(a.balance_fen for a in state.accounts.values())
        assert f"stored value total: {format_fen(total)}" in out
        committed = state.last_seq[DEVICE_ID]
        assert f"waiting for HQ: {committed} " in out  # nothing acknowledged before the sync part
        assert f"committed: {committed}," in out
        # ...then HQ acknowledged every one of them, after its own commit.
        assert f"HQ committed {committed} transactions" in out and "none left waiting" in out
        assert store.outbox_depth() == 0
        assert store.check() == []

    # the rules' numbers, independently of the ledger: top-up 500 gets 25 bonus, 1000 gets 80,
    # and a top-up under the first step says why it has none
    assert "top-up ¥500.00, bonus ¥25.00" in out and "top-up ¥1,000.00, bonus ¥80.00" in out
    assert "top-up ¥200.00, no bonus below ¥500.00, +200 points" in out and "bonus ¥0.00" not in out.split("Summary")[0]
    # the lost card is refused, the replacement carries the money, the return refunds the paid part
    assert "refused: card reported lost" in out
    # a staff sale: the card fee is due, a ¥500 top-up waives it, the staff member is credited twice
    assert "card fee due ¥38.00" in out and "the card fee is waived" in out
    assert "¥8.00 for the card + ¥8.00 for the top-up" in out
    assert rows["04445566"][2] == rows["04112233"][2] and rows["04112233"][0] == "replaced"
    assert "refund ¥500.00 (bonus ¥25.00" in out and rows["04778899"][2] == "¥0.00"
    assert "the till sends order A1001 for ¥128.00: member discount -¥2.56, the member taps and pays ¥125.44" in out
    assert "¥30.00 refunded to the card" in out and "refused: a refund can never be more than what was paid" in out
    assert "5 wrong PINs in a row" in out and "PIN locked after too many wrong tries" in out
    assert "store closed and reopened: everything is there" in out
    # the screen part says what the screens say, with the member's balance after each top-up
    assert "“Topped up ¥1,000.00 with ¥80.00 bonus. Balance now ¥1,080.00.”" in out
    assert "“Topped up ¥50.00. Balance now ¥1,130.00.”" in out and "with ¥0.00 bonus" not in out  # the acceptor
    assert "Zhao Lei · Silver · balance ¥1,130.00 · 1160 points" in out
    assert "“Wrong PIN. 4 attempts left.”" in out
    # one language, and no internals: no Chinese, no codes like topup_done or gifts=[...]
    assert CJK.findall(out) == []
    assert INTERNAL.findall(out.split("data dir:")[0]) == []


def test_demo_in_chinese_tells_the_same_story(tmp_path):
    done = run_demo(lang="zh_CN")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "王芳 开卡成功：卡号 04A1B2C3，本店第 1 位会员" in out
    assert "充值 ¥1,000.00，赠送 ¥80.00，得 1000 积分；余额 ¥1,080.00 / 1100 积分" in out
    assert "充值 ¥200.00，不满 ¥500.00 无赠送" in out
    assert "“充值 ¥1,000.00，赠送 ¥80.00。当前余额 ¥1,080.00。”" in out
    assert "“充值 ¥50.00。当前余额 ¥1,130.00。”" in out and "赠送 ¥0.00" not in out  # the acceptor: no bonus
    assert "赵磊 · 银卡会员 · 余额 ¥1,130.00 · 1160 积分" in out
    assert "应付卡费 ¥38.00" in out and "卡费免收" in out and "售卡 ¥8.00 + 储值 ¥8.00" in out  # a staff sale
    story = out.split("数据目录")[0]  # the temp path at the end is a path, not prose
    words = {w for w in re.findall(r"[A-Za-z]{3,}", story) if w not in ("DEMO", "PIN")}
    assert words == set(), words  # no English words in the Chinese story
    assert INTERNAL.findall(story) == []  # (a temp path may hold an underscore)


def test_demo_refuses_a_non_empty_data_dir(tmp_path):
    (tmp_path / "something").write_text("x")
    done = run_demo("--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "not empty" in done.stdout
    assert (tmp_path / "something").read_text() == "x"

