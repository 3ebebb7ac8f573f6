"""A till's retry gets the first answer for every final status, not only an approved one:
a declined, cancelled or timed-out charge is kept durably (kiosk/till/answers.py), so after a
kiosk restart GET and POST of the order return the same decline and move nothing; the book
never holds more than KEPT answers. And a retried approved answer names the card that paid,
not the member's card of now after a replacement."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ledger.txn import Kind
from kiosk.session.states import S
from kiosk.till import answers
from kiosk.till.answers import Answer, AnswerBook
from tests.session_support import make_kiosk
from tests.till.test_till_api import pay, spends
from tests.till.till_support import Till

ASK = {"order_id": "A1", "amount_fen": 0, "apply_discount": False}


def test_a_declined_charge_is_the_same_decline_after_a_restart_and_moves_nothing(tmp_path):
    t = Till(tmp_path)
    chip = t.kiosk.member(10_000)
    balance = t.kiosk.account(chip).balance_fen
    first = pay(t, chip, "A1", balance + 1)
    assert (first["status"], first["reason"], first["balance_fen"]) == ("declined", "insufficient_balance", balance)
    t.close()

    t = Till(tmp_path, make_kiosk(tmp_path))  # the kiosk restarted: its memory of the ticket is gone
    try:
        before = t.kiosk.account(chip)
        assert t.get("/v1/charges/A1").json() == first
        again = t.post("/v1/charges", {**ASK, "amount_fen": balance + 1})
        assert again.status_code == 200 and again.json() == first
        assert t.kiosk.state == S.idle  # no fresh attempt on the screen
        reused = t.post("/v1/charges", {**ASK, "amount_fen": balance})
        assert reused.status_code == 409 and reused.json()["error"]["code"] == "order_id_reused"
        assert t.kiosk.account(chip) == before and spends(t) == []
        assert pay(t, chip, "A1-2", balance)["status"] == "approved"  # a new attempt: a new order id
        assert t.get("/v1/charges/A1").json() == first
    finally:
        t.close()


def test_a_till_cancel_and_a_timeout_are_kept_too_a_busy_kiosk_is_not(tmp_path):
    t = Till(tmp_path)
    try:
        chip = t.kiosk.member(10_000)
        t.post("/v1/charges", {**ASK, "amount_fen": 100})
        cancelled = t.post("/v1/charges/A1/cancel").json()
        t.driver.do(lambda: t.kiosk.wait(60))
        t.post("/v1/charges", {**ASK, "order_id": "A2", "amount_fen": 100, "timeout_s": 10})
        t.driver.do(lambda: t.kiosk.wait(11))
        timed_out = t.get("/v1/charges/A2").json()
        assert (timed_out["status"], timed_out["reason"]) == ("timed_out", "no_card")
        t.driver.do(lambda: t.kiosk.wait(60))
        t.driver.tap(chip)
        t.driver.wait_for(lambda: t.kiosk.state == S.home)
        busy = t.post("/v1/charges", {**ASK, "order_id": "A3", "amount_fen": 100})
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "kiosk_busy"
        t.driver.lift()
        t.driver.do(lambda: t.kiosk.wait(120))
        t.driver.wait_for(lambda: t.kiosk.state == S.idle)
        book = AnswerBook(t.kiosk.store)  # read afresh from the store, as after a restart
        assert t.driver.do(lambda: book.get("till-1:A1")).status == cancelled["status"] == "cancelled"
        assert t.driver.do(lambda: book.get("till-1:A2")).reason == "no_card"
        assert t.driver.do(lambda: book.get("till-1:A3")) is None
        started = t.post("/v1/charges", {**ASK, "order_id": "A3", "amount_fen": 100})  # busy was no answer
        assert started.status_code == 202
    finally:
        t.close()


def answer(n: int) -> Answer:
    return Answer(f"till-1:A{n}", "declined", "insufficient_balance", 100 + n, False, 3, balance_fen=n)


@pytest.mark.parametrize("kept", [1, 3])
def test_the_book_keeps_the_newest_answers_only_across_a_reopen(tmp_path, kept):
    kiosk = make_kiosk(tmp_path)
    book = AnswerBook(kiosk.store, kept)
    for n in range(kept + 1):  # one more than it keeps: the first is forgotten
        assert book.remember(answer(n))
    assert book.get("till-1:A0") is None
    assert [book.get(f"till-1:A{n}").balance_fen for n in range(1, kept + 1)] == list(range(1, kept + 1))
    kiosk.store.close()
    kiosk = make_kiosk(tmp_path)  # as after a power cut: only what the journal holds
    try:
        book = AnswerBook(kiosk.store, kept)
        assert book.get("till-1:A0") is None and book.get(f"till-1:A{kept}").total_fen == 100 + kept
        book.remember(answer(kept + 1))  # the next slot is the oldest's, not the newest's
        held = [n for n in range(kept + 2) if book.get(f"till-1:A{n}") is not None]
        assert held == list(range(2, kept + 2))
        slots = [k for k in range(kept + 5) if kiosk.store.meta_get(f"{answers.PREFIX}{k}") is not None]
        assert slots == list(range(kept))
    finally:
        kiosk.store.close()


def test_a_slot_that_is_not_an_answer_is_skipped(tmp_path):
    kiosk = make_kiosk(tmp_path)
    try:
        kiosk.store.meta_put(f"{answers.PREFIX}0", {"key": "till-1:A1", "status": "approved"})
        kiosk.store.meta_put(f"{answers.PREFIX}1", {**answer(1).to_json(), "total_fen": True})
        assert AnswerBook(kiosk.store).get("till-1:A1") is None
    finally:
        kiosk.store.close()


def test_a_retried_answer_names_the_card_that_paid_after_the_card_was_replaced(till):
    chip = till.kiosk.member(50_000)
    first = pay(till, chip, "A1", 3_000)
    old_uid = chip.uid.hex().upper()
    new_uid = "04AB12CD34EF56"
    now = till.kiosk.clock.now()
    till.driver.do(lambda: till.kiosk.store.commit(till.kiosk.ledger.replace_card(old_uid, new_uid, now)))
    refund = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 1_000}).json()
    again = till.post("/v1/charges", {**ASK, "amount_fen": 3_000})
    assert again.status_code == 200 and again.json()["txn_id"] == first["txn_id"]
    assert first["card"] == again.json()["card"] == f"****{old_uid[-4:]}"
    assert again.json()["receipt_lines"] == first["receipt_lines"]
    assert refund["card"] == f"****{new_uid[-4:]}"  # the money went back to the new card
    assert till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 1_000}).json() == refund
    assert [x.kind for x in spends(till)] == [Kind.SPEND]


@pytest.fixture
def till(tmp_path):
    t = Till(tmp_path)
    yield t
    t.close()


def test_the_answer_is_kept_before_anyone_hears_it_and_a_failing_keeper_still_answers():
    """ChargeTicket.finish runs the till's keeper first: a long-poll never hears an answer a power
    cut could lose; a keeper that raises does not leave the till waiting."""
    from kiosk.session.charge_ticket import ChargeOrder, ChargeOutcome, ChargeTicket

    seen = []

    def keeper(ticket, outcome):
        seen.append((ticket.outcome, ticket.version, outcome.status))

    ticket = ChargeTicket(ChargeOrder("till-1:A1", 100, False), keeper)
    assert ticket.finish(ChargeOutcome("declined", "insufficient_balance"))
    assert seen == [(None, 0, "declined")] and ticket.outcome.status == "declined" and ticket.version == 1
    assert not ticket.finish(ChargeOutcome("cancelled")) and len(seen) == 1  # only the first counts

    def broken(ticket, outcome):
        raise OSError("disk gone")

    other = ChargeTicket(ChargeOrder("till-1:A2", 100, False), broken)
    with pytest.raises(OSError):
        other.finish(ChargeOutcome("timed_out", "no_card"))
    assert other.outcome.status == "timed_out" and other.wait_change(0, 0) == 1


@settings(max_examples=200, deadline=None)
@given(st.builds(Answer, key=st.text(max_size=80), status=st.sampled_from(sorted(answers.STATUSES)),
                 reason=st.text(max_size=40), total_fen=st.integers(-10**12, 10**12), apply_discount=st.booleans(),
                 version=st.integers(0, 10**6), balance_fen=st.none() | st.integers(-10**12, 10**12),
                 n=st.integers(0, 10**9)))
def test_an_answer_survives_its_json_round_trip(answer):
    assert Answer.from_json(json.loads(json.dumps(answer.to_json()))) == answer


SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(Answer.__dataclass_fields__)), SCALAR | st.lists(SCALAR, max_size=2), st.booleans())
def test_a_slot_holding_anything_else_is_no_answer_and_never_an_error(field, value, drop):
    """A kept answer with one field of another type, or missing, or an extra one: skipped."""
    data = answer(1).to_json()
    if drop:
        del data[field]
    else:
        data[field] = value
    got = Answer.from_json(data)
    assert got is None or (Answer.from_json(got.to_json()) == got and type(getattr(got, field)) is type(value))
    assert Answer.from_json({**answer(1).to_json(), "extra": 1}) is None


def test_every_power_cut_keeps_each_answer_the_till_could_have_heard(tmp_path):
    """The book under the crash-state explorer (tests/crash_states.py, ext4 data=ordered): at
    every point a power cut could stop the kiosk, the store opens with every answer whose
    remember() had returned (unless KEPT newer ones took its place), and none not yet asked."""
    from kiosk.store import files
    from kiosk.store.recording import RecordingDisk
    from tests.crash_states import ordered_candidates
    from tests.powercut_workload import STORE, without_lock
    from tests.store_helpers import open_store

    kept, count = 2, 4
    recorder = RecordingDisk(tmp_path / "run")
    with files.use(recorder):
        store = open_store(tmp_path / "run" / STORE)
        book = AnswerBook(store, kept)
        for n in range(count):
            recorder.mark("remember", n)
            assert book.remember(answer(n))
            recorder.mark("remembered", n)
        store.close()
    log = without_lock(recorder.log)
    at = {(op.note[0], op.note[1]): p for p, op in enumerate(log) if op.kind == "mark"}
    checked = 0
    for n, candidate in enumerate(ordered_candidates(log)):
        root = tmp_path / f"cut{n}"
        candidate.image.materialize(root)
        if not (root / STORE).exists():
            continue  # cut before the store was made
        with open_store(root / STORE) as reopened:
            held = {k for k in range(count) if AnswerBook(reopened, kept).get(f"till-1:A{k}") is not None}
        heard = {k for k in range(count) if at[("remembered", k)] < candidate.lo}
        newest = max(held | heard, default=-1)  # a newer answer, even one not yet heard, may evict
        must = {k for k in heard if k > newest - kept}
        never = {k for k in range(count) if at[("remember", k)] > candidate.hi}
        assert must <= held and not held & never, (candidate.how, candidate.lo, held, must, never)
        checked += 1
    assert checked > count  # the explorer did cut between the answers
