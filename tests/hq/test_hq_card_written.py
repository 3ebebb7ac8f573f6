"""A card made at HQ's counter reaches a kiosk waiting to be written, and the kiosk's CARD_WRITTEN
reaches HQ: the real sync client and the real HQ receiver through a real Mosquitto. HQ replaces
a member's lost card with a blank one (补卡); the kiosk learns the new card from HQ, writes it
behind the member's PIN, and HQ, applying the kiosk's CARD_WRITTEN, stops waiting for it too."""

from __future__ import annotations

import pytest

from kiosk.hq import admin
from kiosk.hq import ledger as hq_ledger
from kiosk.hq.embedded import start_receiver
from kiosk.ledger.txn import Kind
from kiosk.reader.card import read_member_card
from kiosk.session.sync_link import SyncClientLink
from kiosk.sync.client import SyncClient, SyncSettings
from tests.session_support import DEVICE, KEYS, PIN, SIGNERS, make_kiosk


@pytest.fixture
def broker(mosquitto_factory):
    return mosquitto_factory(devices=(("S1", DEVICE),))


def test_a_card_replaced_at_hq_is_written_at_the_kiosk_and_hq_stops_waiting(broker, hq_url, tmp_path):
    kiosk = make_kiosk(tmp_path)
    old = kiosk.member(balance_fen=8_000)
    new = kiosk.blank()
    old_uid, new_uid = old.uid.hex().upper(), new.uid.hex().upper()
    settings = SyncSettings(store_id="S1", device_id=DEVICE, host=broker.host, port=broker.port,
                            password=broker.password(DEVICE), data_dir=kiosk.data_dir, backoff_min_s=0.1,
                            backoff_max_s=0.3)
    client = SyncClient(kiosk.store, settings, now=kiosk.clock.now)
    with start_receiver(hq_url, broker.host, broker.port, "hq", broker.password("hq")) as hq:
        client.start()
        try:
            assert client.wait_until(lambda: kiosk.store.outbox_depth() == 0, 30), client.status()
            kiosk.session.sync = SyncClientLink(client)
            admin.block_card(hq.admin_db, old_uid, "lost")
            admin.replace_card(hq.admin_db, old_uid, new_uid)
            assert hq_ledger.load_state(hq.admin_db).cards[new_uid].awaiting_write
            assert client.wait_until(lambda: new_uid in kiosk.ledger.state.cards, 30), client.status()
            assert kiosk.ledger.state.cards[new_uid].awaiting_write  # learnt from HQ: still blank

            kiosk.tap(new)
            assert kiosk.state == "card_write_pin", kiosk.session.view.message
            kiosk.enter_pin(PIN)
            kiosk.run()
            assert kiosk.state == "home" and kiosk.session.view.member.balance_fen == 8_000
            card = read_member_card(kiosk.reader, kiosk.reader.wait_for_card(0), KEYS, SIGNERS)
            assert (card.member_id, card.card_seq) == (kiosk.ledger.state.cards[new_uid].member_id, 2)
            assert kiosk.store.outbox()[0].kind is Kind.CARD_WRITTEN  # then what home gives (a voucher due)

            assert client.wait_until(lambda: kiosk.store.outbox_depth() == 0, 30), client.status()
            at_hq = hq_ledger.load_state(hq.admin_db).cards[new_uid]
            assert not at_hq.awaiting_write and at_hq.card_seq == 2
            assert hq_ledger.list_conflicts(hq.admin_db) == []
        finally:
            client.stop(timeout=1)
    kiosk.store.close()
