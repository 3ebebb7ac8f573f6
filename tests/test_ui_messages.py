"""Sentences as a member reads them: a wait in whole minutes when it is whole ("15 分钟后再试", not
"15 分 0 秒"), seconds only when needed; a top-up without a bonus says nothing about a bonus."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.ui import i18n
from kiosk.ui.messages import render_message, wait_phrase


@contextmanager
def language(locale: str) -> Iterator[None]:
    i18n.translator().set_locale(locale)
    try:
        yield
    finally:
        i18n.translator().set_locale("zh_CN")


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (900, "15 分钟", "15 minutes"),
    (60, "1 分钟", "1 minute"),
    (899, "14 分 59 秒", "14 min 59 s"),
    (61, "1 分 1 秒", "1 min 1 s"),
    (59, "59 秒", "59 seconds"),
    (1, "1 秒", "1 second"),
    (3600, "1 小时", "1 hour"),
    (7200, "2 小时", "2 hours"),
    (5400, "1 小时 30 分钟", "1 h 30 min"),
    (3601, "1 小时 1 分钟", "1 h 1 min"),  # an hour ahead, the seconds round up to the next minute
])
def test_a_wait_reads_as_a_person_says_it(seconds, zh, en):
    with language("zh_CN"):
        assert wait_phrase(seconds) == zh
    with language("en"):
        assert wait_phrase(seconds) == en


def test_the_lockout_screen_sentence_says_15_minutes():
    with language("zh_CN"):
        assert i18n._("Try again in {wait}").format(wait=wait_phrase(900)) == "请 15 分钟后再试"
    with language("en"):
        assert i18n._("Try again in {wait}").format(wait=wait_phrase(900)) == "Try again in 15 minutes"


_UNITS = {"小时": 3600, "分钟": 60, "分": 60, "秒": 1, "hour": 3600, "hours": 3600, "h": 3600, "minute": 60,
          "minutes": 60, "min": 60, "second": 1, "seconds": 1, "s": 1}


def _read_back(phrase: str) -> int:
    return sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"(\d+) (\w+)", phrase))


@given(st.integers(min_value=0, max_value=7 * 24 * 3600))
def test_a_wait_never_shows_a_zero_part_and_reads_back_to_the_time_left(seconds):
    for locale in i18n.LOCALES:
        with language(locale):
            phrase = wait_phrase(seconds)
        parts = re.findall(r"(\d+) ", phrase)
        assert seconds == 0 or "0" not in parts, phrase
        expected = seconds if seconds < 3600 else -(-seconds // 60) * 60
        assert _read_back(phrase) == expected, phrase


def test_the_pin_locked_message_names_the_wait_or_says_later():
    with language("zh_CN"):
        assert render_message("pin_locked", {"wait_seconds": 900}) == "密码已锁定，请 15 分钟后再试。"
        assert render_message("pin_locked") == "密码已锁定，请稍后再试。"
    with language("en"):
        assert render_message("pin_locked", {"wait_seconds": 125}) == "PIN locked. Try again in 2 min 5 s."


def test_a_top_up_without_bonus_has_no_bonus_clause():
    params = {"amount_fen": 5000, "bonus_fen": 0, "balance_fen": 131450, "points": 50}
    with language("en"):
        assert render_message("topup_done", params) == "Topped up ¥50.00. Balance now ¥1,314.50."
        with_bonus = render_message("topup_done", dict(params, amount_fen=50000, bonus_fen=2500))
        assert with_bonus == "Topped up ¥500.00 with ¥25.00 bonus. Balance now ¥1,314.50."
    with language("zh_CN"):
        assert render_message("topup_done", params) == "充值 ¥50.00。当前余额 ¥1,314.50。"
        assert "赠送" not in render_message("topup_done", params)
