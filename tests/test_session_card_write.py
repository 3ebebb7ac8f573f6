"""Cards made at HQ's counter (register-member, 补卡, 换卡) tapped at a kiosk, through the real
card layer over emulated chips: blank or pre-issued, the card is written behind the member's own
PIN and only then is CARD_WRITTEN committed and the member's home shown. A wrong PIN, a card
lifted mid-write, or a second kiosk seeing a blank copy afterwards change nothing they should
not. A pre-issued card nobody registered is offered sign-up like a blank one."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.txn import Kind
from kiosk.reader import chips
from kiosk.reader.card import issue_card, read_member_card
from kiosk.reader.card_format import CardBlank
from tests.session_support import DEVICE, KEYS, PIN, SIGNERS, make_kiosk

RESERVED = f"M-{DEVICE}-P1"  # what `kiosk cards issue` writes on its first card


@pytest.fixture
def kiosk(tmp_path):
    k = make_kiosk(tmp_path)
    yield k
    k.store.close()


def hq(k) -> Ledger:
    """HQ's operations on the kiosk's own state: what the kiosk learns from HQ's snapshot."""
    return Ledger(k.ledger.state, k.ledger.rules, "hq", b"test", FAST_FOR_TESTS)


def at_hq(k, decide):
    """HQ decides (a minute after the kiosk's last txn, so a second kiosk can replay all by time)."""
    k.clock.advance(60)
    txn = decide(hq(k), k.clock.now())
    k.store.commit(txn)
    k.hq_txns.append(txn)
    k.clock.advance(60)
    return txn


def uid_of(chip) -> str:
    return chip.uid.hex().upper()


def pre_issued(k, kind: str = "classic1k"):
    """A card from `kiosk cards issue`: ours, personalised with a reserved member id, sold to nobody."""
    chip = k.blank(kind)
    k.reader.place(chip)
    issue_card(k.reader, k.reader.wait_for_card(0), KEYS, RESERVED, 1, date(2026, 5, 1), DEVICE, signers=SIGNERS)
    k.reader.remove()
    return chip


def replaced_by_a_blank(k, balance_fen: int = 5000):
    """A member of this kiosk whose lost card HQ replaced (补卡) with a blank card."""
    k.hq_txns = []
    old = k.member(balance_fen=balance_fen)
    new = k.blank()
    at_hq(k, lambda h, now: h.block_card(uid_of(old), "lost", now))
    at_hq(k, lambda h, now: h.replace_card(uid_of(old), uid_of(new), now))
    return old, new


def registered_at_hq(k, chip):
    """HQ's register-member on the card's UID (no card writer at the counter)."""
    k.hq_txns = []
    return at_hq(k, lambda h, now: h.sign_up(uid_of(chip), 1, "13712345678", PIN, now, name="王芳", awaiting_write=True))


def card_in_field(k):
    return read_member_card(k.reader, k.reader.wait_for_card(0), KEYS, SIGNERS)


def written(k) -> list:
    return [t for t in k.store.outbox() if t.kind is Kind.CARD_WRITTEN]


def test_a_blank_card_after_a_replacement_is_written_behind_the_pin_then_home(kiosk):
    old, new = replaced_by_a_blank(kiosk)
    uid = uid_of(new)
    assert kiosk.ledger.state.cards[uid].awaiting_write
    kiosk.tap(new)
    assert kiosk.state == "card_write_pin"  # before: not_recognised, card_data_missing (a "copy")
    pin = kiosk.session.view.pin
    assert (pin.purpose, pin.attempts_left) == ("card_write", 5)
    assert kiosk.session.view.member is None  # nothing of the account before the PIN
    kiosk.enter_pin(PIN)
    assert kiosk.state == "card_writing"
    kiosk.run()
    assert kiosk.state == "home" and kiosk.session.view.message.code == "card_written"
    assert kiosk.session.view.member.balance_fen == 5000
    card = card_in_field(kiosk)
    ledger_card = kiosk.ledger.state.cards[uid]
    assert (card.member_id, card.card_seq) == (ledger_card.member_id, ledger_card.card_seq) == (ledger_card.member_id, 2)
    assert not ledger_card.awaiting_write
    (txn,) = written(kiosk)
    assert (txn.card_uid, txn.card_seq, txn.member_id) == (uid, 2, ledger_card.member_id)
    assert "card_suspect" not in kiosk.incident_kinds()
    kiosk.lift()
    kiosk.wait(60)
    kiosk.tap(new)  # an ordinary card now: no PIN, nothing written again
    assert kiosk.state == "home" and len(written(kiosk)) == 1
    kiosk.lift()
    kiosk.tap(old)
    assert (kiosk.state, kiosk.session.view.message.code) == ("blocked", "card_replaced")


@pytest.mark.parametrize("kind", ["classic1k", "ntag213"])
def test_a_pre_issued_card_registered_at_hq_is_written_with_the_ledgers_member(kiosk, kind):
    chip = pre_issued(kiosk, kind)
    signed = registered_at_hq(kiosk, chip)
    kiosk.tap(chip)
    assert kiosk.state == "card_write_pin"  # before: not_recognised, member_mismatch (a "copy")
    kiosk.enter_pin(PIN)
    kiosk.run()
    assert kiosk.state == "home" and kiosk.session.view.member.name == "王芳"
    card = card_in_field(kiosk)
    assert (card.member_id, card.card_seq) == (signed.member_id, 1)
    assert [t.member_id for t in written(kiosk)] == [signed.member_id]
    assert "card_suspect" not in kiosk.incident_kinds()


def test_a_wrong_pin_writes_nothing_and_the_lockout_holds_at_the_next_tap(kiosk):
    _, new = replaced_by_a_blank(kiosk)
    kiosk.tap(new)
    for attempt in range(4):
        kiosk.enter_pin("135799")
        assert kiosk.state == "card_write_pin"
        assert kiosk.session.view.message.params == {"attempts_left": 4 - attempt}
    kiosk.enter_pin("135799")
    assert (kiosk.state, kiosk.session.view.message.code) == ("notice", "pin_locked")
    assert kiosk.session.view.message.params == {"wait_seconds": 15 * 60}
    assert kiosk.session.view.member is None and not kiosk.session.dismiss() or kiosk.state == "idle"  # never home
    assert written(kiosk) == [] and kiosk.ledger.state.cards[uid_of(new)].awaiting_write
    with pytest.raises(CardBlank):
        card_in_field(kiosk)
    kiosk.lift()
    kiosk.tap(new)  # still locked: said at once, no PIN pad
    assert (kiosk.state, kiosk.session.view.message.code) == ("notice", "pin_locked")
    kiosk.lift()
    kiosk.clock.advance(15 * 60)
    kiosk.tap(new)
    kiosk.enter_pin(PIN)
    kiosk.run()
    assert kiosk.state == "home" and len(written(kiosk)) == 1


def test_cancel_on_the_pin_pad_ends_the_visit_with_nothing_written(kiosk):
    _, new = replaced_by_a_blank(kiosk)
    kiosk.tap(new)
    before = state_to_dict(kiosk.ledger.state)
    assert kiosk.session.finish() and kiosk.state == "idle"
    assert state_to_dict(kiosk.ledger.state) == before


# a blank Classic takes 12 writes (two purse sectors, then the identity's); a pre-issued one a 13th first
@pytest.mark.parametrize("card, step", [("blank", s) for s in (0, 1, 2, 5, 9, 11)] + [("pre_issued", s) for s in (0, 1, 2, 5, 9, 12)])
def test_a_card_lifted_mid_write_commits_nothing_and_is_written_at_the_next_tap(kiosk, card, step):
    if card == "blank":
        _, chip = replaced_by_a_blank(kiosk)
    else:
        chip = pre_issued(kiosk)
        registered_at_hq(kiosk, chip)
    uid = uid_of(chip)
    kiosk.tap(chip)
    kiosk.enter_pin(PIN)
    assert kiosk.state == "card_writing"
    before = state_to_dict(kiosk.ledger.state)
    chip.tear(after_writes=step)
    kiosk.run()
    assert kiosk.state in ("notice", "idle")
    if kiosk.state == "notice":
        assert kiosk.session.view.message.code == "card_write_failed"
    assert "card_write_failed" in kiosk.incident_kinds()
    assert state_to_dict(kiosk.ledger.state) == before and written(kiosk) == []
    assert kiosk.ledger.state.cards[uid].awaiting_write
    kiosk.lift()
    kiosk.wait(60)
    kiosk.tap(chip)  # torn: reads as blank or as the pre-issued card, never as a forged one
    assert kiosk.state == "card_write_pin", kiosk.session.view.message
    kiosk.enter_pin(PIN)
    kiosk.run()
    assert kiosk.state == "home"
    assert card_in_field(kiosk).member_id == kiosk.ledger.state.cards[uid].member_id
    assert len(written(kiosk)) == 1 and "card_suspect" not in kiosk.incident_kinds()


def test_a_second_kiosk_refuses_a_blank_copy_once_the_card_is_written(kiosk, tmp_path):
    _, new = replaced_by_a_blank(kiosk)
    kiosk.tap(new)
    kiosk.enter_pin(PIN)
    kiosk.run()
    assert kiosk.state == "home"
    other = make_kiosk(tmp_path / "k2", device="kiosk-02")
    try:  # what kiosk-02 learns through HQ: every txn of kiosk-01 and HQ, in order
        learnt = sorted([*kiosk.store.outbox(), *kiosk.hq_txns], key=lambda t: t.at)
        other.store.commit_many(learnt)
        assert not other.ledger.state.cards[uid_of(new)].awaiting_write
        copy = chips.new_classic(new.uid)  # a blank chip showing the written card's UID
        other.tap(copy)
        assert (other.state, other.session.view.message.code) == ("not_recognised", "card_data_missing")
        assert other.incident_kinds() == ["card_suspect"] and other.store.outbox() == []
    finally:
        other.store.close()


def test_a_second_kiosk_that_had_not_heard_writes_the_card_itself(kiosk, tmp_path):
    """Before kiosk-01's CARD_WRITTEN reaches it, a kiosk sees a written card of the right member:
    it goes home (the card is genuine), and records the write so its own ledger stops waiting."""
    _, new = replaced_by_a_blank(kiosk)
    other = make_kiosk(tmp_path / "k2", device="kiosk-02")
    try:
        other.store.commit_many(sorted([*kiosk.store.outbox(), *kiosk.hq_txns], key=lambda t: t.at))
        kiosk.tap(new)
        kiosk.enter_pin(PIN)
        kiosk.run()
        kiosk.lift()
        other.tap(new)
        assert other.state == "home"
        assert not other.ledger.state.cards[uid_of(new)].awaiting_write
    finally:
        other.store.close()


def test_a_pre_issued_card_nobody_registered_is_offered_sign_up_and_written_anew(kiosk):
    chip = pre_issued(kiosk)
    kiosk.tap(chip)
    assert kiosk.state == "signup_offer"  # before: not_recognised, card_unknown_here
    s = kiosk.session
    assert s.start_signup() and s.submit_details("13912345678") and s.accept_privacy()
    kiosk.enter_pin("135792")
    kiosk.enter_pin("135792")
    kiosk.run()
    assert kiosk.state in ("done", "topup_amount")
    card = card_in_field(kiosk)
    assert card.member_id == kiosk.ledger.state.cards[uid_of(chip)].member_id != RESERVED
    assert card.member_id.startswith(f"M-{DEVICE}-") and not kiosk.ledger.state.cards[uid_of(chip)].awaiting_write
