"""The real Kivy app on an offscreen 800x480 window, pressed like a member would: sign-up,
top-up, redemption and a PIN lockout. Every screen on the way is saved in both languages to
docs/screenshots/ (committed, shown in the README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.ledger.money import format_fen
from kiosk.ledger.txn import Kind
from kiosk.ui.i18n import translator
from tests import ui_flows
from tests.session_support import PIN, make_kiosk
from tests.ui_harness import UiDriver, open_window

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def ui(tmp_path):
    kiosk = make_kiosk(tmp_path)
    ui_flows.seed(kiosk)
    yield UiDriver(kiosk)
    kiosk.store.close()


def account(ui: UiDriver, chip):
    return ui.kiosk.ledger.state.card_account(ui_flows.uid_of(chip))


def committed(ui: UiDriver, kind: Kind) -> list:
    """Transactions of a kind in the store's outbox (nothing is acknowledged: no HQ here)."""
    return [t for t in ui.kiosk.store.outbox() if t.kind == kind]


def shooter(ui: UiDriver, shots: list[str]):
    """visit(): save the screen in Chinese, switch with the on-screen button, save it in English, switch back."""

    def visit(name: str) -> None:
        assert translator().locale == "zh_CN"
        ui.screenshot(SCREENSHOTS / f"{name}.zh_CN.png")
        ui.tap(ui.screen.language)
        assert translator().locale == "en"
        ui.screenshot(SCREENSHOTS / f"{name}.en.png")
        ui.tap(ui.screen.language)
        shots.append(name)

    return visit


def test_sign_up_through_the_screens_creates_the_member_with_the_welcome_gift(ui):
    shots: list[str] = []
    ui_flows.sign_up(ui, shooter(ui, shots))
    found = account(ui, ui.kiosk.ui_cards.blank)
    assert found is not None
    _card, member, acct = found
    assert member.phone == "13912345678" and member.birthday.isoformat() == "1990-05-12"
    assert acct.points == ui.kiosk.ledger.rules.new_member.points
    assert [t.member_id for t in committed(ui, Kind.SIGN_UP)][-1] == member.member_id
    assert "signup_done" in shots and (SCREENSHOTS / "signup_done.en.png").stat().st_size > 5000


def test_top_up_credits_amount_and_bonus_only_after_staff_confirms(ui):
    before = account(ui, ui.kiosk.ui_cards.member)[2].balance_fen
    shown = ui_flows.top_up(ui, shooter(ui, []))
    after = account(ui, ui.kiosk.ui_cards.member)[2].balance_fen
    assert after - before == 50000 + ui.kiosk.ledger.rules.topup.bonus_for(50000)
    assert shown == after


def test_home_screen_shows_the_balance_in_big_money_digits(ui):
    ui.kiosk.tap(ui.kiosk.ui_cards.member)
    ui.frames(3)
    balance = account(ui, ui.kiosk.ui_cards.member)[2].balance_fen
    assert ui.screen.balance.text == format_fen(balance)
    assert ui.screen.balance.font_size >= 2.5 * ui.screen.balance_caption.font_size


def test_redeeming_a_reward_takes_its_points_after_the_pin(ui):
    ui_flows.redeem(ui, shooter(ui, []))
    redemptions = committed(ui, Kind.REDEMPTION)
    assert [t.reward_id for t in redemptions] == ["coffee"]
    txn = redemptions[0]
    assert txn.points_before - txn.points_after == ui.kiosk.ledger.rules.reward("coffee").points_cost
    assert account(ui, ui.kiosk.ui_cards.rich)[2].points == txn.points_after


def test_rewards_are_picture_tiles_with_their_cost_and_the_rules_picture_or_the_gift(ui):
    ui.kiosk.tap(ui.kiosk.ui_cards.rich)
    ui.frames(3)
    ui.tap(ui.screen.redeem)
    tiles = {tile.reward.reward_id: tile for tile in ui.screen.buttons}
    assert set(tiles) == {"coffee", "tote", "mask-set", "voucher"}
    assert Path(tiles["coffee"].picture.source).name == "coffee.png"  # named in the rules
    assert Path(tiles["mask-set"].picture.source).name == "gift.png"  # the rules name none
    assert all(tile.picture.texture is not None for tile in tiles.values())  # the file was drawn
    assert tiles["coffee"].title.text == "美式咖啡一杯" and tiles["coffee"].detail.text == "300 积分"
    assert tiles["voucher"].detail.text == "100 积分起"
    bottom = min(tile.y for tile in tiles.values())
    assert bottom - ui.screen.back.top < 2 * ui.screen.m.spacing  # the tiles reach down to the back button
    ui.tap(tiles["tote"])
    assert ui.kiosk.session.state == "redeem_confirm"
    assert Path(ui.screen.picture.source).name == "bag.png"


def test_pin_lockout_shows_the_time_left_and_redeems_nothing(ui):
    shots: list[str] = []

    def visit(name: str) -> None:
        shooter(ui, shots)(name)
        if name == "pin_locked":
            minutes = ui.kiosk.ledger.rules.pin.lockout_minutes
            assert f"请 {minutes} 分钟后再试" in ui.label_texts(), ui.label_texts()  # not "15 分 0 秒"
        if name == "pin_wrong":
            assert "●" not in ui.screen.dots.label.text  # typed digits were cleared; none ever shown

    ui_flows.pin_lockout(ui, visit)
    assert "pin_locked" in shots
    assert not committed(ui, Kind.REDEMPTION)
    failures = committed(ui, Kind.PIN_FAILED)
    assert len(failures) == ui.kiosk.ledger.rules.pin.max_attempts
    assert account(ui, ui.kiosk.ui_cards.rich)[1].pin_locked_until is not None
    assert PIN not in " ".join(ui.label_texts())


def test_paying_with_the_card_at_the_till_and_from_the_staff_menu(ui):
    shots: list[str] = []
    rich_before = account(ui, ui.kiosk.ui_cards.rich)[2].balance_fen
    ui_flows.charge(ui, shooter(ui, shots))
    assert {"charge_tap", "charge_confirm", "charge_pin", "charge_done", "charge_amount"} <= set(shots)
    spends = committed(ui, Kind.SPEND)
    # ¥300 less the gold tier's 5%, the ¥10 voucher and a quarter of the points it may take (20% of ¥275)
    paid = 28500 - 1000 - 27500 * 20 // 100 // 4
    assert [(t.payment_ref[:6], t.amount_fen) for t in spends] == [("T1:A1", paid), ("staff-", 4550)]
    assert (spends[0].voucher_fen, spends[0].points_cash_fen) == (1000, 1375)
    assert account(ui, ui.kiosk.ui_cards.rich)[2].balance_fen == rich_before - paid
    assert PIN not in " ".join(ui.label_texts())


def test_lost_unknown_and_staff_cards_each_get_their_screen(ui):
    ui_flows.short_paths(ui, shooter(ui, []))


def test_random_touches_anywhere_keep_screen_and_session_in_step(ui):
    """Touch input is hostile too: 400 taps at random points, with cards coming and going, never
    raise, never leave the screen showing another state than the session's, and never move money
    without a payment (no top-up can be confirmed: no staff card is ever tapped)."""
    import random

    from kivy.tests.common import UnitTestTouch

    rng = random.Random(7)
    k = ui.kiosk
    top_ups_before = len(committed(ui, Kind.TOP_UP))
    width, height = ui.window.size
    seen: set[str] = set()
    for i in range(400):
        if i % 15 == 0 and k.session.state == "idle":
            k.tap(rng.choice([k.ui_cards.member, k.ui_cards.rich, k.ui_cards.blank]))
        if i % 97 == 96:
            k.lift()
        touch = UnitTestTouch(rng.uniform(0, width - 1), rng.uniform(0, height - 1))
        touch.touch_down()
        if rng.random() < 0.2:
            touch.touch_down()  # a double tap: the same finger lands twice
        touch.touch_up()
        ui.frames(1)
        if rng.random() < 0.1:
            k.wait(rng.choice([1, 5, 31]))
            ui.frames(2)
        assert k.session.state in ui.screen.states, (k.session.state, ui.screen.name)
        seen.add(k.session.state)
    assert len(seen) >= 6, seen  # the taps really went places
    assert len(committed(ui, Kind.TOP_UP)) == top_ups_before


def test_simulated_kiosk_cards_tapped_with_the_on_screen_buttons(tmp_path):
    """`kiosk run --simulate` as assembled by kiosk.app.assembly: demo cards on the simulated reader, the
    reader thread, the session pumped by the app's clock; the buttons on the attract screen tap."""
    open_window()  # before anything imports Kivy's window
    from kiosk.app.assembly import build_kiosk
    from kiosk.app.simulate import BUTTON_LABELS, demo_config
    from kiosk.ui.app import KioskApp

    kiosk = build_kiosk(demo_config(tmp_path), simulate=True)
    try:
        session = kiosk.parts.session
        app = KioskApp(session, simulated_cards=tuple((n, n) for n in BUTTON_LABELS), on_simulated_tap=kiosk.desk.tap)
        kiosk.parts.worker.post = app.post
        kiosk.parts.start()
        ui = UiDriver(None, app=app)
        buttons = ui.screen.sim_buttons
        assert buttons["Member card"].text == "会员卡"
        ui.tap(buttons["Member card"])
        ui.frames_until(lambda: session.state == "home" and ui.screen.name == "MemberScreen")
        uid = kiosk.reader.wallet.cards["Member card"].uid.hex().upper()
        balance = kiosk.store.ledger.state.card_account(uid)[2].balance_fen
        assert ui.screen.balance.text == format_fen(balance) == "¥725.00"  # ¥200 + ¥500 + ¥25 bonus
        kiosk.desk.tap("Remove card")
        ui.frames_until(lambda: session.state == "idle" and ui.screen.name == "AttractScreen")
        ui.tap(ui.screen.sim_buttons["Lost card"])  # at once: the screen takes touches from its first frame
        ui.frames_until(lambda: session.state != "idle")
        assert session.state == "blocked", session.view
    finally:
        kiosk.close()


def test_check_in_rating_and_referral_through_the_screens(ui):
    shots: list[str] = []
    member = account(ui, ui.kiosk.ui_cards.member)
    points = member[2].points
    ui_flows.engage(ui, shooter(ui, shots))
    rules = ui.kiosk.ledger.rules.engagement
    assert account(ui, ui.kiosk.ui_cards.member)[2].points == points + rules.checkin_points + rules.referrer_points
    assert len(committed(ui, Kind.CHECK_IN)) == 1
    survey = committed(ui, Kind.SURVEY)
    assert [(t.rating, t.reasons) for t in survey] == [(4, rules.survey_reasons[0])]
    friend = account(ui, ui.kiosk.ui_cards.blank)
    assert friend[1].referred_by == member[1].member_id
    assert friend[2].points == ui.kiosk.ledger.rules.new_member.points + rules.referee_points
    assert shots == ["check_in_done", "survey", "survey_thanks", "signup_referral_unknown", "signup_referral_done"]


def test_my_details_behind_the_pin_phone_twice_birthday_and_the_points_once(ui):
    shots: list[str] = []
    chip = ui.kiosk.ui_cards.member
    points = account(ui, chip)[2].points
    ui_flows.profile(ui, shooter(ui, shots))
    _card, member, acct = account(ui, chip)
    assert (member.phone, member.birthday.isoformat(), member.birthday_edited) == ("13712345678", "1988-03-15", True)
    assert acct.points == points + ui.kiosk.ledger.rules.engagement.profile_points
    assert [t.points_delta for t in committed(ui, Kind.PROFILE_UPDATE)] == [ui.kiosk.ledger.rules.engagement.profile_points]
    assert shots == ["profile_pin", "profile_edit", "profile_phone_mismatch", "profile_done"]


def test_member_notes_on_the_staff_menu_only(ui):
    shots: list[str] = []
    ui_flows.staff_notes(ui, shooter(ui, shots))
    assert shots == ["staff_notes_tap", "staff_notes"]
    assert ui.kiosk.session.state == "idle"


def test_a_card_made_at_hq_is_written_behind_the_pin_through_the_screens(ui):
    shots: list[str] = []
    ui_flows.card_write(ui, shooter(ui, shots))
    assert shots == ["card_write_pin", "card_writing", "card_written"]
    (txn,) = committed(ui, Kind.CARD_WRITTEN)
    assert txn.card_seq == 2 and not ui.kiosk.ledger.state.cards[txn.card_uid].awaiting_write
    assert (SCREENSHOTS / "card_write_pin.en.png").stat().st_size > 5000
