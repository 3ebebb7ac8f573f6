"""The real Kivy app offscreen: a card of ours whose member this kiosk does not hold, tapped while
HQ cannot be asked (the real sync client, not connected), shows "this card cannot be checked
offline, please ask at the counter" in both languages (docs/screenshots/card_unknown_offline.*)
and records an incident."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kiosk.reader.card import issue_card
from kiosk.session.sync_link import SyncClientLink
from kiosk.sync.client import SyncClient, SyncSettings
from kiosk.ui.i18n import translator
from tests.session_support import KEYS, make_kiosk
from tests.test_ui_flows import SCREENSHOTS
from tests.ui_harness import UiDriver


def _card_of_another_store(kiosk):
    """A card of ours issued to a member this kiosk does not hold."""
    chip = kiosk.blank()
    kiosk.reader.place(chip)
    issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, "M-elsewhere-9", 1, date(2026, 1, 1))
    kiosk.reader.remove()
    return chip


def test_a_card_not_held_here_cannot_be_checked_offline(tmp_path: Path):
    def offline(store):  # the real client, never connected: HQ is out of reach
        return SyncClientLink(SyncClient(store, SyncSettings("S1", "kiosk-01", "127.0.0.1", 9, data_dir=tmp_path,
                                                             store_replica=True)))

    kiosk = make_kiosk(tmp_path, sync=offline)
    try:
        chip = _card_of_another_store(kiosk)
        ui = UiDriver(kiosk)
        kiosk.tap(chip)
        ui.frames(3)
        assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_unknown_offline")
        assert kiosk.incident_kinds() == ["card_unknown_offline"]
        assert translator().locale == "zh_CN"
        assert "离线" in ui.screen.text.text
        ui.screenshot(SCREENSHOTS / "card_unknown_offline.zh_CN.png")
        ui.tap(ui.screen.language)
        assert "cannot be checked offline" in ui.screen.text.text and "ask at the counter" in ui.screen.text.text
        ui.screenshot(SCREENSHOTS / "card_unknown_offline.en.png")
        ui.tap(ui.screen.language)
    finally:
        kiosk.store.close()


def test_a_card_not_held_here_shows_checking_while_hq_is_asked(mosquitto, tmp_path: Path):
    """Online (the real client on the real broker) but HQ silent: the app shows "checking your card"
    in both languages while it waits, keeps drawing frames, then says the card is unknown here."""
    from tests.sync.test_drain import start_kiosk
    from tests.ui_harness import glyph_problems, layout_problems

    clients = []

    def online(store):
        clients.append(start_kiosk(store, mosquitto, store_replica=True))
        return SyncClientLink(clients[0])

    kiosk = make_kiosk(tmp_path, device="D1", sync=online)
    try:
        assert clients[0].wait_until(lambda: clients[0].connected and clients[0].subscribed, 10)
        chip = _card_of_another_store(kiosk)
        ui = UiDriver(kiosk)
        kiosk.tap(chip)
        ui.frames(3)
        assert kiosk.state == "checking_card" and ui.screen.name == "CheckingCardScreen"
        assert "总部" in ui.screen.text.text
        ui.tap(ui.screen.language)
        assert "asking head office" in ui.screen.text.text
        assert layout_problems(ui, "checking_card") == [] and glyph_problems(ui, "checking_card") == []
        ui.tap(ui.screen.language)
        ui.frames_until(lambda: (kiosk.run(1), kiosk.state != "checking_card")[1], 5)
        ui.frames(3)
        assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_unknown_here")
        assert ui.screen.name == "ResultScreen"
    finally:
        clients[0].stop()
        kiosk.store.close()
