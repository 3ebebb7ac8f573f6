"""The session-driven part of `kiosk demo`: every visit ends as expected and the store agrees."""

from __future__ import annotations

from kiosk.demo.session import SCREEN_DEVICE_ID, run_screen_demo
from kiosk.demo.story import OPENING, PEPPER
from kiosk.ledger.txn import Kind
from kiosk.session.incidents import IncidentLog
from kiosk.store.store import Store


def test_screen_demo_adds_up(tmp_path, capsys):
    assert run_screen_demo(tmp_path, OPENING, PEPPER) == []
    out = capsys.readouterr().out
    # the screen's own sentences, not the session's codes
    assert "“This way of paying cannot be used now.”" in out and "payment_unavailable" not in out
    assert "staff menu: 12 transactions waiting for HQ, reader ok" in out
    assert "someone taps a copy (same card number, an old counter)\n      screen: card not recognised\n" \
           "        “This card cannot be used. Please ask at the counter.”" in out
    assert "counter_rollback" not in out
    with Store.open(tmp_path, SCREEN_DEVICE_ID, pepper=PEPPER) as store:
        kinds = [(t.kind, t.card_counter) for t in store.outbox()]
        # the staff-cash top-up is made with the card lifted, so only the next visit's writes follow
        assert kinds == [
            (Kind.SIGN_UP, 0), (Kind.NEW_MEMBER_GIFT, 0), (Kind.VOUCHER_ISSUED, 0), (Kind.PURSE_WRITTEN, 1), (Kind.TOP_UP, 1),
            (Kind.TOP_UP, 1), (Kind.PURSE_WRITTEN, 2), (Kind.PIN_FAILED, 2), (Kind.PIN_RESET, 2),
            (Kind.REDEMPTION, 2), (Kind.PURSE_WRITTEN, 3), (Kind.CARD_BLOCKED, 0),
        ]
        top_ups = [t for t in store.outbox() if t.kind is Kind.TOP_UP]
        assert [(t.amount_fen, t.bonus_fen) for t in top_ups] == [(100_000, 8000), (5000, 0)]
        assert top_ups[1].payment_ref.startswith("acceptor:")
    abandoned = [i for i in IncidentLog(tmp_path / "incidents.jsonl").read_all() if i["kind"] == "payment_abandoned"]
    assert abandoned[0]["detail"]["received_fen"] == 1000
