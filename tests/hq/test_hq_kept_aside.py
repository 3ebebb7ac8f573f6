"""HQ never acknowledges an event it kept aside as if it had applied it (issue 18, item 1): a
second, different event under an id HQ already holds stays in the kiosk's outbox until
someone looks at it, and HQ's ledger keeps the first."""

from __future__ import annotations

from dataclasses import replace

from kiosk.hq import ledger as hq
from kiosk.hq.embedded import start_receiver
from tests.fixtures.histories import many_top_ups
from tests.fixtures.kiosk_sender import KioskSender


def test_an_event_kept_aside_is_not_acknowledged(mosquitto, hq_url, hq_db):
    txns = many_top_ups("D1", 3, members=1)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        first = KioskSender(mosquitto, "S1", "D1", txns, batch=10)
        assert first.drain(30)
        first.close()
        other = replace(txns[1], payment_ref="a-different-payment")  # same id D1:2, other content
        again = KioskSender(mosquitto, "S1", "D1", [other, txns[2]], batch=10, ack_timeout=1.0)
        assert not again.drain(4)  # never acknowledged ...
        assert set(again.pending) == {2}  # ... only the one kept aside: D1:3 was the same event
        assert all(2 not in ack.seqs() for ack in again.acks)
        again.close()
    assert [(d.device_id, d.seq) for d in hq.list_divergent(hq_db)] == [("D1", 2)]
    assert hq.event_counts(hq_db)["D1"] == (3, 3, 3)
