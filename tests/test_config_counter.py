"""[device] role = "counter": the device at the cash desk, with its compact layout at a counter's
display sizes; a bad role or a screen the role has no layout for names the file, field and fix."""

from __future__ import annotations

import pytest

from kiosk.app.config import COUNTER_SCREENS, SCREENS, ConfigError, load_config
from kiosk.ui.theme import MIN_TOUCH_PX, Metrics

DEVICE = '[device]\nid = "store01-c1"\nstore = "store01"\ndata_dir = "/var/lib/kiosk"\n'


def load(tmp_path, extra: str):
    path = tmp_path / "kiosk.toml"
    path.write_text(DEVICE + extra)
    return load_config(path)


def test_a_counter_gets_the_counter_display_by_default_and_a_kiosk_keeps_its_own(tmp_path):
    counter = load(tmp_path, 'role = "counter"\n').device
    assert (counter.role, counter.screen) == ("counter", COUNTER_SCREENS[0])
    assert load(tmp_path, 'role = "counter"\nscreen = "800x480"\n').device.screen == "800x480"
    kiosk = load(tmp_path, "").device
    assert (kiosk.role, kiosk.screen) == ("kiosk", SCREENS[0])


@pytest.mark.parametrize(("extra", "field", "says"), [
    ('role = "till"\n', "device.role", "counter"),
    ("role = 1\n", "device.role", ""),
    ('role = "counter"\nscreen = "1280x800"\n', "device.screen", "480x320"),
    ('screen = "480x320"\n', "device.screen", 'role = "counter"'),
])
def test_a_bad_role_or_a_screen_without_a_layout_names_file_field_and_fix(tmp_path, extra, field, says):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, extra)
    text = str(err.value)
    assert "kiosk.toml" in text and field in text and says in text


@pytest.mark.parametrize("size", COUNTER_SCREENS)
def test_the_counter_layout_keeps_touch_targets_and_readable_text(size):
    width, height = (int(v) for v in size.split("x"))
    m = Metrics.for_window(width, height, role="counter")
    kiosk = Metrics.for_window(width, height)
    assert min(m.touch, m.touch_big) >= MIN_TOUCH_PX
    assert m.font_body >= 16 and m.font_money >= 40
    assert m.font_body >= kiosk.font_body and m.padding <= kiosk.padding  # bigger text, less margin
