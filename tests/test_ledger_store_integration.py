"""The ledger and the store together, the way sync will use them: two kiosks work offline, HQ
receives each outbox in order, applies every id once and acknowledges; HQ relays each kiosk's
transactions to the other; an HQ account snapshot replaces a kiosk's state without losing what
HQ has not seen yet. Everything converges to one state, across restarts."""

from __future__ import annotations

from kiosk.ledger.codec import state_from_dict, state_to_dict
from kiosk.ledger.operations import Refused
from kiosk.ledger.state import LedgerState
from kiosk.store.store import Store
from tests.store_helpers import T0, later, open_store, uid


def deliver(kiosk: Store, hq: LedgerState, acked_upto: dict[str, int]) -> int:
    """Kiosk -> HQ: HQ applies the outbox (ids once), then acknowledges after its own commit."""
    outbox = kiosk.outbox()
    for txn in outbox:
        hq.apply(txn)
    acked = kiosk.ack(t.txn_id for t in outbox)
    acked_upto[kiosk.device_id] = hq.last_seq.get(kiosk.device_id, 0)
    return acked


def relay(hq_log: list, kiosk: Store) -> None:
    """HQ -> kiosk: every other device's transactions, in order; duplicates are no-ops."""
    kiosk.commit_many([t for t in hq_log if t.device_id != kiosk.device_id])


def test_two_kiosks_and_hq_converge(tmp_path):
    k1 = open_store(tmp_path / "k1", device_id="K1")
    k2 = open_store(tmp_path / "k2", device_id="K2")
    hq = LedgerState()
    hq_log = []
    acked: dict[str, int] = {}

    # offline morning at K1: a sign-up and a top-up
    card = uid(1)
    k1.commit(k1.ledger.sign_up(card, 1, "13800000001", "246813", T0, name="Wang"))
    k1.commit(k1.ledger.top_up(card, 50000, "PAY-1", later(1)))
    assert k1.outbox_depth() == 2

    # K1 comes online: HQ takes its outbox, acks it, and relays it to K2
    hq_log += k1.outbox()
    assert deliver(k1, hq, acked) == 2 and k1.outbox_depth() == 0
    relay(hq_log, k2)
    assert state_to_dict(k2.ledger.state)["accounts"] == state_to_dict(hq)["accounts"]

    # the member visits K2 (offline): spends there; K2 restarts before syncing
    k2.commit(k2.ledger.spend(card, 3000, later(30)))
    k2.close()
    k2 = open_store(tmp_path / "k2", device_id="K2")
    assert k2.outbox_depth() == 1

    # the member reports the card lost at K2's staff screen; HQ relays the block to K1
    k2.commit(k2.ledger.block_card(card, "lost", later(40)))
    hq_log += k2.outbox()
    deliver(k2, hq, acked)
    relay(hq_log, k1)
    relay(hq_log, k1)  # a second delivery changes nothing
    try:
        k1.ledger.top_up(card, 10000, "PAY-2", later(50))
        raise AssertionError("the lost card must be refused at K1 too")
    except Refused as exc:
        assert exc.code == "card_blocked"

    # all three agree (HQ's bare state holds no per-kiosk reward stock)
    for kiosk in (k1, k2):
        assert state_to_dict(kiosk.ledger.state) | {"stock": {}} == state_to_dict(hq)

    # HQ sends K1 an account snapshot taken before K1's next offline txn reached it
    k1.commit(k1.ledger.replace_card(card, uid(2), later(60)))
    hq_snapshot = state_from_dict(state_to_dict(hq))
    assert k1.replace_state_from_hq(hq_snapshot, own_high_water=acked["K1"]) == 1
    assert k1.ledger.state.cards[uid(2)].member_id == hq.cards[card].member_id
    before = state_to_dict(k1.ledger.state)
    k1.close()
    k1 = open_store(tmp_path / "k1", device_id="K1")
    assert state_to_dict(k1.ledger.state) == before
    hq_log += k1.outbox()
    deliver(k1, hq, acked)
    relay(hq_log, k2)
    assert state_to_dict(k2.ledger.state)["cards"] == state_to_dict(hq)["cards"]
    assert k1.check() == [] and k2.check() == []
    k1.close()
    k2.close()
