"""Finding a font with Chinese glyphs at run time, and saying so clearly when there is none."""

from __future__ import annotations

import logging

from kiosk.ui import fonts


def test_this_machine_has_the_font_setup_installs():
    choice = fonts.find_cjk_font()
    assert choice.path is not None, fonts.INSTALL_HINT
    assert choice.path.endswith((".ttc", ".ttf", ".otf"))


def test_kiosk_font_overrides_the_search(tmp_path, monkeypatch):
    font = tmp_path / "shop.ttf"
    font.write_bytes(b"\x00\x01\x00\x00")
    monkeypatch.setenv("KIOSK_FONT", str(font))
    assert fonts.find_cjk_font() == fonts.FontChoice(str(font), "KIOSK_FONT")


def test_a_wrong_kiosk_font_is_logged_and_the_search_goes_on(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KIOSK_FONT", str(tmp_path / "missing.ttf"))
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.fonts"):
        choice = fonts.find_cjk_font()
    assert "missing.ttf" in caplog.text
    assert choice.source != "KIOSK_FONT"


def test_without_any_chinese_font_the_choice_says_none(monkeypatch):
    monkeypatch.delenv("KIOSK_FONT", raising=False)
    monkeypatch.setattr(fonts, "KNOWN_CJK_FONTS", ())
    monkeypatch.setattr(fonts.shutil, "which", lambda _name: None)
    assert fonts.find_cjk_font() == fonts.FontChoice(None, "none")
    assert "fonts-wqy-microhei" in fonts.INSTALL_HINT
