"""The session with its reader thread on nfcpy's real PN532 driver, talking to the emulated PN532
over a pseudo-terminal: the real threading model end to end (reader thread posts, this thread
pumps), sign-up writing the card through the driver, a card pulled mid-write, a returning member,
the purse hint written after money moves and an older copy of the card refused."""

from __future__ import annotations

import time

import pytest

pn532 = pytest.importorskip("kiosk.reader.pn532")
emulators = pytest.importorskip("tests.emulators.pn532")
field_module = pytest.importorskip("tests.emulators.field")

from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.sample import default_rules  # noqa: E402
from kiosk.reader.chips import MifareClassic, new_classic  # noqa: E402
from kiosk.session.card_access import FormatCardAccess  # noqa: E402
from kiosk.session.clock import ManualClock  # noqa: E402
from kiosk.session.reader_worker import ReaderWorker  # noqa: E402
from kiosk.session.session import Session  # noqa: E402
from kiosk.session.settings import SessionSettings  # noqa: E402
from kiosk.store.store import Store  # noqa: E402
from tests.session_support import DEVICE, KEYS, START  # noqa: E402


@pytest.fixture
def rig(tmp_path):
    field = field_module.Field()
    with emulators.Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        reader = pn532.Pn532Reader(emu.path, poll_interval=0.005)
        reader.open()
        clock = ManualClock(START)
        store = Store.open(tmp_path / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
        holder: list[Session] = []
        worker = ReaderWorker(
            reader, FormatCardAccess(KEYS, DEVICE, lambda: START.date()), lambda i: holder[0].post(i), 0.01
        )
        session = Session(store, clock=clock, card_writer=worker, settings=SessionSettings())
        holder.append(session)
        worker.start()
        try:
            yield field, session, store
        finally:
            worker.stop()
            reader.close()
            store.close()


def until(session: Session, state: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while session.pump().state != state and time.monotonic() < deadline:
        time.sleep(0.005)
    return session.state


def until_counter(session: Session, store: Store, uid: str, counter: int, timeout: float = 10.0) -> int:
    """Pump until the ledger has recorded the card's purse counter (the write runs on the reader thread)."""
    deadline = time.monotonic() + timeout
    while store.ledger.state.cards[uid].card_counter < counter and time.monotonic() < deadline:
        session.pump()
        time.sleep(0.005)
    return store.ledger.state.cards[uid].card_counter


def sign_up_to_writing(session: Session) -> None:
    assert session.start_signup()
    assert session.submit_details("13912345678", "Wu")
    assert session.accept_privacy()
    for digit in "135792135792":
        session.pin_digit(digit)
    assert session.state == "signup_writing"


def test_sign_up_and_return_through_the_pn532_driver(rig):
    field, session, store = rig
    chip = new_classic()
    field.place(chip)
    assert until(session, "signup_offer") == "signup_offer"
    sign_up_to_writing(session)
    assert until(session, "done") == "done"
    assert session.view.message.code == "signup_done"
    field.remove()
    assert until(session, "idle") == "idle"
    chip.place()
    field.place(chip)
    assert until(session, "home") == "home"
    assert session.view.member.name == "Wu" and session.view.member.points == 100
    assert store.ledger.state.cards[chip.uid.hex().upper()].member_id == session.view.member.member_id


def test_card_pulled_mid_write_commits_nothing_and_can_be_issued_again(rig):
    field, session, store = rig
    chip = new_classic()
    field.place(chip)
    assert until(session, "signup_offer") == "signup_offer"
    chip.tear(after_writes=2)  # the card leaves the field during personalisation
    sign_up_to_writing(session)
    assert until(session, "notice") == "notice"
    assert session.view.message.code == "card_write_failed"
    assert store.outbox() == []
    field.remove()
    assert until(session, "idle") == "idle"
    chip.place()
    field.place(chip)
    state = until(session, "signup_offer", timeout=5)
    assert state == "signup_offer", f"a torn personalisation left the card unusable: {session.view.message}"
    sign_up_to_writing(session)
    assert until(session, "done") == "done"
    assert until_counter(session, store, chip.uid.hex().upper(), 1) == 1
    assert [t.kind.value for t in store.outbox()] == ["sign_up", "new_member_gift", "voucher_issued", "purse_written"]


def test_purse_hint_written_through_the_driver_and_an_older_copy_refused(rig):
    field, session, store = rig
    chip = new_classic()
    uid = chip.uid.hex().upper()
    field.place(chip)
    assert until(session, "signup_offer") == "signup_offer"
    sign_up_to_writing(session)
    assert until(session, "done") == "done"
    assert until_counter(session, store, uid, 1) == 1  # the new-member gift, written to the card
    field.remove()
    assert until(session, "idle") == "idle"
    copy = MifareClassic(chip.uid, memory=bytes(chip.memory))

    chip.place()
    field.place(chip)
    assert until(session, "home") == "home"
    assert session.check_in()
    assert until_counter(session, store, uid, 2) == 2
    field.remove()
    assert until(session, "idle") == "idle"

    field.place(copy)
    assert until(session, "not_recognised") == "not_recognised"
    assert (session.view.message.code, session.view.message.params) == ("card_refused", {"problem": "counter_rollback"})
