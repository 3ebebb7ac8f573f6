"""The app makes only the idle screen before its first frame (making all of them was a second of
`kiosk run`'s start-up), then the others one a frame; a state whose screen is not made yet gets
it made on the spot."""

from __future__ import annotations

from pathlib import Path

from kiosk.ui.screen_map import SCREEN_FOR
from tests.session_support import make_kiosk
from tests.ui_harness import UiDriver


def test_only_the_idle_screen_is_made_before_the_first_frame_then_the_rest(tmp_path: Path):
    kiosk = make_kiosk(tmp_path)
    try:
        from kiosk.ui.app import KioskApp

        app = KioskApp(kiosk.session, pump=False)
        made_at_build = []
        original = app.build

        def build():
            root = original()
            made_at_build.extend(app._made)
            return root

        app.build = build
        ui = UiDriver(kiosk, app=app)
        assert made_at_build == ["AttractScreen"]
        ui.frames_until(lambda: set(app._made) == set(SCREEN_FOR.values()), 20)
        assert ui.screen.name == "AttractScreen"
        kiosk.tap(kiosk.member(balance_fen=10_000))
        ui.frames(2)
        assert ui.screen.name == "MemberScreen" and ui.screen is app.screen_for(kiosk.state)
    finally:
        kiosk.store.close()


def test_a_screen_not_made_yet_is_made_when_its_state_comes(tmp_path: Path):
    kiosk = make_kiosk(tmp_path)
    try:
        from kiosk.ui.app import KioskApp

        app = KioskApp(kiosk.session, pump=False)
        app._make_next_screen = lambda _dt: None  # nothing made after the first frame
        ui = UiDriver(kiosk, app=app)
        assert "MemberScreen" not in app._made
        kiosk.tap(kiosk.member())
        ui.frames(2)
        assert ui.screen.name == "MemberScreen"
    finally:
        kiosk.store.close()
