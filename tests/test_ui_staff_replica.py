"""The staff menu's member-replica line, in both languages: a store snapshot's load progress
(rounded down: 2 of 3 chunks is 66%), loaded, or not yet."""

from __future__ import annotations

from kiosk.ui.i18n import translator
from kiosk.ui.screens.staff import replica_text


def test_the_replica_line_in_both_languages():
    t = translator()
    assert t.locale == "zh_CN"
    try:
        assert replica_text((2, 3), True) == "正在载入 2/3（66%）"
        assert replica_text((0, 0), True) == "已载入" and replica_text((0, 0), False) == "尚未载入"
        t.set_locale("en")
        assert replica_text((0, 40), False) == "loading 0/40 (0%)"
        assert replica_text((40, 40), False) == "loading 40/40 (100%)"
        assert replica_text((0, 0), True) == "loaded" and replica_text((0, 0), False) == "not loaded yet"
    finally:
        t.set_locale("zh_CN")
