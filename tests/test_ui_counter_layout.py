"""The counter device's compact layout (kiosk.toml [device] role = "counter") at each counter
display size, in both languages, on the charge screens a counter shows and its top-up (the amount
keypad, with and without the hint line above it): no clipped text, no missing glyph, no touch
target under 48 px; with KIOSK_FULL=1 every other journey as well. The first size's screens are
saved to docs/screenshots/counter_*.png (shown in the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.app.config import COUNTER_SCREENS

HERE = Path(__file__).resolve().parent
SHOTS = HERE.parent / "docs" / "screenshots"
CHARGE_SCREENS = {"charge_tap", "charge_confirm", "charge_pin", "charge_done", "charge_declined", "charge_amount"}
TOPUP_SCREENS = {"topup_amount", "topup_too_much", "topup_confirm", "paying", "topup_done"}


@pytest.mark.parametrize("size", COUNTER_SCREENS)
def test_the_counter_layout_fits_at_each_counter_size(size, tmp_path):
    env = dict(os.environ, KIOSK_TEST_KIVY_HOME=str(tmp_path / "kivy"))
    shots = [str(SHOTS)] if size == COUNTER_SCREENS[0] and os.environ.get("KIOSK_FULL") != "1" else []
    done = subprocess.run([sys.executable, str(HERE / "ui_layout_check.py"), size, "counter", *shots],
                          capture_output=True, text=True, timeout=240, env=env, cwd=HERE.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["detects_clipping"] and result["detects_tofu"]
    assert CHARGE_SCREENS | TOPUP_SCREENS <= set(result["visited"])
    assert result["problems"] == []
