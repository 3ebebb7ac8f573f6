"""Every screen of every journey, at the three supported window sizes, in both languages: no
text wider or taller than its box, no box off the window, no touch target under 48 px, and no
character (label, text field, placeholder) its font has no glyph for.
One child process per size: Kivy opens one window per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.app.config import SCREENS

HERE = Path(__file__).resolve().parent
EXPECTED_SCREENS = {
    "idle", "signup_offer", "signup_details", "signup_privacy", "signup_pin", "signup_writing", "signup_done",
    "home", "topup_amount", "topup_too_much", "topup_confirm", "paying", "topup_done", "redeem_choose", "redeem_confirm",
    "redeem_done", "pin_wrong", "pin_locked", "blocked", "not_recognised", "card_refused", "staff_menu",
    "charge_tap", "charge_confirm", "charge_pin", "charge_done", "charge_declined", "charge_amount",
    "new_pin_tap", "new_pin_entry",
}


@pytest.mark.parametrize("size", SCREENS)
def test_no_clipped_text_no_missing_glyphs_and_big_enough_targets(size, tmp_path):
    env = dict(os.environ, KIOSK_TEST_KIVY_HOME=str(tmp_path / "kivy"))
    done = subprocess.run(
        [sys.executable, str(HERE / "ui_layout_check.py"), size],
        capture_output=True, text=True, timeout=240, env=env, cwd=HERE.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["detects_clipping"], "the layout check could not see a clipped title"
    assert result["detects_tofu"], "the glyph check could not see Chinese in a font without it"
    assert EXPECTED_SCREENS <= set(result["visited"])
    assert result["problems"] == []
