"""A new PIN at the kiosk, chosen by the member: staff open it from the staff menu, the member
taps and types it twice; the old PIN stops working and a lockout ends. A mismatch, a PIN the
rules refuse, or a card that is not a member's changes nothing."""

from __future__ import annotations

from kiosk.ledger.txn import Kind
from kiosk.session.states import S
from tests.session_support import PIN, make_kiosk, staff_card

NEW = "975318"


def changed(kiosk):
    return [t for t in kiosk.store.outbox() if t.kind is Kind.PIN_CHANGED]


def open_new_pin(kiosk):
    kiosk.tap(staff_card())
    assert kiosk.state == S.staff_menu
    assert kiosk.session.start_new_pin()
    assert kiosk.state == S.new_pin_tap
    kiosk.lift()
    assert kiosk.state == S.new_pin_tap  # staff lift their card; the member taps next


def test_the_member_chooses_a_new_pin_and_only_it_works_then(tmp_path):
    kiosk = make_kiosk(tmp_path)
    chip = kiosk.member(10_000)
    open_new_pin(kiosk)
    kiosk.tap(chip)
    assert kiosk.state == S.new_pin_entry and kiosk.session.view.pin.purpose == "new_pin_first"
    kiosk.enter_pin(NEW)
    assert kiosk.session.view.pin.purpose == "new_pin_repeat" and not changed(kiosk)
    kiosk.enter_pin(NEW)
    assert kiosk.state == S.done and kiosk.session.view.message.code == "new_pin_set"
    (txn,) = changed(kiosk)
    assert NEW not in str(txn) and (txn.balance_after_fen, txn.points_after) == (txn.balance_before_fen, txn.points_before)
    uid = txn.card_uid
    assert kiosk.ledger.check_pin(uid, NEW, kiosk.clock.now())[0]
    assert not kiosk.ledger.check_pin(uid, PIN, kiosk.clock.now())[0]


def test_a_mismatch_or_a_too_simple_pin_asks_again_and_changes_nothing(tmp_path):
    kiosk = make_kiosk(tmp_path)
    chip = kiosk.member(10_000)
    open_new_pin(kiosk)
    kiosk.tap(chip)
    kiosk.enter_pin(NEW)
    kiosk.enter_pin("975319")
    assert kiosk.state == S.new_pin_entry and kiosk.session.view.message.code == "pin_mismatch"
    kiosk.enter_pin("111111")
    kiosk.enter_pin("111111")
    assert kiosk.state == S.new_pin_entry and kiosk.session.view.message.code == "pin_too_simple"
    assert not changed(kiosk)
    kiosk.session.back()
    assert kiosk.state == S.new_pin_tap


def test_a_card_that_is_not_a_members_gets_no_pad(tmp_path):
    kiosk = make_kiosk(tmp_path)
    open_new_pin(kiosk)
    kiosk.tap(kiosk.blank())
    assert kiosk.state == S.new_pin_tap and kiosk.session.view.message.code == "new_pin_card_not_member"
    assert not changed(kiosk)
