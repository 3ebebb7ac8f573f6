"""A card made at HQ's counter waits to be written (kiosk/ledger/card_write.py): HQ's operations
set the wait on the card, one CARD_WRITTEN from a kiosk clears it, and a forged or repeated one
changes nothing; old snapshots (before the field) decode as written cards."""

from __future__ import annotations

from dataclasses import replace

from kiosk.ledger.card_write import is_reserved_member_id, reserved_member_id
from kiosk.ledger.codec import state_from_dict, state_to_dict
from kiosk.ledger.operations import Ledger
from kiosk.ledger.txn import Kind, txn_from_dict, txn_to_dict
from tests.test_ledger_boundaries import CARD, NOW, OTHER, PIN, SECOND, do, make, refused

THIRD = "04ABABABABABAB"


def at_seq(txn, seq: int):
    return replace(txn, seq=seq, txn_id=f"{txn.device_id}:{seq}")


def counter(ledger: Ledger) -> Ledger:
    """HQ's ledger on the same state (HQ's device id): the operations HQ's counter runs."""
    return Ledger(ledger.state, ledger.rules, "hq", ledger.pepper, ledger.pin_params)


def test_a_card_signed_up_at_a_kiosk_is_written_and_one_registered_at_hq_waits():
    ledger = make()
    assert ledger.state.cards[CARD].awaiting_write is False
    refused("card_not_awaiting_write", ledger.card_written, CARD, NOW)
    hq = counter(ledger)
    txn = do(hq, hq.sign_up(OTHER, 1, "13900139000", PIN, NOW, awaiting_write=True))
    assert txn.awaiting_write and ledger.state.cards[OTHER].awaiting_write
    assert txn_from_dict(txn_to_dict(txn)) == txn  # the field travels


def test_a_replaced_or_exchanged_card_waits_and_card_written_clears_it_once():
    ledger = make()
    hq = counter(ledger)
    moved = do(hq, hq.replace_card(CARD, OTHER, NOW))
    assert moved.awaiting_write and ledger.state.cards[OTHER].awaiting_write
    assert ledger.state.cards[OTHER].card_seq == 2
    written = do(ledger, ledger.card_written(OTHER, NOW + SECOND))
    assert (written.kind, written.card_seq, written.member_id) == (Kind.CARD_WRITTEN, 2, moved.member_id)
    assert ledger.state.cards[OTHER].awaiting_write is False
    assert ledger.state.accounts[moved.member_id].recent[0].kind == "card_written"
    refused("card_not_awaiting_write", ledger.card_written, OTHER, NOW + 2 * SECOND)
    refused("card_replaced", ledger.card_written, CARD, NOW)  # the old card is stopped
    do(hq, hq.exchange_card(OTHER, THIRD, NOW + 3 * SECOND))
    assert ledger.state.cards[THIRD].awaiting_write and ledger.state.cards[THIRD].card_seq == 3


def test_a_card_written_for_a_card_not_waiting_is_refused_and_changes_nothing():
    ledger = make()
    hq = counter(ledger)
    do(hq, hq.replace_card(CARD, OTHER, NOW))
    good = ledger.card_written(OTHER, NOW + SECOND)
    forged = [
        replace(good, card_uid=CARD),  # the old card (replaced, never waiting)
        replace(good, card_seq=1),  # another card number than the ledger's
        replace(good, member_id="M-x-1"),  # another member
        replace(good, card_uid=THIRD),  # a card the ledger does not hold
    ]
    for i, txn in enumerate(forged):
        txn = at_seq(txn, good.seq + i)
        before = state_to_dict(ledger.state)
        result = ledger.apply(txn)
        assert result.refused and result.conflict.startswith("not applied: card "), result
        after = state_to_dict(ledger.state)
        assert after.pop("last_seq") != before.pop("last_seq") and after == before  # only its seq is used up
    do(ledger, at_seq(good, good.seq + len(forged)))
    assert not ledger.state.cards[OTHER].awaiting_write
    again = ledger.apply(at_seq(good, good.seq + len(forged) + 1))
    assert again.refused and "was not waiting" in again.conflict  # cleared once: a second is refused


def test_a_snapshot_from_before_the_field_decodes_its_cards_as_written():
    ledger = make()
    data = state_to_dict(ledger.state)
    for card in data["cards"]:
        del card["awaiting_write"]
    assert state_from_dict(data).cards[CARD].awaiting_write is False


def test_reserved_member_ids_are_told_from_signed_up_ones():
    assert reserved_member_id("kiosk-01", 7) == "M-kiosk-01-P7"
    assert is_reserved_member_id("M-kiosk-01-P7") and is_reserved_member_id("M-a-P3-P12")
    for member_id in ("M-kiosk-01-7", "M-hq-3", "M-a-P3-5", "M-kiosk-01-P0", "M-kiosk-01-P", "X-kiosk-01-P7", ""):
        assert not is_reserved_member_id(member_id), member_id
