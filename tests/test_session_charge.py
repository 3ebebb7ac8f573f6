"""The charge flow (kiosk/session/flows/charge.py) on the session tests' kiosk: the real store,
the simulated reader with chip models, the card format. A till's charge arrives as a posted
TillCharge with its ticket (what kiosk/till does); the staff menu opens the same path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.ledger.txn import Kind
from kiosk.session.charge_ticket import ChargeOrder, ChargeTicket, TillCancel, TillCharge
from kiosk.session.states import S
from tests.session_support import PIN, STAFF_UID, OfflineLink, make_kiosk, staff_card


@pytest.fixture
def kiosk(tmp_path):
    return make_kiosk(tmp_path)


def till(kiosk, total_fen: int, order: str = "T1:A1", discount: bool = False, timeout_s: int = 60) -> ChargeTicket:
    ticket = ChargeTicket(ChargeOrder(order, total_fen, discount, timeout_s))
    kiosk.session.post(TillCharge(ticket))
    kiosk.run()
    return ticket


def spends(kiosk):
    return [t for t in kiosk.store.outbox() if t.kind is Kind.SPEND]


def test_till_charge_under_the_pin_threshold(kiosk):
    chip = kiosk.member(50_000)
    before = kiosk.account(chip).balance_fen
    ticket = till(kiosk, 12_800)
    assert kiosk.state == S.charge_tap and ticket.stage == "waiting_for_card"
    assert kiosk.session.view.charge.total_fen == 12_800
    kiosk.tap(chip)
    assert kiosk.state == S.charge_confirm and ticket.stage == "confirming"
    view = kiosk.session.view.charge
    assert (view.amount_fen, view.balance_fen, view.balance_after_fen, view.pin_required) == (
        12_800, before, before - 12_800, False
    )
    assert kiosk.session.confirm_charge()
    assert kiosk.state == S.done
    outcome = ticket.outcome
    assert (outcome.status, outcome.amount_fen, outcome.balance_fen) == ("approved", 12_800, before - 12_800)
    assert kiosk.account(chip).balance_fen == before - 12_800
    (spend,) = spends(kiosk)
    assert (spend.payment_ref, spend.txn_id) == ("T1:A1", outcome.txn_id)  # durable before "approved"


def test_discount_and_pin_above_the_threshold(kiosk):
    chip = kiosk.member(500_000)  # gold: 95%
    ticket = till(kiosk, 30_000, discount=True)
    kiosk.tap(chip)
    view = kiosk.session.view.charge
    assert (view.discount_fen, view.amount_fen, view.pin_required) == (1_500, 28_500, True)
    kiosk.session.confirm_charge()
    assert kiosk.state == S.charge_pin and ticket.stage == "pin" and ticket.outcome is None
    assert kiosk.session.view.pin.purpose == "charge"
    kiosk.enter_pin(PIN)
    assert kiosk.state == S.done
    assert (ticket.outcome.status, ticket.outcome.amount_fen, ticket.outcome.discount_fen) == ("approved", 28_500, 1_500)


def test_card_lifted_mid_charge_debits_nothing(kiosk):
    chip = kiosk.member(500_000)
    before = kiosk.account(chip)
    ticket = till(kiosk, 30_000)
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    kiosk.enter_pin(PIN[:3])
    kiosk.lift()
    assert kiosk.state == S.idle
    assert (ticket.outcome.status, ticket.outcome.reason) == ("cancelled", "card_removed")
    assert kiosk.account(chip) == before and spends(kiosk) == []


def test_insufficient_balance_is_declined_with_the_balance(kiosk):
    chip = kiosk.member(10_000)
    balance = kiosk.account(chip).balance_fen
    ticket = till(kiosk, balance + 1)
    kiosk.tap(chip)
    assert kiosk.state == S.notice
    assert kiosk.session.view.message.code == "charge_insufficient_balance"
    assert (ticket.outcome.status, ticket.outcome.reason, ticket.outcome.balance_fen) == (
        "declined", "insufficient_balance", balance
    )
    assert spends(kiosk) == []


def test_no_card_in_time_is_timed_out(kiosk):
    ticket = till(kiosk, 100, timeout_s=30)
    kiosk.wait(29)
    assert ticket.outcome is None
    kiosk.wait(2)
    assert (ticket.outcome.status, kiosk.state) == ("timed_out", S.notice)


def test_the_till_cancels_before_the_member_pays(kiosk):
    chip = kiosk.member(10_000)
    ticket = till(kiosk, 100)
    kiosk.tap(chip)
    kiosk.session.post(TillCancel("T1:OTHER"))
    kiosk.run()
    assert ticket.outcome is None  # another order's cancel changes nothing
    kiosk.session.post(TillCancel("T1:A1"))
    kiosk.run()
    assert (ticket.outcome.status, ticket.outcome.reason) == ("cancelled", "till_cancelled")
    assert not kiosk.session.confirm_charge() and spends(kiosk) == []


def test_member_cancels(kiosk):
    chip = kiosk.member(10_000)
    ticket = till(kiosk, 100)
    kiosk.tap(chip)
    assert kiosk.session.cancel_charge()
    assert (ticket.outcome.status, ticket.outcome.reason) == ("cancelled", "member_cancelled")


def test_a_busy_kiosk_declines_at_once(kiosk):
    chip = kiosk.member(10_000)
    kiosk.tap(chip)
    assert kiosk.state == S.home
    ticket = till(kiosk, 100)
    assert (ticket.outcome.status, ticket.outcome.reason, kiosk.state) == ("declined", "kiosk_busy", S.home)


def test_blocked_card_is_declined(kiosk):
    chip = kiosk.member(10_000)
    uid = chip.uid.hex().upper()
    kiosk.store.commit(kiosk.ledger.block_card(uid, "lost", kiosk.clock.now()))
    ticket = till(kiosk, 100)
    kiosk.tap(chip)
    assert (ticket.outcome.status, ticket.outcome.reason) == ("declined", "card_blocked")


def test_wrong_pins_lock_and_decline(kiosk):
    chip = kiosk.member(500_000)
    ticket = till(kiosk, 30_000)
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    for _ in range(kiosk.ledger.rules.pin.max_attempts):
        kiosk.enter_pin("135790")
    assert (ticket.outcome.status, ticket.outcome.reason, kiosk.state) == ("declined", "pin_locked", S.notice)
    assert spends(kiosk) == []


def test_offline_limit_counts_what_the_card_spent_since_hq_confirmed(kiosk):
    chip = kiosk.member(100_000)
    limit = kiosk.ledger.rules.offline.max_spend_fen_per_card
    kiosk.session.sync = OfflineLink(kiosk.clock.now() - timedelta(hours=kiosk.ledger.rules.offline.after_hours + 1))
    first = till(kiosk, limit - 100, order="T1:A1")
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    if kiosk.state == S.charge_pin:
        kiosk.enter_pin(PIN)
    assert first.outcome.status == "approved"
    kiosk.lift()
    kiosk.wait(60)
    second = till(kiosk, 101, order="T1:A2")
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    assert (second.outcome.status, second.outcome.reason) == ("declined", "offline_limit")
    kiosk.lift()
    kiosk.wait(60)
    third = till(kiosk, 100, order="T1:A3")
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    assert third.outcome.status == "approved"


def test_staff_menu_charge_is_attributed_to_the_staff_card(kiosk):
    chip = kiosk.member(500_000)
    kiosk.tap(staff_card())
    assert kiosk.state == S.staff_menu
    assert kiosk.session.start_staff_charge()
    assert kiosk.state == S.charge_amount
    kiosk.lift()
    assert kiosk.state == S.charge_amount  # staff lift their card to key the amount
    assert kiosk.session.charge_amount(25_000)
    assert kiosk.state == S.charge_tap
    kiosk.tap(chip)
    assert kiosk.session.view.charge.discount_fen == 0  # staff key what the member pays
    kiosk.session.confirm_charge()
    kiosk.enter_pin(PIN)
    assert kiosk.state == S.done
    (spend,) = spends(kiosk)
    assert spend.payment_ref.startswith(f"staff-{STAFF_UID}:") and spend.amount_fen == 25_000
    assert "staff_charge" in kiosk.incident_kinds()


class _Paused(OfflineLink):
    def money_paused(self) -> str:
        return "disk_nearly_full"

    def online(self) -> bool:
        return True


def test_no_charge_while_money_is_paused(kiosk):
    kiosk.member(10_000)
    kiosk.session.sync = _Paused(None)
    ticket = till(kiosk, 100)
    assert (ticket.outcome.status, ticket.outcome.reason, kiosk.state) == ("declined", "money_paused", S.idle)
    kiosk.tap(staff_card())
    assert kiosk.session.start_staff_charge()
    assert kiosk.state == S.staff_menu and kiosk.session.view.message.code == "money_paused"
