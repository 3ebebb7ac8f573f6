"""A kiosk's credentials are not enough to write an arbitrary balance (issue 18, item 2).

HQ moves an account by what a transaction's kind says it moves (a top-up: amount + bonus), so
a transaction whose stated amounts contradict each other is recorded as a conflict and changes
nothing, while the device's later transactions still apply."""

from __future__ import annotations

from dataclasses import replace

from kiosk.hq import ledger as hq
from kiosk.hq.embedded import start_receiver
from kiosk.ledger.txn import Kind
from tests.fixtures.histories import many_top_ups
from tests.fixtures.kiosk_sender import KioskSender


def test_a_top_up_whose_amounts_disagree_is_a_conflict_and_moves_nothing(mosquitto, hq_url, hq_db):
    honest = many_top_ups("D2", 3, members=1)  # sign-up, top-up 50 yuan, top-up 50 yuan
    signup, first, second = honest
    forged = replace(first, balance_after_fen=-5_000_000)  # "paid 10,000, balance now -5,000,000"
    paid = second.amount_fen + second.bonus_fen
    later = replace(second, balance_before_fen=0, balance_after_fen=paid, points_before=0, points_after=second.points_delta)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        sender = KioskSender(mosquitto, "S1", "D2", [signup, forged, later], batch=10)
        assert sender.drain(60), "HQ never acknowledged the events"
        sender.close()
    account = hq.load_state(hq_db).accounts[signup.member_id]
    assert account.balance_fen == later.balance_after_fen  # the forged one moved nothing; the next applied
    assert account.balance_fen >= 0
    conflicts = {c.seq: c.detail for c in hq.list_conflicts(hq_db)}
    assert set(conflicts) == {forged.seq}
    assert conflicts[forged.seq].startswith("not applied: top_up")
    assert hq.event_counts(hq_db)["D2"] == (3, 3, 3)


def test_a_kiosk_cannot_send_an_adjustment(mosquitto, hq_url, hq_db):
    signup, top_up = many_top_ups("D2", 2, members=1)
    free = replace(
        top_up, kind=Kind.ADJUSTMENT, amount_fen=0, bonus_fen=0, payment_ref="", reason="free money",
        balance_after_fen=5_000_000, points_after=0, points_expire_on=None,
    )
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        sender = KioskSender(mosquitto, "S1", "D2", [signup, free], batch=10)
        assert sender.drain(60)
        sender.close()
    assert hq.load_state(hq_db).accounts[signup.member_id].balance_fen == 0
    (conflict,) = hq.list_conflicts(hq_db)
    assert conflict.seq == free.seq and conflict.detail == "not applied: adjustment may only be made at HQ, not by device D2"
    assert hq.event_counts(hq_db)["D2"] == (2, 2, 2)


def test_a_kiosk_cannot_sign_up_on_a_card_marked_as_waiting_to_be_written(mosquitto, hq_url, hq_db):
    """Only HQ's counter makes cards it cannot write (kiosk/ledger/card_write.py); a kiosk's
    sign-up saying so is refused and the member signs up with a card as written."""
    signup, top_up = many_top_ups("D2", 2, members=1)
    forged = replace(signup, awaiting_write=True)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        sender = KioskSender(mosquitto, "S1", "D2", [forged, top_up], batch=10)
        assert sender.drain(60)
        sender.close()
    assert forged.card_uid not in hq.load_state(hq_db).cards
    conflicts = {c.seq: c.detail for c in hq.list_conflicts(hq_db)}
    assert conflicts[forged.seq] == "not applied: a sign-up on a card waiting to be written is made only at HQ, not by device D2"
