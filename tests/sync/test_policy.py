"""Bounded outbox policy and reconnect backoff."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.sync.admission import check_admission
from kiosk.sync.blocked import BlockedCards
from kiosk.sync.client import SyncClient
from kiosk.sync.link import backoff_delay
from kiosk.sync.outbox_sender import consecutive_batches
from tests.sync.support import make_txns, open_store
from tests.sync.test_drain import settings_for


@given(st.integers(0, 100), st.floats(0, 1))
def test_backoff_grows_to_its_cap_with_jitter(attempt, r):
    delay = backoff_delay(attempt, 1.0, 60.0, rand=lambda: r)
    step = min(60.0, 2.0**attempt)
    assert step / 2 <= delay <= step


def test_backoff_jitter_spreads_kiosks():
    delays = {round(backoff_delay(5, 1.0, 60.0), 3) for _ in range(50)}
    assert len(delays) > 40


def test_admission_policy(tmp_path):
    assert check_admission(tmp_path, 10).money_ok
    full_disk = check_admission(tmp_path, 10, min_free_bytes=10**18)
    assert (full_disk.money_ok, full_disk.code) == (False, "disk_nearly_full")
    assert "存储空间不足" in full_disk.message("zh_CN") and "Storage" in full_disk.message("en")
    assert check_admission(tmp_path, 500, max_outbox=500).code == "outbox_full"
    assert check_admission(tmp_path / "missing", 0).code == "disk_nearly_full"


def test_kiosk_pauses_money_when_disk_nearly_full_and_says_so(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    store.commit_many(make_txns("D1", 5))
    kiosk = SyncClient(store, settings_for(mosquitto, data_dir=store.data_dir, min_free_bytes=10**18))
    try:
        kiosk.poll()
        assert not kiosk.admission.money_ok
        assert kiosk.money_paused == "disk_nearly_full"
        assert kiosk.status().money_paused == "disk_nearly_full"
        assert kiosk.status().outbox_depth == 5  # nothing was dropped
    finally:
        store.close()


@settings(deadline=None)  # the first example builds the 300 transactions
@given(st.lists(st.integers(1, 300), unique=True, max_size=200), st.integers(1, 30))
def test_batches_are_consecutive_and_keep_everything(seqs, size):
    txns = make_txns_cache()
    chosen = [txns[s - 1] for s in sorted(seqs)]
    batches = consecutive_batches(chosen, size)
    assert [t for b in batches for t in b] == chosen
    for batch in batches:
        assert 1 <= len(batch) <= size
        assert [t.seq for t in batch] == list(range(batch[0].seq, batch[0].seq + len(batch)))


_CACHE: list = []


def make_txns_cache():
    if not _CACHE:
        _CACHE.extend(make_txns("D1", 300))
    return _CACHE


def test_blocked_cards_from_damaged_meta_start_empty():
    for junk in (None, [], {"version": "3", "uids": []}, {"version": 2, "uids": [1]}, {"version": True, "uids": []}):
        assert BlockedCards.from_json(junk).version == 0
    assert BlockedCards.from_json({"version": 2, "uids": ["04AAAA01"]}).is_blocked("04AAAA01")


def test_settings_from_the_kiosk_configuration(tmp_path):
    from pathlib import Path

    from kiosk.app.config import parse_config
    from kiosk.sync.client import SyncSettings

    config = parse_config(
        {
            "device": {"id": "D7", "store": "S3", "data_dir": str(tmp_path)},
            "hq": {"host": "mqtt.example", "port": 8883, "tls_ca": "/etc/kiosk/ca.pem",
                   "tls_cert": "/etc/kiosk/D7.pem", "tls_key": "/etc/kiosk/D7.key", "keepalive_s": 20},
        }
    )
    s = SyncSettings.from_config(config, batch_size=50)
    assert (s.store_id, s.device_id, s.host, s.port, s.keepalive_s, s.batch_size) == ("S3", "D7", "mqtt.example", 8883, 20, 50)
    assert (s.tls_ca, s.tls_cert, s.tls_key) == (Path("/etc/kiosk/ca.pem"), Path("/etc/kiosk/D7.pem"), Path("/etc/kiosk/D7.key"))
    assert s.data_dir == tmp_path
