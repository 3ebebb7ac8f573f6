"""Kiosk sync client against the real HQ receiver (kiosk/hq, SQLite) through a real broker:
every transaction lands at HQ once and in order, the kiosk forgets them only after HQ's
commit, and a card blocked at HQ reaches the kiosk's blocked list."""

from __future__ import annotations

from kiosk.hq import admin
from kiosk.hq.embedded import start_receiver
from kiosk.hq.ledger import event_counts, list_conflicts, load_state
from tests.sync.support import make_txns, open_store
from tests.sync.test_drain import start_kiosk


def _receiver(broker, tmp_path):
    return start_receiver(tmp_path / "hq.sqlite3", broker.host, broker.port, "hq", broker.password("hq"))


def test_transactions_reach_the_real_hq_once_in_order(mosquitto, tmp_path):
    n = 1500
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", n))
    with _receiver(mosquitto, tmp_path) as hq:
        kiosk = start_kiosk(store, mosquitto, batch_size=100)
        try:
            assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 60), kiosk.status()
            assert event_counts(hq.admin_db)["D1"] == (n, n, n)  # stored once each, all applied in order
            assert list_conflicts(hq.admin_db) == []
            hq_state = load_state(hq.admin_db)
            assert hq_state.accounts == store.ledger.state.accounts
        finally:
            kiosk.stop()
    store.close()


def test_broker_killed_mid_drain_with_real_hq(mosquitto, tmp_path):
    n = 3000
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", n))
    with _receiver(mosquitto, tmp_path) as hq:
        kiosk = start_kiosk(store, mosquitto, batch_size=50)
        try:
            assert kiosk.wait_until(lambda: store.outbox_depth() < n - 300, 30)
            mosquitto.kill()
            kiosk.wait_until(lambda: False, 0.5)
            mosquitto.start()
            assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 90), kiosk.status()
            assert event_counts(hq.admin_db)["D1"] == (n, n, n)
        finally:
            kiosk.stop()
    store.close()


def test_card_blocked_at_hq_reaches_the_kiosk(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    txns = make_txns("D1", 30)
    store.commit_many(txns)
    lost = txns[0].card_uid
    with _receiver(mosquitto, tmp_path) as hq:
        kiosk = start_kiosk(store, mosquitto)
        try:
            assert kiosk.wait_until(lambda: store.outbox_depth() == 0, 30)
            admin.block_card(hq.admin_db, lost, "lost", None)
            assert kiosk.wait_until(lambda: kiosk.blocked.is_blocked(lost), 15), kiosk.status()
            assert not kiosk.blocked.is_blocked(txns[1].card_uid)
            assert not kiosk.counters.rejected
        finally:
            kiosk.stop()
    store.close()


def test_two_kiosks_two_receivers_on_a_shared_subscription(mosquitto, tmp_path):
    n = 1200
    stores = {d: open_store(tmp_path / d, d) for d in ("D1", "D2")}
    stores["D1"].commit_many(make_txns("D1", n))
    stores["D2"].commit_many(make_txns("D2", n, first_uid=0x05000000))
    db = tmp_path / "hq.sqlite3"
    with _receiver(mosquitto, tmp_path) as hq, start_receiver(
        db, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq"), client_id="hq-second"
    ):
        kiosks = [start_kiosk(stores[d], mosquitto, device=d, batch_size=50) for d in stores]
        try:
            for kiosk, store in zip(kiosks, stores.values(), strict=True):
                assert kiosk.wait_until(lambda s=store: s.outbox_depth() == 0, 60), kiosk.status()
            counts = event_counts(hq.admin_db)
            assert counts["D1"] == (n, n, n) and counts["D2"] == (n, n, n)
            assert list_conflicts(hq.admin_db) == []
        finally:
            for kiosk in kiosks:
                kiosk.stop()
    for store in stores.values():
        store.close()
