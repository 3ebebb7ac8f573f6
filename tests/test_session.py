"""Every session path, driven with the simulated reader, the real store and the card format."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, timedelta

import pytest

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.txn import Kind
from kiosk.reader import chips
from kiosk.reader.card import issue_card, read_member_card
from kiosk.session.inputs import CardKind, CardPresented, CardRead, ReaderStatus
from kiosk.session.reader_worker import ReaderWorker
from kiosk.session.settings import SessionSettings
from kiosk.store.errors import StoreWriteError
from kiosk.store.store import Store, state_invariant_problems
from tests.session_support import DEVICE, KEYS, OTHER_KEYS, PIN, STAFF_UID, make_kiosk, staff_card


@pytest.fixture
def kiosk(tmp_path):
    k = make_kiosk(tmp_path)
    yield k
    k.store.close()


def journal_kinds(k) -> list[str]:
    return [str(t.kind) for t in k.store.outbox()]


def reopened_state(k) -> dict:
    """What is durable: close the store and read it back from disk."""
    k.store.close()
    store = Store.open(k.data_dir / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
    try:
        return state_to_dict(store.ledger.state)
    finally:
        store.close()


# -- tap and look-up -----------------------------------------------------------------------


def test_known_card_shows_member_home(kiosk):
    chip = kiosk.member(balance_fen=120_000, birthday=date(1990, 3, 3))
    for _ in range(6):  # more than five activities: only the last five are shown
        kiosk.store.commit(kiosk.ledger.top_up(chip.uid.hex().upper(), 1000, "setup", kiosk.clock.now()))
    kiosk.tap(chip)
    view = kiosk.session.view
    assert view.state == "home"
    m = view.member
    assert m.balance_fen == 120_000 + 8000 + 6000  # the 1000-yuan top-up earned an 80-yuan bonus
    assert m.points == 100 + 1200 + 6 * 12  # gift, x1 as regular, then x1.2 as silver
    assert m.tier_id == "silver" and m.tier_name.get("en") == "Silver"
    assert (m.points_multiplier_pct, m.discount_pct) == (120, 98)
    assert m.next_tier_name.get("zh_CN") == "金卡会员"
    assert m.to_next_tier_fen == 500_000 - 126_000
    assert m.tier_progress_pct == (126_000 - 100_000) * 100 // 400_000
    # the tap gave the new-member voucher (the sample rules' gift): newest first
    assert len(m.recent) == 5 and [a.kind for a in m.recent] == ["voucher_issued"] + ["top_up"] * 4
    assert m.phone_masked.startswith("138") and "****" in m.phone_masked
    assert m.gifts == () and not m.birthday_greeting
    assert view.seconds_left == 30


def test_first_visit_gives_new_member_gift_and_birthday_gift(kiosk):
    chip = kiosk.blank()
    uid = chip.uid.hex().upper()
    txn = kiosk.ledger.sign_up(uid, 1, "13811112222", PIN, kiosk.clock.now(), birthday=date(1985, 6, 3))
    kiosk.store.commit(txn)
    kiosk.reader.place(chip)
    issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, txn.member_id, 1, date(2026, 6, 1), DEVICE)
    kiosk.reader.remove()
    kiosk.tap(chip)
    m = kiosk.session.view.member
    assert [g.kind for g in m.gifts] == ["new_member_gift", "birthday_gift"]
    assert m.points == 100 + 200 and m.birthday_greeting
    kiosk.run()  # the reader thread writes the card's purse hint: one write for both gifts
    assert journal_kinds(kiosk)[-5:] == ["new_member_gift", "birthday_gift", "voucher_issued", "voucher_issued", "purse_written"]
    kiosk.lift()
    kiosk.tap(chip)  # given once only
    assert kiosk.session.view.member.gifts == ()
    assert kiosk.session.view.member.points == 300


def test_blocked_card_is_refused_and_recorded(kiosk):
    chip = kiosk.member(balance_fen=5000)
    uid = chip.uid.hex().upper()
    kiosk.store.commit(kiosk.ledger.block_card(uid, "lost", kiosk.clock.now()))
    before = state_to_dict(kiosk.ledger.state)
    kiosk.tap(chip)
    assert kiosk.state == "blocked"
    assert kiosk.session.view.message.code == "card_blocked"
    assert kiosk.session.view.member is None
    assert kiosk.incident_kinds() == ["blocked_card_presented"]
    assert not kiosk.session.start_topup() and not kiosk.session.start_redeem()
    assert state_to_dict(kiosk.ledger.state) == before
    kiosk.lift()
    assert kiosk.state == "idle"


def test_blank_card_offers_sign_up(kiosk):
    kiosk.tap(kiosk.blank())
    assert kiosk.state == "signup_offer"


@pytest.mark.parametrize("make", [chips.new_ntag424, lambda: chips.new_classic(bytes.fromhex("DEADBEEF"))])
def test_foreign_cards_are_not_recognised(kiosk, make):
    chip = make()
    if chip.card_type.startswith("mifare"):  # a card issued by another chain, with its keys
        kiosk.reader.place(chip)
        issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), OTHER_KEYS, "M-other-1", 1, date(2026, 1, 1))
        kiosk.reader.remove()
    kiosk.tap(chip)
    assert kiosk.state == "not_recognised"
    assert kiosk.session.view.message.code == "card_not_recognised"
    assert kiosk.session.dismiss()
    assert kiosk.state == "idle"


def test_our_card_unknown_here_and_suspect_cards(kiosk):
    chip = kiosk.blank()
    kiosk.reader.place(chip)
    issue_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, "M-elsewhere-9", 1, date(2026, 1, 1))
    kiosk.reader.remove()
    kiosk.tap(chip)
    assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_unknown_here")
    kiosk.lift()
    # the card names another member than the ledger does: refused and reported
    uid = chip.uid.hex().upper()
    kiosk.store.commit(kiosk.ledger.sign_up(uid, 1, "13899990000", PIN, kiosk.clock.now()))
    kiosk.tap(chip)
    assert kiosk.state == "not_recognised"
    assert kiosk.session.view.message.params == {"problem": "member_mismatch"}
    assert kiosk.incident_kinds() == ["card_suspect"]


# -- the card's purse hint and copies of the card ---------------------------------------------


def card_in_field(k):
    return read_member_card(k.reader, k.reader.wait_for_card(0), KEYS)


def top_up_by_acceptor(k, chip, amount=2000):
    k.tap(chip)
    assert k.session.start_topup() and k.session.choose_amount(amount) and k.session.pay("cash_acceptor")
    k.pulses.count += amount // 100
    k.run()
    assert k.state == "done"


def assert_copy_refused(k, copy, genuine) -> None:
    """The copy is refused and reported, changes nothing, and the genuine card still gets home."""
    committed = state_to_dict(k.ledger.state)
    k.tap(copy)
    assert k.state == "not_recognised"
    assert k.session.view.message.code == "card_refused"
    assert k.session.view.message.params == {"problem": "counter_rollback"}
    (suspect,) = [i for i in k.incidents.read_all() if i["kind"] == "card_suspect"]
    assert suspect["detail"]["problem"] == "counter_rollback"
    assert state_to_dict(k.ledger.state) == committed
    k.lift()
    k.tap(genuine)
    assert k.state == "home" and k.session.view.member.balance_fen == k.account(genuine).balance_fen


def test_money_moved_is_written_to_the_card_and_its_counter_recorded(kiosk):
    chip = kiosk.member(balance_fen=1000)
    top_up_by_acceptor(kiosk, chip)
    card, account = card_in_field(kiosk), kiosk.account(chip)
    assert (card.purse.balance_fen, card.purse.points) == (account.balance_fen, account.points) == (3000, 130)
    assert card.purse.counter == 1 == kiosk.ledger.state.cards[chip.uid.hex().upper()].card_counter
    top_up, written = kiosk.store.outbox()[-2:]
    assert (top_up.kind, top_up.card_counter) == (Kind.TOP_UP, 0)  # what the card showed at the tap
    assert (written.kind, written.card_counter) == (Kind.PURSE_WRITTEN, 1)
    kiosk.lift()
    top_up_by_acceptor(kiosk, chip)
    assert card_in_field(kiosk).purse.counter == 2
    assert [(t.kind, t.card_counter) for t in kiosk.store.outbox()[-2:]] == [
        (Kind.TOP_UP, 1), (Kind.PURSE_WRITTEN, 2)
    ]


def test_staff_confirmed_top_up_is_written_when_the_card_comes_back(kiosk):
    chip = to_topup_confirm(kiosk, amount=5000, balance=0)
    assert kiosk.session.pay("staff_cash")
    kiosk.lift()
    kiosk.tap(staff_card())
    kiosk.lift()
    assert kiosk.state == "done" and kiosk.ledger.state.cards[chip.uid.hex().upper()].card_counter == 0
    kiosk.tap(chip)  # the member puts the card back on the done screen
    assert card_in_field(kiosk).purse.balance_fen == kiosk.account(chip).balance_fen == 5000
    assert kiosk.ledger.state.cards[chip.uid.hex().upper()].card_counter == 1


def test_an_older_copy_of_the_card_is_refused_and_reported(kiosk):
    chip = kiosk.member(balance_fen=1000)
    top_up_by_acceptor(kiosk, chip)
    kiosk.lift()
    copy = chips.MifareClassic(chip.uid, memory=bytes(chip.memory))  # copied at counter 1
    top_up_by_acceptor(kiosk, chip)  # the genuine card moves on to counter 2
    kiosk.lift()
    assert_copy_refused(kiosk, copy, chip)


def test_an_older_copy_of_an_ntag_is_refused_by_its_tap_counter(kiosk):
    chip = kiosk.member(balance_fen=1000, kind="ntag213")
    uid = chip.uid.hex().upper()
    copy = chips.Ntag(chip.uid, chip.kind, chip.signature, bytes(chip.memory))
    copy.nfc_counter = chip.nfc_counter  # a copy taken now, on a chip whose counter can be set
    for _ in range(2):  # the genuine tag is used twice more, each time moving money
        top_up_by_acceptor(kiosk, chip)
        kiosk.lift()
    assert chip.memory == copy.memory  # nothing is written to an NTAG at a tap
    seen = kiosk.ledger.state.cards[uid].card_counter
    assert seen == chip.nfc_counter == copy.nfc_counter + 2
    mine = [t for t in kiosk.store.outbox() if t.card_uid == uid]
    assert [t.card_counter for t in mine if t.kind == Kind.TOP_UP][-2:] == [seen - 1, seen]  # at the taps
    assert Kind.PURSE_WRITTEN not in {t.kind for t in mine}
    assert_copy_refused(kiosk, copy, chip)  # the copy shows seen - 1: one tap more than when copied


@pytest.mark.parametrize("step", range(2))
@pytest.mark.parametrize("cut", (0, 9, 16))  # 16: fully written, the acknowledgement lost
def test_purse_write_torn_by_a_lifted_card_never_locks_out_the_genuine_card(kiosk, step, cut):
    chip = kiosk.member(balance_fen=1000)
    top_up_by_acceptor(kiosk, chip)  # counter 1 on the card and in the ledger
    kiosk.lift()
    kiosk.tap(chip)
    assert kiosk.session.start_topup() and kiosk.session.choose_amount(2000)
    assert kiosk.session.pay("cash_acceptor")
    kiosk.pulses.count += 20
    chip.tear(after_writes=step, after_bytes=cut)
    kiosk.run()
    assert kiosk.state == "idle" and kiosk.account(chip).balance_fen == 5000  # credited, then lifted
    uid = chip.uid.hex().upper()
    assert kiosk.ledger.state.cards[uid].card_counter == 1  # the write was never confirmed
    kiosk.tap(chip)
    assert kiosk.state == "home"
    assert card_in_field(kiosk).purse.counter == (2 if (step, cut) == (1, 16) else 1)


# -- top-up --------------------------------------------------------------------------------


def to_topup_confirm(k, amount=50_000, balance=10_000):
    chip = k.member(balance_fen=balance)
    k.tap(chip)
    assert k.session.start_topup()
    assert k.session.choose_amount(amount)
    return chip


def test_topup_shows_bonus_before_paying_and_credits_after_staff_confirms(kiosk):
    chip = kiosk.member(balance_fen=10_000)
    kiosk.tap(chip)
    assert kiosk.session.start_topup()
    topup = kiosk.session.view.topup
    assert [(o.amount_fen, o.bonus_fen) for o in topup.presets] == [
        (5000, 0), (10000, 0), (20000, 0), (50000, 2500), (100000, 8000)
    ]
    assert topup.presets[3].points == 500
    assert {m.name: m.unavailable_reason for m in topup.methods} == {
        "staff_cash": "", "cash_acceptor": "", "hq": "hq_not_configured"
    }
    assert kiosk.session.choose_amount(100_000)
    assert kiosk.session.view.topup.chosen.bonus_fen == 8000
    assert kiosk.session.pay("staff_cash")
    assert kiosk.state == "paying" and kiosk.session.view.payment.waiting_for_staff_card
    assert kiosk.account(chip).balance_fen == 10_000  # nothing before payment
    kiosk.lift()  # the member lifts the card so staff can tap
    assert kiosk.state == "paying"
    kiosk.tap(kiosk.blank())  # another member's card does not confirm anything
    assert kiosk.state == "paying"
    kiosk.lift()
    kiosk.tap(staff_card())
    assert kiosk.state == "done"
    msg = kiosk.session.view.message
    assert msg.code == "topup_done"
    assert msg.params == {"amount_fen": 100_000, "bonus_fen": 8000, "points": 1000, "balance_fen": 118_000}
    top_up = kiosk.store.outbox()[-1]
    assert top_up.kind is Kind.TOP_UP and top_up.payment_ref.startswith(f"cash:{STAFF_UID}:")
    in_memory = state_to_dict(kiosk.ledger.state)["accounts"]  # (before the store closes: rows live on disk)
    assert reopened_state(kiosk)["accounts"] == in_memory


def test_cash_acceptor_credits_what_was_counted(kiosk):
    chip = to_topup_confirm(kiosk, amount=2000, balance=0)
    kiosk.pulses.count = 7  # money inserted before the payment is not this payment's
    assert kiosk.session.pay("cash_acceptor")
    kiosk.pulses.count += 15
    kiosk.run(1)
    assert kiosk.session.view.payment.received_fen == 1500 and kiosk.state == "paying"
    kiosk.pulses.count += 5
    kiosk.run(1)
    assert kiosk.state == "done"
    assert kiosk.account(chip).balance_fen == 2000


def test_cancelled_cash_payment_credits_nothing_and_records_the_money(kiosk):
    chip = to_topup_confirm(kiosk, amount=5000, balance=0)
    before = kiosk.account(chip)
    assert kiosk.session.pay("cash_acceptor")
    kiosk.pulses.count += 20
    kiosk.run(1)
    assert kiosk.session.cancel_payment()
    assert kiosk.state == "topup_confirm"
    assert kiosk.session.view.message.code == "payment_cancelled"
    assert kiosk.session.view.message.params["received_fen"] == 2000
    assert kiosk.account(chip) == before
    (incident,) = kiosk.incidents.read_all()
    assert incident["kind"] == "payment_abandoned"
    assert incident["detail"]["received_fen"] == 2000 and incident["detail"]["reason"] == "cancelled"


def test_hq_payment_says_unavailable(kiosk):
    chip = to_topup_confirm(kiosk)
    assert kiosk.session.pay("hq")
    assert kiosk.state == "topup_confirm"
    assert kiosk.session.view.message.code == "payment_unavailable"
    assert kiosk.session.view.message.params["reason"] == "hq_not_configured"
    assert not kiosk.session.pay("no-such-method") or kiosk.state == "topup_confirm"
    assert kiosk.account(chip).balance_fen == 10_000


def test_payment_timeout_credits_nothing_and_is_recorded(kiosk):
    chip = to_topup_confirm(kiosk)
    assert kiosk.session.pay("staff_cash")
    kiosk.wait(60)
    assert kiosk.state == "paying" and kiosk.session.view.seconds_left == 60
    kiosk.wait(60)
    assert kiosk.state == "notice" and kiosk.session.view.message.code == "payment_timeout"
    kiosk.tap(staff_card())  # too late: nothing to confirm
    assert kiosk.account(chip).balance_fen == 10_000
    assert "payment_abandoned" in kiosk.incident_kinds()
    assert [t.kind for t in kiosk.store.outbox()].count(Kind.TOP_UP) == 1  # the setup one


def test_custom_amount_out_of_range_is_explained(kiosk):
    chip = kiosk.member()
    kiosk.tap(chip)
    kiosk.session.start_topup()
    assert kiosk.session.choose_amount(999)
    assert kiosk.state == "topup_amount"
    assert kiosk.session.view.message == replace(
        kiosk.session.view.message, code="amount_out_of_range", params={"min_fen": 1000, "max_fen": 500000}
    )
    assert not kiosk.session.choose_amount(12.5)  # not fen
    assert kiosk.session.choose_amount(1234)
    assert kiosk.session.view.topup.chosen.amount_fen == 1234


def test_store_failure_after_payment_is_recorded_not_shown_as_done(kiosk, monkeypatch):
    chip = to_topup_confirm(kiosk)
    kiosk.session.pay("staff_cash")

    def refuse(txn):
        raise StoreWriteError("disk full")

    monkeypatch.setattr(kiosk.store, "commit", refuse)
    kiosk.lift()
    kiosk.tap(staff_card())
    assert kiosk.state == "notice"
    assert kiosk.session.view.message.code == "paid_not_credited"
    assert kiosk.account(chip).balance_fen == 10_000
    assert kiosk.incident_kinds() == ["paid_not_credited"]
    assert kiosk.session.view.message.params["problem"] == "store_failed"


# -- redeem and PIN ------------------------------------------------------------------------


def to_redeem(k, points_fen=50_000):
    chip = k.member(balance_fen=points_fen)  # 100 gift + 1 point per yuan
    k.tap(chip)
    assert k.session.start_redeem()
    return chip


def test_catalogue_is_affordable_and_in_stock(kiosk):
    kiosk.store.commit(kiosk.ledger.adjust(kiosk.member().uid.hex().upper(), 0, 0, "x", kiosk.clock.now()))
    kiosk.ledger.state.stock["coffee"] = 0  # sold out here
    to_redeem(kiosk, points_fen=100_000)  # 1100 points
    ids = [r.reward_id for r in kiosk.session.view.redeem.rewards]
    assert ids == ["tote", "voucher"]  # coffee sold out, mask set needs 2000


def test_redeem_with_pin(kiosk):
    chip = to_redeem(kiosk)  # 600 points
    stock = kiosk.ledger.state.stock["coffee"]
    assert kiosk.session.choose_reward("coffee")
    assert kiosk.session.view.redeem.points_to_use == 300
    assert kiosk.session.confirm()
    assert kiosk.state == "pin_entry"
    view = kiosk.session.view.pin
    assert (view.length, view.entered, view.attempts_left) == (6, 0, 5)
    kiosk.session.pin_digit("2")
    kiosk.session.pin_digit("9")
    assert kiosk.session.pin_delete()
    assert kiosk.session.view.pin.entered == 1
    assert PIN not in repr(kiosk.session.view)
    kiosk.enter_pin(PIN[1:])
    assert kiosk.state == "done"
    assert kiosk.session.view.message.params["points_used"] == 300
    assert kiosk.account(chip).points == 300
    assert kiosk.ledger.state.stock["coffee"] == stock - 1
    assert kiosk.session.dismiss() and kiosk.state == "home"
    assert kiosk.session.view.member.points == 300


def test_flexible_voucher_needs_a_valid_choice(kiosk):
    chip = to_redeem(kiosk)
    assert kiosk.session.choose_reward("voucher", points=150)
    assert kiosk.state == "redeem_choose" and kiosk.session.view.message.code == "bad_points_choice"
    assert kiosk.session.choose_reward("voucher", points=500)
    kiosk.session.confirm()
    kiosk.enter_pin(PIN)
    assert kiosk.session.view.message.params["voucher_fen"] == 500
    assert kiosk.account(chip).points == 100


def test_pin_lockout_with_remaining_time(kiosk):
    chip = to_redeem(kiosk)
    kiosk.session.choose_reward("coffee")
    kiosk.session.confirm()
    for attempt in range(4):
        kiosk.enter_pin("135799")
        assert kiosk.state == "pin_entry"
        assert kiosk.session.view.message.params == {"attempts_left": 4 - attempt}
    kiosk.enter_pin("135799")
    assert kiosk.state == "pin_locked"
    pin = kiosk.session.view.pin
    assert pin.locked_seconds_left == 15 * 60
    kiosk.clock.advance(20)
    kiosk.session.touch()
    assert kiosk.session.view.pin.locked_seconds_left == 15 * 60 - 20
    assert kiosk.account(chip).points == 600  # nothing redeemed
    assert not kiosk.session.pin_digit("1")
    assert kiosk.session.back() and kiosk.state == "home"
    # the lock is durable and holds on the next visit
    locked = reopened_state(kiosk)
    kiosk.store = Store.open(kiosk.data_dir / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
    kiosk.session.store = kiosk.store
    member = [m for m in locked["members"] if m["pin_failures"] == 5]
    assert len(member) == 1 and member[0]["pin_locked_until"]
    kiosk.session.start_redeem()
    kiosk.session.choose_reward("coffee")
    kiosk.session.confirm()
    assert kiosk.state == "pin_locked"
    kiosk.session.back()
    kiosk.clock.advance(15 * 60)
    kiosk.session.start_redeem()
    kiosk.session.choose_reward("coffee")
    kiosk.session.confirm()
    assert kiosk.state == "pin_entry"
    kiosk.enter_pin(PIN)
    assert kiosk.state == "done"


# -- sign-up -------------------------------------------------------------------------------


def test_sign_up_end_to_end(kiosk):
    chip = kiosk.blank()
    kiosk.tap(chip)
    s = kiosk.session
    assert s.start_signup()
    assert s.submit_details("12", "Li", date(1990, 6, 3))  # checked by the ledger at the end
    assert s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    assert (kiosk.state, s.view.message.code) == ("signup_details", "bad_phone")
    assert s.submit_details("13912345678", "Li", date(1990, 6, 3))
    s.accept_privacy()
    kiosk.enter_pin("111111")
    kiosk.enter_pin("111111")
    assert (kiosk.state, s.view.message.code) == ("signup_pin", "pin_too_simple")
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135790")
    assert s.view.message.code == "pin_mismatch" and s.view.pin.purpose == "signup_first"
    assert s.back() and kiosk.state == "signup_privacy"
    assert s.accept_privacy()
    kiosk.enter_pin("135792")
    assert s.view.pin.purpose == "signup_repeat"
    kiosk.enter_pin("135792")
    assert kiosk.state == "signup_writing"
    kiosk.run()
    assert kiosk.state == "done" and s.view.message.code == "signup_done"
    card = read_member_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS)
    uid = chip.uid.hex().upper()
    assert kiosk.ledger.state.cards[uid].member_id == card.member_id
    assert journal_kinds(kiosk) == [
        "sign_up", "new_member_gift", "birthday_gift", "voucher_issued", "voucher_issued", "purse_written"
    ]  # the vouchers: the sample rules' new-member and birthday gifts
    assert card.purse.points == 300 and kiosk.ledger.state.cards[uid].card_counter == card.purse.counter == 1
    assert s.view.member.points == 300
    assert "privacy_accepted" in kiosk.incident_kinds()
    s.dismiss()
    assert kiosk.state == "home"


def test_sign_up_card_pulled_during_write_commits_nothing(kiosk):
    chip = kiosk.blank()
    kiosk.tap(chip)
    s = kiosk.session
    s.start_signup()
    s.submit_details("13912345678")
    s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    assert kiosk.state == "signup_writing"
    kiosk.reader.remove()  # before the reader thread ran the write
    kiosk.run()
    assert kiosk.state in ("notice", "idle")
    assert kiosk.store.outbox() == []
    assert "card_write_failed" in kiosk.incident_kinds()
    kiosk.tap(chip)  # still blank: sign-up can start again
    assert kiosk.state == "signup_offer"


def test_phone_already_used_goes_back_to_details(kiosk):
    kiosk.member()
    phone = next(iter(kiosk.ledger.state.members.values())).phone
    kiosk.tap(kiosk.blank())
    s = kiosk.session
    s.start_signup()
    s.submit_details(phone)
    s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    assert (kiosk.state, s.view.message.code) == ("signup_details", "phone_in_use")


# -- staff ---------------------------------------------------------------------------------


def test_staff_menu(kiosk):
    kiosk.member(balance_fen=1000)
    kiosk.tap(staff_card())
    view = kiosk.session.view
    assert view.state == "staff_menu"
    assert view.staff.outbox_depth == 3 and view.staff.reader == "ok"
    kiosk.session.post(ReaderStatus(False, "reader gone: ttyUSB0 vanished"))
    kiosk.session.pump()
    staff = kiosk.session.view.staff
    assert staff.reader == "reader gone: ttyUSB0 vanished"
    assert staff.last_errors[0].endswith("reader: reader gone: ttyUSB0 vanished")
    assert view.staff.device_id == DEVICE and view.staff.rules_version == 1
    assert kiosk.session.staff_reload_rules()
    assert kiosk.session.view.message.code == "rules_reloaded"
    assert kiosk.session.finish() and kiosk.state == "idle"


# -- timeouts, removal, double and second taps ---------------------------------------------


def test_inactivity_countdown_and_timeout(kiosk):
    kiosk.tap(kiosk.member())
    kiosk.wait(10)
    assert kiosk.session.view.seconds_left == 20
    assert kiosk.session.touch()
    assert kiosk.session.view.seconds_left == 30
    kiosk.wait(29)
    assert kiosk.state == "home" and kiosk.session.view.seconds_left == 1
    kiosk.wait(1)
    assert kiosk.state == "idle" and kiosk.session.view.message.code == "timeout"
    assert kiosk.session.view.seconds_left is None
    assert not kiosk.session.touch()


def test_timeout_is_configurable(tmp_path):
    k = make_kiosk(tmp_path, SessionSettings(inactivity_s=5, message_s=2))
    k.tap(k.member())
    k.wait(5)
    assert k.state == "idle"
    k.store.close()


def test_result_screens_go_away_on_their_own(kiosk):
    kiosk.tap(kiosk.blank())
    kiosk.session.finish()
    kiosk.lift()
    kiosk.tap(chips.new_ntag424())
    assert kiosk.state == "not_recognised"
    kiosk.wait(10)
    assert kiosk.state == "idle"


def _home(k):
    k.tap(k.member(balance_fen=60_000))


def _topup_amount(k):
    _home(k)
    k.session.start_topup()


def _topup_confirm(k):
    _topup_amount(k)
    k.session.choose_amount(20_000)


def _paying_cash(k):
    _topup_confirm(k)
    k.session.pay("cash_acceptor")
    k.pulses.count += 3
    k.run(1)


def _redeem_choose(k):
    _home(k)
    k.session.start_redeem()


def _redeem_confirm(k):
    _redeem_choose(k)
    k.session.choose_reward("coffee")


def _pin_entry(k):
    _redeem_confirm(k)
    k.session.confirm()
    k.session.pin_digit("2")


def _pin_locked(k):
    _redeem_confirm(k)
    k.session.confirm()
    for _ in range(5):
        k.enter_pin("999990")


def _signup_offer(k):
    k.tap(k.blank())


def _signup_details(k):
    _signup_offer(k)
    k.session.start_signup()


def _signup_privacy(k):
    _signup_details(k)
    k.session.submit_details("13912345678")


def _signup_pin(k):
    _signup_privacy(k)
    k.session.accept_privacy()
    k.enter_pin("135792")


def _done(k):
    _redeem_confirm(k)
    k.session.confirm()
    k.enter_pin(PIN)


def _notice(k):
    _topup_confirm(k)
    k.session.pay("staff_cash")
    k.wait(120)


def _staff(k):
    k.tap(staff_card())


STEPS = {
    "home": _home,
    "topup_amount": _topup_amount,
    "topup_confirm": _topup_confirm,
    "paying": _paying_cash,
    "redeem_choose": _redeem_choose,
    "redeem_confirm": _redeem_confirm,
    "pin_entry": _pin_entry,
    "pin_locked": _pin_locked,
    "signup_offer": _signup_offer,
    "signup_details": _signup_details,
    "signup_privacy": _signup_privacy,
    "signup_pin": _signup_pin,
    "done": _done,
    "notice": _notice,
    "staff_menu": _staff,
}


@pytest.mark.parametrize("state", list(STEPS))
def test_card_removed_at_each_step_ends_safely(kiosk, state):
    STEPS[state](kiosk)
    assert kiosk.state == state
    committed = state_to_dict(kiosk.ledger.state)
    kiosk.lift()
    assert kiosk.state == "idle"
    assert state_to_dict(kiosk.ledger.state) == committed  # nothing half-done, nothing new
    assert state_invariant_problems(kiosk.ledger.state) == []
    if state == "paying":
        (incident,) = kiosk.incidents.read_all()
        assert incident["detail"]["received_fen"] == 300 and incident["detail"]["reason"] == "card_removed"
    assert reopened_state(kiosk) == committed


@pytest.mark.parametrize("state", list(STEPS))
def test_timeout_at_each_step_ends_in_idle(kiosk, state):
    STEPS[state](kiosk)
    kiosk.run()  # let the reader thread finish any purse write first
    committed = state_to_dict(kiosk.ledger.state)
    for _ in range(3):
        kiosk.wait(120)
    assert kiosk.state == "idle"
    assert state_to_dict(kiosk.ledger.state) == committed


def test_double_tap_is_ignored(kiosk):
    chip = kiosk.member()
    kiosk.tap(chip)
    kiosk.session.start_topup()
    read = CardRead(chip.uid.hex().upper(), CardKind.MEMBER)
    for _ in range(3):
        kiosk.session.post(CardPresented(read))
    kiosk.run()
    assert kiosk.state == "topup_amount"


def test_rapid_repeated_presses_act_once(kiosk):
    chip = to_topup_confirm(kiosk, amount=5000)
    assert kiosk.session.pay("staff_cash")
    assert not kiosk.session.pay("staff_cash")
    assert not kiosk.session.choose_amount(5000)
    kiosk.lift()
    kiosk.tap(staff_card())
    assert not kiosk.session.cancel_payment()
    assert kiosk.account(chip).balance_fen == 15_000
    assert not kiosk.session.start_topup()


def test_second_card_mid_flow_starts_over_with_it(kiosk):
    first, second = kiosk.member(balance_fen=1000), kiosk.member(balance_fen=2000)
    kiosk.tap(first)
    kiosk.session.start_redeem()
    kiosk.session.post(CardPresented(CardRead(second.uid.hex().upper(), CardKind.MEMBER)))
    kiosk.session.pump()
    assert kiosk.state == "home"
    assert kiosk.session.view.member.balance_fen == 2000
    assert kiosk.session.view.card_uid == second.uid.hex().upper()


def test_second_member_card_cannot_take_over_a_payment(kiosk):
    to_topup_confirm(kiosk)
    kiosk.session.pay("cash_acceptor")
    kiosk.session.post(CardPresented(CardRead("04AABBCC", CardKind.MEMBER)))
    kiosk.session.pump()
    assert kiosk.state == "paying"


def test_subscribers_see_every_change_and_can_leave(kiosk):
    seen = []
    unsubscribe = kiosk.session.subscribe(seen.append)
    kiosk.session.subscribe(lambda view: 1 / 0)  # a broken screen does not stop the session
    kiosk.tap(kiosk.member())
    assert seen[-1].state == "home"
    assert [v.seq for v in seen] == sorted({v.seq for v in seen})
    unsubscribe()
    kiosk.session.start_topup()
    assert seen[-1].state == "home" and kiosk.views[-1].state == "topup_amount"


def test_reader_thread_and_driving_thread(kiosk):
    """The real threading model: the worker on its own thread, the session pumped here."""
    chip = kiosk.member(balance_fen=4200)
    worker = ReaderWorker(kiosk.reader, kiosk.cards, kiosk.session.post, poll_s=0.02)
    worker.start()
    try:
        threading.Timer(0.05, kiosk.reader.place, (chip,)).start()
        deadline = time.monotonic() + 5
        while kiosk.state != "home" and time.monotonic() < deadline:
            kiosk.session.pump()
            time.sleep(0.01)
        assert kiosk.state == "home" and kiosk.session.view.member.balance_fen == 4200
        kiosk.reader.remove()
        while kiosk.state != "idle" and time.monotonic() < deadline:
            kiosk.session.pump()
            time.sleep(0.01)
        assert kiosk.state == "idle"
    finally:
        worker.stop()


def test_pin_lock_expiry_uses_the_injected_clock(kiosk):
    _pin_locked(kiosk)
    left = kiosk.session.view.pin.locked_seconds_left
    kiosk.clock.advance(timedelta(minutes=1).total_seconds())
    kiosk.session.touch()
    assert kiosk.session.view.pin.locked_seconds_left == left - 60


def test_card_blocked_by_hq_mid_flow_is_refused_cleanly(kiosk):
    chip = to_redeem(kiosk)
    kiosk.session.choose_reward("coffee")
    uid = chip.uid.hex().upper()
    kiosk.store.commit(kiosk.ledger.block_card(uid, "HQ: reported lost", kiosk.clock.now()))  # as sync would
    points = kiosk.account(chip).points
    assert kiosk.session.confirm()
    assert (kiosk.state, kiosk.session.view.message.code) == ("notice", "card_blocked")
    assert kiosk.account(chip).points == points
    assert kiosk.session.internal_errors == 0


def test_an_unexpected_error_ends_the_session_not_the_kiosk(kiosk):
    from kiosk.payment.port import PaymentMethod

    class BrokenAcceptor(PaymentMethod):
        name = "cash_acceptor"

        def unavailable_reason(self):
            return ""

        def start(self, request):
            pass

        def poll(self):
            raise RuntimeError("acceptor driver bug")

        def cancel(self):
            raise RuntimeError("acceptor driver bug")

    kiosk.session.payments["cash_acceptor"] = BrokenAcceptor()
    chip = to_topup_confirm(kiosk)
    kiosk.session.pay("cash_acceptor")
    kiosk.run(1)
    assert kiosk.state == "idle"
    assert kiosk.session.internal_errors == 1
    assert kiosk.account(chip).balance_fen == 10_000
    (incident,) = kiosk.incidents.read_all()
    assert incident["kind"] == "payment_abandoned"
    assert incident["detail"]["reason"] == "error" and incident["detail"]["cancel_failed"] == "RuntimeError"
    assert kiosk.session.view.message.code == "error"
    kiosk.lift()
    kiosk.tap(chip)  # the kiosk still works
    assert kiosk.state == "home"


class HqState:
    """What the sync client would report (kiosk/sync is on its own branch): HQ's lists and health."""

    def __init__(self) -> None:
        self.blocked: set[str] = set()
        self.paused = ""
        self.contact = None

    def is_blocked(self, uid: str) -> bool:
        return uid in self.blocked

    def money_paused(self) -> str:
        return self.paused

    def last_contact(self):
        return self.contact

    def online(self) -> bool:
        return self.contact is not None


def test_hq_blocked_list_and_money_pause(kiosk):
    hq = HqState()
    kiosk.session.sync = hq
    chip = kiosk.member(balance_fen=1000)
    uid = chip.uid.hex().upper()
    hq.blocked.add(uid)  # reported lost at HQ; this kiosk's ledger has not heard yet
    kiosk.tap(chip)
    assert (kiosk.state, kiosk.session.view.message.code) == ("blocked", "card_blocked")
    assert kiosk.incidents.read_all()[-1]["detail"]["status"] == "blocked_by_hq"
    kiosk.lift()
    hq.blocked.clear()
    hq.paused = "disk_nearly_full"
    kiosk.tap(chip)
    assert kiosk.session.start_topup()
    assert (kiosk.state, kiosk.session.view.message.code) == ("home", "money_paused")
    assert kiosk.session.view.message.params == {"reason": "disk_nearly_full"}
    assert kiosk.session.start_redeem()  # points still work
    kiosk.lift()
    hq.contact = kiosk.clock.now()
    kiosk.tap(staff_card())
    staff = kiosk.session.view.staff
    assert staff.hq_online and staff.last_hq_contact == "2026-06-01T02:00:00+00:00"


def test_redeem_without_pin_when_the_rules_say_so(tmp_path):
    import json
    from importlib.resources import files

    from kiosk.ledger.rules import parse_rules

    doc = json.loads(files("kiosk.data").joinpath("rules.default.json").read_text())
    doc["pin"]["required_for_redemption"] = False
    k = make_kiosk(tmp_path, rules=parse_rules(doc, "test"))
    try:
        chip = to_redeem(k)
        assert not k.session.view.redeem.pin_required
        assert not k.session.choose_reward("tote")  # 800 points: not affordable, not offered
        assert k.session.choose_reward("coffee")
        assert k.session.confirm()
        assert k.state == "done" and k.account(chip).points == 300
    finally:
        k.store.close()


def test_unreadable_and_forged_cards(kiosk):
    chip = kiosk.member()
    uid = chip.uid.hex().upper()
    kiosk.session.post(CardPresented(CardRead(uid, CardKind.FOREIGN, "unreadable")))
    kiosk.session.pump()
    assert (kiosk.state, kiosk.session.view.message.code) == ("not_recognised", "card_read_failed")
    assert kiosk.incidents.read_all() == []  # a bad read is not fraud
    kiosk.session.finish()
    kiosk.session.post(CardPresented(CardRead(uid, CardKind.FOREIGN, "mac_failed")))
    kiosk.session.pump()
    assert kiosk.session.view.message.params == {"problem": "mac_failed"}
    assert kiosk.incident_kinds() == ["card_suspect"]


def test_money_taken_outside_a_payment_is_recorded(kiosk):
    kiosk.pulses.count += 3  # coins dropped in while nobody is paying
    kiosk.run(1)
    (incident,) = kiosk.incidents.read_all()
    assert incident["kind"] == "cash_outside_payment" and incident["detail"]["received_fen"] == 300
    kiosk.run(1)
    assert len(kiosk.incidents.read_all()) == 1
