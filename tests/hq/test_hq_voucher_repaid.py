"""HQ, receiving a kiosk's events over the real broker on SQLite and PostgreSQL, pays back the same
voucher values as the kiosk: the whole refund, or the void, of the order that used a withdrawn
spend voucher returns what the earning order's refunds kept for it (all of it, or the part kept
so far, after which the earning order keeps nothing more); and it refuses, as the kiosk's own
state does, a refund stating more paid back than was kept. HQ's account ends exactly as the
kiosk's, with the member's balance back where it began; the hostile txn is its only conflict."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from kiosk.hq import ledger as hq
from kiosk.hq.embedded import start_receiver
from kiosk.ledger import charges, vouchers
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.rules import parse_rules
from kiosk.ledger.state import LedgerState
from tests.fixtures.kiosk_sender import KioskSender
from tests.test_ledger_properties import PIN
from tests.test_vouchers import JOINED, UID, _doc


def _kiosk_journal():
    """(the kiosk's ledger, every txn it made, the hostile one, the balance before the sales)."""
    doc = _doc()
    doc["vouchers"]["gifts"]["new_member"] = ""
    ledger = Ledger(LedgerState(), parse_rules(doc), "D2", b"pepper", FAST_FOR_TESTS)
    journal = []

    def do(txn):
        journal.append(txn)
        result = ledger.apply(txn)
        assert not result.conflict or result.refused, result
        return txn

    do(ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, salt=b"s" * 16))
    do(ledger.top_up(UID, 100_000, "cash-1", JOINED))
    before = ledger.state.accounts[ledger.state.cards[UID].member_id].balance_fen

    def charge(order, total, voucher=""):
        do(charges.charge(ledger, UID, f"T1:{order}", total, False, JOINED, pin_verified=True, voucher_id=voucher))
        return [do(t) for t in iter(lambda: vouchers.next_due(ledger, UID, JOINED), None)]

    # A then B, both refunded whole: the 500 kept from A's refund goes back with B's
    (earned,) = charge("A1", 21_000)
    charge("B1", 6_000, earned.txn_id)
    assert do(charges.refund(ledger, "T1:A1", "R1", 21_000, JOINED)).voucher_kept_fen == 500
    honest = charges.refund(ledger, "T1:B1", "R1", 5_500, JOINED)
    assert honest.voucher_repaid_fen == 500
    hostile = do(replace(honest, voucher_repaid_fen=501, balance_after_fen=honest.balance_after_fen + 1))
    assert do(charges.refund(ledger, "T1:B1", "R1", 5_500, JOINED)).voucher_repaid_fen == 500
    # A kept 300 of it (a refund smaller than the voucher), B voided pays 300 back, A's rest keeps nothing
    (earned,) = charge("A2", 21_000)
    charge("B2", 6_000, earned.txn_id)
    do(charges.refund(ledger, "T1:A2", "R1", 1_000, JOINED))
    assert do(charges.refund(ledger, "T1:A2", "R2", 300, JOINED)).voucher_kept_fen == 300
    assert do(charges.void(ledger, "T1:B2", JOINED + timedelta(hours=1))).voucher_repaid_fen == 300
    assert do(charges.refund(ledger, "T1:A2", "R3", 19_700, JOINED)).voucher_kept_fen == 0
    return ledger, journal, hostile, before


def test_hq_pays_back_the_same_voucher_values_and_refuses_the_same_overpaying_refund(mosquitto, hq_url, hq_db):
    ledger, journal, hostile, before = _kiosk_journal()
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        sender = KioskSender(mosquitto, "S1", "D2", journal, batch=4)
        assert sender.drain(60), "HQ never acknowledged the events"
        sender.close()
    member = ledger.state.cards[UID].member_id
    at_hq = hq.load_state(hq_db).accounts[member]
    assert at_hq == ledger.state.accounts[member]
    assert at_hq.balance_fen == before
    assert [(o.key, o.voucher_kept_fen, o.voucher_repaid_fen) for o in at_hq.orders if o.key.startswith("T1:A")] == [
        ("T1:A1", 500, 500), ("T1:A2", 300, 300)
    ]
    (conflict,) = hq.list_conflicts(hq_db)
    assert conflict.seq == hostile.seq
    assert "only 500 fen was kept for it and not paid back" in conflict.detail
