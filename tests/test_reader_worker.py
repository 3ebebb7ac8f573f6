"""The reader thread's protocol with the session, over the simulated reader: every card that
arrives is presented once, every presented card is removed once, and writes go to the card in
the field or fail as card_gone."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.reader import chips
from kiosk.reader.base import ReaderGone
from kiosk.reader.card import issue_card, read_member_card
from kiosk.reader.simulated import SimulatedReader
from kiosk.session.card_access import FormatCardAccess
from kiosk.session.inputs import CardIssued, CardKind, CardPresented, CardRemoved, PurseWritten, ReaderStatus
from kiosk.session.reader_worker import ReaderWorker
from tests.session_support import DEVICE, KEYS, START

moves = st.lists(
    st.one_of(
        st.tuples(st.just("place"), st.integers(0, 2)), st.just(("remove",)), st.just(("issue",)), st.just(("purse",))
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(moves)
def test_presented_and_removed_pair_up(sequence):
    reader = SimulatedReader()
    cards = [chips.new_classic(bytes([0x04, 0x20, 0x00, n])) for n in range(3)]
    posted = []
    worker = ReaderWorker(reader, FormatCardAccess(KEYS, DEVICE, lambda: START.date()), posted.append, 0)
    on_reader = None
    for move in sequence:
        if move[0] == "place" and on_reader is None:  # a hand puts one card down at a time
            on_reader = cards[move[1]]
            reader.place(on_reader)
        elif move[0] == "remove" and on_reader is not None:
            reader.remove()
            on_reader = None
        elif move[0] == "issue":
            worker.request_issue("04200001", "M-x-1", 1)
        elif move[0] == "purse":
            worker.request_purse("04200001", 100, 1)
        worker.step()
        worker.step()
    events = [e for e in posted if not isinstance(e, ReaderStatus)]
    present = None
    for event in events:
        if isinstance(event, CardPresented):
            assert present is None, "a second card presented without the first leaving"
            present = event.card.uid
        elif isinstance(event, CardRemoved):
            assert event.uid == present
            present = None
        elif isinstance(event, CardIssued | PurseWritten) and not event.problem:
            assert present == event.uid, "a write reported done for a card not in the field"
    assert present == (on_reader.uid.hex().upper() if on_reader is not None else None)


def test_a_vanished_reader_is_reported_once_and_retried():
    class Flaky(SimulatedReader):
        failures = 3

        def wait_for_card(self, timeout):
            if self.failures:
                self.failures -= 1
                raise ReaderGone("usb unplugged")
            return super().wait_for_card(timeout)

    reader = Flaky()
    posted = []
    worker = ReaderWorker(
        reader, FormatCardAccess(KEYS, DEVICE, lambda: START.date()), posted.append, poll_s=0.01, retry_s=0.01
    )
    reader.place(chips.new_classic(bytes.fromhex("04200009")))
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not any(isinstance(e, CardPresented) for e in posted) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop()
    statuses = [(e.ok, e.detail) for e in posted if isinstance(e, ReaderStatus)]
    assert statuses[:2] == [(False, "reader gone: usb unplugged"), (True, "")]
    cards = [e for e in posted if not isinstance(e, ReaderStatus)]
    assert len(cards) == 1 and cards[0].card.kind is CardKind.BLANK


def _issued(reader: SimulatedReader, uid_hex: str):
    chip = chips.new_classic(bytes.fromhex(uid_hex))
    reader.place(chip)
    issue_card(reader, reader.wait_for_card(0), KEYS, "M-x-7", 1, START.date(), DEVICE)
    reader.remove()
    return chip


def test_purse_writes_run_newest_only_and_answer_for_the_card_in_the_field():
    reader = SimulatedReader()
    chip = _issued(reader, "04200010")
    posted = []
    worker = ReaderWorker(reader, FormatCardAccess(KEYS, DEVICE, lambda: START.date()), posted.append, 0)
    reader.place(chip)
    worker.step()  # presented
    writes = chip.writes
    worker.request_purse("04200010", 100, 1)
    worker.request_purse("04200011", 200, 2)  # not the card in the field
    worker.request_purse("04200010", 300, 3)  # supersedes the first
    worker.step()
    answers = [e for e in posted if isinstance(e, PurseWritten)]
    assert sorted(answers, key=lambda a: a.uid) == [
        PurseWritten("04200010", 1), PurseWritten("04200011", problem="card_gone")
    ]
    assert chip.writes - writes == 2  # one slot, two blocks: the superseded write never ran
    card = read_member_card(reader, reader.wait_for_card(0), KEYS)
    assert (card.purse.balance_fen, card.purse.points, card.purse.counter) == (300, 3, 1)


def test_purse_write_with_no_card_answers_card_gone_and_a_torn_one_names_the_error():
    reader = SimulatedReader()
    chip = _issued(reader, "04200012")
    posted = []
    worker = ReaderWorker(reader, FormatCardAccess(KEYS, DEVICE, lambda: START.date()), posted.append, 0)
    worker.request_purse("04200012", 100, 1)
    worker.step()
    assert PurseWritten("04200012", problem="card_gone") in posted
    reader.place(chip)
    worker.step()
    chip.tear(after_writes=1, after_bytes=3)
    worker.request_purse("04200012", 100, 1)
    worker.step()
    assert PurseWritten("04200012", problem="CardGone") in posted
