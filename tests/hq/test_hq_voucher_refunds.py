"""HQ, receiving a kiosk's events over the real broker on SQLite and PostgreSQL, applies the same
voucher withdrawals as the kiosk (a refund keeping a used voucher's value, a void withdrawing an
unused one) and refuses, as the kiosk's own state does, a txn carrying a field its kind may not:
HQ's account ends exactly as the kiosk's, the one hostile txn its only conflict."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from kiosk.hq import ledger as hq
from kiosk.hq.embedded import start_receiver
from kiosk.ledger import charges, vouchers
from kiosk.ledger.model import VoucherStatus
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.rules import parse_rules
from kiosk.ledger.state import LedgerState
from tests.fixtures.kiosk_sender import KioskSender
from tests.test_ledger_properties import PIN
from tests.test_vouchers import JOINED, UID, _doc


def _kiosk_journal():
    """(the kiosk's ledger, every txn it made, the hostile one) on device D2."""
    ledger = Ledger(LedgerState(), parse_rules(_doc()), "D2", b"pepper", FAST_FOR_TESTS)
    journal = []

    def do(txn):
        journal.append(txn)
        result = ledger.apply(txn)
        assert not result.conflict or result.refused, result
        return txn

    do(ledger.sign_up(UID, 1, "13800000001", PIN, JOINED, salt=b"s" * 16))
    do(ledger.top_up(UID, 100_000, "cash-1", JOINED))
    while (due := vouchers.next_due(ledger, UID, JOINED)) is not None:
        do(due)

    def charge(order, total, voucher=""):
        do(charges.charge(ledger, UID, f"T1:{order}", total, False, JOINED, pin_verified=True, voucher_id=voucher))
        return [do(t) for t in iter(lambda: vouchers.next_due(ledger, UID, JOINED), None)]

    (earned,) = charge("A1", 20_000)
    charge("A2", 6_000, earned.txn_id)
    kept = do(charges.refund(ledger, "T1:A1", "R1", 3_000, JOINED))
    assert (kept.voucher_withdrawn, kept.voucher_kept_fen) == (earned.txn_id, 500)
    (unused,) = charge("A3", 20_000)
    void = do(charges.void(ledger, "T1:A3", JOINED + timedelta(hours=1)))
    assert (void.voucher_withdrawn, void.voucher_kept_fen) == (unused.txn_id, 0)
    honest = ledger.top_up(UID, 1_000, "cash-2", JOINED + timedelta(hours=2))
    hostile = do(replace(honest, voucher_id=unused.txn_id))  # a top-up naming a voucher: refused at both ends
    assert ledger.state.last_seq["D2"] == hostile.seq
    do(ledger.top_up(UID, 1_000, "cash-3", JOINED + timedelta(hours=2)))
    return ledger, journal, hostile


def test_hq_withdraws_the_same_vouchers_and_refuses_the_same_foreign_field(mosquitto, hq_url, hq_db):
    ledger, journal, hostile = _kiosk_journal()
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        sender = KioskSender(mosquitto, "S1", "D2", journal, batch=4)
        assert sender.drain(60), "HQ never acknowledged the events"
        sender.close()
    member = ledger.state.cards[UID].member_id
    at_hq = hq.load_state(hq_db).accounts[member]
    assert at_hq == ledger.state.accounts[member]
    assert sorted(v.status for v in at_hq.vouchers if v.reason.startswith("spend:")) == [VoucherStatus.WITHDRAWN] * 2
    (conflict,) = hq.list_conflicts(hq_db)
    assert (conflict.seq, conflict.detail) == (hostile.seq, "not applied: a top_up transaction may not carry voucher_id")
