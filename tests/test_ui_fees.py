"""The card fee and the staff credit through the real Kivy screens: the offer says the fee and its
waiver before anything is asked; after the card is written, a ¥500 top-up waives it; the staff
member who tapped first is credited. Screens saved in both languages to docs/screenshots/."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from kiosk.ledger.money import format_fen
from kiosk.ledger.sales_rules import FeeRules, FreeCardCampaign, RewardStep, StaffRewardRules
from kiosk.ledger.sample import default_rules
from kiosk.session.settings import SessionSettings
from tests import ui_flows
from tests.session_support import PIN, STAFF_UID, make_kiosk
from tests.test_ui_flows import shooter
from tests.ui_harness import UiDriver

RULES = replace(
    default_rules(),
    fees=FeeRules(3800, 50_000),
    staff_rewards=StaffRewardRules(800, (RewardStep(50_000, 800),)),
)
SETTINGS = SessionSettings(staff_uids=frozenset({STAFF_UID}), staff_ids={STAFF_UID: "S-0012"})


@pytest.fixture
def ui(tmp_path):
    kiosk = make_kiosk(tmp_path, SETTINGS, RULES)
    ui_flows.seed(kiosk)
    yield UiDriver(kiosk)
    kiosk.store.close()


def test_sign_up_says_the_fee_then_a_500_top_up_waives_it_and_credits_the_staff_member(ui):
    k, visit = ui.kiosk, shooter(ui, [])
    k.tap(k.ui_cards.staff)
    ui.frames(3)
    assert k.session.state == "staff_menu"
    visit("staff_credit_armed")
    ui.tap(ui.screen.exit)
    k.lift()
    k.tap(k.ui_cards.blank)
    ui.frames(3)
    assert "38.00" in ui.screen.fee.text and "500.00" in ui.screen.fee.text
    visit("signup_offer_fee")
    ui.tap(ui.screen.start)
    ui_flows.press_digits(ui, "13912345678")
    ui_flows.press_digits(ui, "19900512")
    ui.tap(ui.screen.next)
    ui.tap(ui.screen.accept)
    ui_flows.press_digits(ui, PIN)
    ui_flows.press_digits(ui, PIN)
    ui.pump()
    assert k.session.state == "topup_amount", k.session.view.message
    visit("signup_fee_amount")
    ui.tap_text(format_fen(50000))
    assert k.session.state == "topup_confirm"
    visit("signup_fee_confirm")
    ui.tap(ui.screen.method_buttons["staff_cash"])
    k.lift()
    k.tap(k.ui_cards.staff)
    ui.frames(3)
    assert k.session.state == "done", k.session.view.message
    visit("signup_fee_waived")
    sale = {str(t.kind): t for t in k.store.outbox() if t.member_id == k.session.view.member.member_id}
    assert (sale["card_fee"].amount_fen, sale["card_fee"].waiver) == (0, "topup")
    assert (sale["sign_up"].staff_id, sale["top_up"].staff_id, sale["top_up"].staff_reward_fen) == ("S-0012",) * 2 + (800,)


def test_the_offer_says_a_free_card_campaign(tmp_path):
    rules = replace(RULES, fees=replace(RULES.fees, free_card_campaigns=(
        FreeCardCampaign("opening", date(2026, 5, 20), date(2026, 6, 30)),)))
    kiosk = make_kiosk(tmp_path, SETTINGS, rules)
    ui = UiDriver(kiosk)
    kiosk.tap(kiosk.blank())
    ui.frames(3)
    assert "38.00" in ui.screen.fee.text
    shooter(ui, [])("signup_offer_free")
    kiosk.store.close()
