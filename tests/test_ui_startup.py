"""The app makes only the idle screen before its first frame (making all of them was a second of
`kiosk run`'s start-up), then the others one a frame; a state whose screen is not made yet gets
it made on the spot. `kiosk run` shows it before there is a session at all, and a card tapped
before the session is wired is served once it is."""

from __future__ import annotations

from pathlib import Path

from kiosk.ui.screen_map import SCREEN_FOR
from tests.session_support import make_kiosk
from tests.ui_harness import UiDriver, open_window


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


def test_a_card_tapped_before_the_session_is_wired_is_served(tmp_path: Path):
    """`kiosk run` shows the idle screen before it has a session and wires one on the frame after
    the first (kiosk/app/startup.py): a card's button pressed before then is kept, tapped once the
    reader is open, and the member comes up, through the real app and the simulated kiosk."""
    open_window()  # before anything imports Kivy's window
    from kiosk.app.simulate import demo_config
    from kiosk.app.startup import open_app
    from kiosk.ledger.money import format_fen

    app, startup = open_app(demo_config(tmp_path), simulate=True, locale="zh_CN")
    try:
        ui = UiDriver(None, app=app, start_frames=1)  # the first frame: the idle screen, nothing wired yet
        assert ui.screen.name == "AttractScreen" and app.session is None and startup.kiosk is None
        ui.tap(ui.screen.sim_buttons["Member card"], frames=0)
        assert startup.early_taps == ["Member card"] and app.session is None
        ui.frames_until(lambda: app.session is not None and app.session.state == "home"
                        and ui.screen.name == "MemberScreen")
        assert startup.early_taps == [] and ui.screen.session is app.session
        uid = startup.kiosk.reader.wallet.cards["Member card"].uid.hex().upper()
        balance = startup.kiosk.store.ledger.state.card_account(uid)[2].balance_fen
        assert ui.screen.balance.text == format_fen(balance) == "¥725.00"
        startup.tap("Remove card")  # from now on straight to the reader
        ui.frames_until(lambda: app.session.state == "idle" and ui.screen.name == "AttractScreen")
        assert ui.screen.session is app.session  # the idle screen made before the session acts on it now
    finally:
        startup.close()
