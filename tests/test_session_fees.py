"""The card fee at the kiosk: said on the sign-up offer, then paid (or waived by a big enough
top-up) right after the card is written, through the top-up's own payment methods; and the
staff member who taps their card before the sale is credited with it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.app.config_error import ConfigError
from kiosk.ledger.sales_rules import FeeRules, RewardStep, StaffRewardRules
from kiosk.ledger.sample import default_rules
from kiosk.session.settings import SessionSettings, parse_session
from tests.session_support import STAFF_UID, make_kiosk, staff_card

RULES = replace(
    default_rules(),
    fees=FeeRules(3800, 50_000),
    staff_rewards=StaffRewardRules(800, (RewardStep(50_000, 800),)),
)
SETTINGS = SessionSettings(staff_uids=frozenset({STAFF_UID}), staff_ids={STAFF_UID: "S-0012"})


def signed_up(tmp_path, staff_tap: bool = True, **kiosk_kw):
    """A kiosk with the fee rules (and `kiosk_kw`: a printer, a shop), a blank card signed up
    (the staff card tapped just before); the session is on the top-up screen that collects the fee."""
    kiosk = make_kiosk(tmp_path, SETTINGS, RULES, **kiosk_kw)
    s = kiosk.session
    if staff_tap:
        kiosk.tap(staff_card())
        assert kiosk.state == "staff_menu" and s.view.message.code == "staff_credit_armed"
        assert s.view.message.params == {"staff_id": "S-0012", "minutes": 5}
        kiosk.lift()
    chip = kiosk.blank()
    kiosk.tap(chip)
    fee = s.view.card_fee
    assert (fee.fee_fen, fee.waiver_topup_fen, fee.campaign) == (3800, 50_000, "")  # said before anything
    s.start_signup()
    s.submit_details("13912345678", "Li", None)
    s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    kiosk.run()
    return kiosk, chip


def pay_staff_cash(kiosk) -> None:
    assert kiosk.session.pay("staff_cash")
    kiosk.lift()
    kiosk.tap(staff_card())


def test_a_500_top_up_waives_the_fee_and_credits_the_staff_member(tmp_path):
    kiosk, chip = signed_up(tmp_path)
    s = kiosk.session
    assert kiosk.state == "topup_amount"
    options = {o.amount_fen: (o.fee_fen, o.fee_waived) for o in s.view.topup.presets}
    assert options[0] == (3800, False)  # the card fee alone
    assert options[50_000] == (0, True)  # exactly the threshold: waived
    assert options[10_000] == (3800, False)
    assert s.choose_amount(50_000)
    pay_staff_cash(kiosk)
    assert kiosk.state == "done" and s.view.message.params["fee_waived"] is True
    account = kiosk.account(chip)
    assert (account.balance_fen, account.card_fee_due_fen) == (52_500, 0)  # the bonus step, no fee
    txns = kiosk.store.outbox()
    signup, fee, topup = (next(t for t in txns if t.kind == k) for k in ("sign_up", "card_fee", "top_up"))
    assert (signup.amount_fen, signup.staff_id, signup.staff_reward_fen) == (3800, "S-0012", 800)
    assert (fee.amount_fen, fee.waiver, fee.balance_delta_fen) == (0, "topup", 0)
    assert (topup.amount_fen, topup.staff_id, topup.staff_reward_fen) == (50_000, "S-0012", 800)


def test_a_smaller_top_up_pays_the_fee_beside_it(tmp_path):
    kiosk, chip = signed_up(tmp_path, staff_tap=False)
    s = kiosk.session
    assert s.choose_amount(10_000)
    assert s.view.topup.chosen.fee_fen == 3800
    assert s.pay("staff_cash") and s.view.payment.requested_fen == 13_800
    kiosk.lift()
    kiosk.tap(staff_card())  # whoever confirmed the cash is credited
    account = kiosk.account(chip)
    assert (account.balance_fen, account.card_fee_due_fen) == (10_000, 0)
    txns = kiosk.store.outbox()
    fee = next(t for t in txns if t.kind == "card_fee")
    topup = next(t for t in txns if t.kind == "top_up")
    assert (fee.amount_fen, fee.waiver, fee.staff_id) == (3800, "", "S-0012")
    assert (topup.amount_fen, topup.staff_reward_fen) == (10_000, 0)  # under the reward step
    assert next(t for t in txns if t.kind == "sign_up").staff_id == ""  # nobody tapped during sign-up


def test_the_fee_alone_and_leaving_without_paying(tmp_path):
    kiosk, chip = signed_up(tmp_path, staff_tap=False)
    s = kiosk.session
    assert s.back() and kiosk.state == "home"  # left without paying: still owed
    assert kiosk.account(chip).card_fee_due_fen == 3800
    assert s.start_topup() and s.view.topup.presets[0].fee_fen == 3800  # the next top-up collects it
    assert s.choose_amount(0)
    pay_staff_cash(kiosk)
    assert s.view.message.code == "card_fee_paid" and s.view.message.params["fee_fen"] == 3800
    assert (kiosk.account(chip).balance_fen, kiosk.account(chip).card_fee_due_fen) == (0, 0)


def test_no_fee_rules_no_fee_step(tmp_path):
    kiosk = make_kiosk(tmp_path, SETTINGS)
    kiosk.tap(kiosk.blank())
    assert kiosk.session.view.card_fee is None


def test_the_credit_is_for_the_next_visit_only_and_within_its_window(tmp_path):
    kiosk = make_kiosk(tmp_path, SETTINGS, RULES)
    kiosk.tap(staff_card())
    kiosk.lift()
    kiosk.wait(301)  # one second past the window
    member = kiosk.member()
    kiosk.tap(member)
    assert kiosk.session.visit.staff_id == ""
    kiosk.lift()
    kiosk.tap(staff_card())
    kiosk.lift()
    kiosk.wait(300)  # the last second of the window
    kiosk.tap(member)
    assert kiosk.session.visit.staff_id == "S-0012"
    kiosk.lift()
    kiosk.tap(member)  # the next visit: credited once, not again
    assert kiosk.session.visit.staff_id == ""


def test_staff_members_in_the_config_are_checked_naming_the_field():
    settings = parse_session({"staff_members": {"5a:5a:5a:5a": "S-0012"}, "staff_cards": ["04A1B2C3"]})
    assert settings.staff_ids == {STAFF_UID: "S-0012"} and settings.staff_uids == {STAFF_UID, "04A1B2C3"}
    with pytest.raises(ConfigError, match="session.staff_members"):
        parse_session({"staff_members": {"nothex": "S-1"}})
    with pytest.raises(ConfigError, match=r"session.staff_members.5A5A5A5A"):
        parse_session({"staff_members": {"5A5A5A5A": "has space"}})
    with pytest.raises(ConfigError, match="session.staff_members"):
        parse_session({"staff_members": ["5A5A5A5A"]})


def test_the_cash_acceptor_pays_the_fee_and_the_ledger_splits_what_was_counted(tmp_path):
    kiosk, chip = signed_up(tmp_path, staff_tap=False)
    s = kiosk.session
    assert s.choose_amount(10_000) and s.pay("cash_acceptor")
    assert s.view.payment.requested_fen == 13_800
    kiosk.pulses.count += 138  # ¥1 a pulse
    kiosk.run()
    assert kiosk.state == "done"
    account = kiosk.account(chip)
    assert (account.balance_fen, account.card_fee_due_fen) == (10_000, 0)
    fee = next(t for t in kiosk.store.outbox() if t.kind == "card_fee")
    assert (fee.amount_fen, fee.staff_id) == (3800, "")  # nobody tapped: nobody credited
