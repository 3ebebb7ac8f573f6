"""The store's promises, each against real files: durability across reopen, torn tails,
corruption refused and left untouched, the single-writer lock, outbox/ack, checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.ledger.codec import state_from_dict, state_to_dict
from kiosk.ledger.rules import RulesError
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState, SequenceGap
from kiosk.store.journal import MAGIC, encode_record
from kiosk.store.store import StaleSnapshot, StoreCorrupt, StoreLocked
from tests.store_helpers import DEVICE, T0, later, open_store, sign_up, snapshot_of, top_up, uid

ROOT = Path(__file__).resolve().parent.parent


def segment(data_dir: Path, n: int = 1) -> Path:
    return data_dir / "journal" / f"{n:08d}.jnl"


def test_committed_txns_survive_reopen(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    top_up(store, card, 50000)
    before = snapshot_of(store)
    store.close()
    again = open_store(tmp_path)
    assert snapshot_of(again) == before
    assert again.ledger.state.accounts[again.ledger.state.cards[card].member_id].balance_fen == 52500
    again.close()


def test_duplicate_commit_is_a_no_op_and_not_journalled(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    txn = store.ledger.top_up(card, 10000, "P1", T0)
    assert store.commit(txn).applied
    size = segment(tmp_path).stat().st_size
    assert not store.commit(txn).applied
    assert segment(tmp_path).stat().st_size == size
    assert store.outbox_depth() == 2
    store.close()


def test_sequence_gap_refused_before_writing(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    txn = store.ledger.top_up(card, 10000, "P1", T0)
    from dataclasses import replace

    skipped = replace(txn, seq=txn.seq + 1, txn_id=f"{DEVICE}:{txn.seq + 1}")
    size = segment(tmp_path).stat().st_size
    with pytest.raises(SequenceGap):
        store.commit(skipped)
    assert segment(tmp_path).stat().st_size == size
    store.close()


def test_torn_tail_is_cut_off_and_kept_aside(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    top_up(store, card, 10000)
    good = snapshot_of(store)
    store.close()
    path = segment(tmp_path)
    good_size = path.stat().st_size
    torn = encode_record({"t": "txn", "txn": {"partial": True}})[:-7]
    with open(path, "ab") as f:
        f.write(torn)
    damaged = path.read_bytes()
    again = open_store(tmp_path)
    assert snapshot_of(again) == good
    assert path.stat().st_size == good_size
    (aside,) = again.repaired
    assert aside.read_bytes() == damaged  # the whole file as found
    assert f"torn-at-{good_size}" in aside.name
    assert aside.parent == tmp_path / "journal" / "damaged"
    top_up(again, card, 10000)  # appends after the cut, readable on the next open
    again.close()
    assert open_store(tmp_path).outbox_depth() == 3


@pytest.mark.parametrize("tail", [b"\x00" * 40, b"\x00\x00\x00", "complete-bad-crc"])
def test_other_torn_tail_shapes(tmp_path, tail):
    store = open_store(tmp_path)
    sign_up(store, 1)
    store.close()
    path = segment(tmp_path)
    if tail == "complete-bad-crc":
        record = bytearray(encode_record({"t": "meta", "k": "a", "v": 1}))
        record[-5:] = bytes(5)  # the last append's final sector never reached the disk: zeros
        tail = bytes(record)
    with open(path, "ab") as f:
        f.write(tail)
    again = open_store(tmp_path)
    assert again.outbox_depth() == 1 and len(again.repaired) == 1
    again.close()


def test_mid_file_corruption_is_refused_and_left_untouched(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    for i in range(3):
        top_up(store, card, 10000, ref=f"P{i}")
    store.close()
    path = segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(MAGIC) + 30] ^= 0x01  # a bit flip inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt) as caught:
        open_store(tmp_path)
    assert str(path) in str(caught.value)
    assert "checksum" in str(caught.value)
    assert path.read_bytes() == bytes(data)  # not repaired, not truncated
    # the lock was released: a second attempt gives the same answer, not StoreLocked
    with pytest.raises(StoreCorrupt):
        open_store(tmp_path)


def test_corrupt_header_in_middle_is_not_mistaken_for_a_tail(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    top_up(store, card, 10000)
    store.close()
    path = segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(MAGIC) + 1] ^= 0x40  # the first record's length now points past the end
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match="header checksum"):
        open_store(tmp_path)


def test_corrupt_snapshot_is_refused_with_its_name(tmp_path):
    store = open_store(tmp_path)
    sign_up(store, 1)
    store.meta_put("blocked_version", 0)
    store.checkpoint()
    store.close()
    snap = tmp_path / "snapshot.json"
    text = snap.read_text().replace('"value":0', '"value":9')
    assert text != snap.read_text()
    snap.write_text(text)
    with pytest.raises(StoreCorrupt) as caught:
        open_store(tmp_path)
    assert str(snap) in str(caught.value) and "checksum" in str(caught.value)
    assert snap.read_text() == text
    snap.write_text("{not json")
    with pytest.raises(StoreCorrupt, match="not valid JSON"):
        open_store(tmp_path)


def test_snapshot_of_another_device_is_refused(tmp_path):
    store = open_store(tmp_path)
    store.checkpoint()
    store.close()
    with pytest.raises(StoreCorrupt, match="belongs to device"):
        open_store(tmp_path, device_id="K2")


def test_missing_segment_is_refused(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    store.checkpoint()
    top_up(store, card, 10000)
    store.checkpoint()
    top_up(store, card, 10000, ref="P2")
    store.close()
    segment(tmp_path, 2).unlink()
    with pytest.raises(StoreCorrupt, match="segment"):
        open_store(tmp_path)


def test_second_opener_gets_store_locked_with_pid(tmp_path):
    store = open_store(tmp_path)
    code = (
        "import sys; from pathlib import Path; from kiosk.store.store import Store, StoreLocked\n"
        "try:\n    Store.open(Path(sys.argv[1]), 'K1')\n"
        "except StoreLocked as e:\n    print(e.pid); sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert int(done.stdout) == os.getpid()
    with pytest.raises(StoreLocked, match=str(os.getpid())):
        open_store(tmp_path)
    store.close()
    open_store(tmp_path).close()  # released on close


def test_outbox_and_acks_are_durable(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    for i in range(4):
        top_up(store, card, 10000, ref=f"P{i}")
    assert [t.seq for t in store.outbox()] == [1, 2, 3, 4, 5]
    assert [t.seq for t in store.outbox(limit=2)] == [1, 2]
    assert store.ack([f"{DEVICE}:2", f"{DEVICE}:4", f"{DEVICE}:2", "K9:1"]) == 2
    assert store.ack([f"{DEVICE}:2"]) == 0
    store.close()
    again = open_store(tmp_path)
    assert [t.seq for t in again.outbox()] == [1, 3, 5]
    assert again.outbox_depth() == 3
    again.close()


def test_foreign_txns_are_applied_but_not_outboxed(tmp_path):
    other = open_store(tmp_path / "other", device_id="K2")
    card = sign_up(other, 7)
    txns = other.outbox()
    other.close()
    store = open_store(tmp_path / "mine")
    results = store.commit_many(txns + txns)
    assert [r.applied for r in results] == [True, False]
    assert card in store.ledger.state.cards and store.outbox_depth() == 0
    store.close()
    assert card in open_store(tmp_path / "mine").ledger.state.cards


def test_checkpoint_drops_only_acked_and_covered_segments(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)  # seq 1 in segment 1
    store.ack([f"{DEVICE}:1"])
    # segment 1 is acked and covered by the new snapshot, but the previous snapshot (here: none,
    # replay from 1) is kept as the last good copy and still needs it
    assert store.checkpoint() == []
    assert store.checkpoint() == [1]  # both kept snapshots now replay from 2 or later
    assert store.journal_segments() == [2, 3]
    top_up(store, card, 10000)  # seq 2 in segment 3, not acked
    assert store.checkpoint() == [2]
    assert store.checkpoint() == []  # segment 3 still holds seq 2 for the outbox
    top_up(store, card, 10000, ref="P3")  # seq 3 in segment 5
    store.ack([f"{DEVICE}:3"])
    store.checkpoint()
    store.checkpoint()
    assert store.journal_segments() == [3, 4, 5, 6, 7]
    state = snapshot_of(store)
    store.close()
    again = open_store(tmp_path)
    assert snapshot_of(again) == state
    assert [t.seq for t in again.outbox()] == [2]
    again.ack([f"{DEVICE}:2"])
    assert again.checkpoint() == [3, 4, 5, 6]
    assert again.journal_segments() == [7, 8]
    again.close()
    final = open_store(tmp_path)
    assert final.outbox_depth() == 0 and snapshot_of(final)["state"] == state["state"]
    final.close()


def test_previous_snapshot_is_kept_and_usable(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    store.checkpoint()
    top_up(store, card, 10000)
    store.checkpoint()
    expected = snapshot_of(store)
    store.close()
    prev = tmp_path / "snapshot.prev.json"
    assert prev.exists()
    os.replace(prev, tmp_path / "snapshot.json")  # what an operator does if snapshot.json is lost
    again = open_store(tmp_path)
    assert snapshot_of(again) == expected
    again.close()


def test_snapshot_is_tinydb_json_and_the_members_are_in_sqlite(tmp_path):
    """Whole documents (rules, meta) in TinyDB; members, cards and accounts in the replica."""
    import sqlite3

    from tinydb import TinyDB, where

    from kiosk.store.snapshot import SnapshotStorage

    store = open_store(tmp_path)
    sign_up(store, 1)
    sign_up(store, 2)
    store.meta_put("blocked_version", 3)
    store.checkpoint()
    store.close()
    db = TinyDB(tmp_path / "snapshot.json", storage=SnapshotStorage)
    assert db.table("meta").get(where("key") == "blocked_version")["value"] == 3
    plain = json.loads((tmp_path / "snapshot.json").read_text())
    assert plain["store"]["1"]["format"] == 3 and "members" not in plain
    replica = sqlite3.connect(tmp_path / "replica.sqlite")
    assert replica.execute("SELECT COUNT(*) FROM members").fetchone() == (2,)
    (body,) = replica.execute("SELECT body FROM cards WHERE uid = ?", (uid(2),)).fetchone()
    assert json.loads(body)["status"] == "active"
    assert replica.execute("SELECT absorbed FROM position").fetchone() == (2,)
    replica.close()


def test_meta_is_durable_and_copied(tmp_path):
    store = open_store(tmp_path)
    store.meta_put("hq_contact", {"at": "2026-05-01T02:00:00Z"})
    store.meta_put("blocked_version", 3)
    got = store.meta_get("hq_contact")
    got["at"] = "changed"
    assert store.meta_get("hq_contact") == {"at": "2026-05-01T02:00:00Z"}
    with pytest.raises(TypeError):
        store.meta_put("bad", object())
    store.checkpoint()
    store.meta_put("blocked_version", 4)
    store.close()
    again = open_store(tmp_path)
    assert again.meta_get("hq_contact") == {"at": "2026-05-01T02:00:00Z"}
    assert again.meta_get("blocked_version") == 4
    assert again.meta_get("missing", "x") == "x"
    again.close()


def rules_doc(version: int, coffee_stock: int = 50) -> dict:
    doc = json.loads((ROOT / "kiosk" / "data" / "rules.default.json").read_text())
    doc["version"] = version
    doc["rewards"].append(
        {"id": "tea", "name": {"zh_CN": "茶", "en": "Tea"}, "points_cost": 50, "stock": coffee_stock}
    )
    return doc


def test_put_rules_validates_persists_and_seeds_stock(tmp_path):
    store = open_store(tmp_path)
    bad = rules_doc(2)
    bad["topup"]["min_fen"] = -5
    with pytest.raises(RulesError):
        store.put_rules(bad)
    assert store.ledger.rules.version == default_rules().version
    store.put_rules(rules_doc(2, coffee_stock=7))
    assert store.ledger.state.stock["tea"] == 7
    store.close()
    again = open_store(tmp_path)
    assert again.ledger.rules.version == 2 and again.ledger.state.stock["tea"] == 7
    again.checkpoint()
    again.close()
    third = open_store(tmp_path)
    assert third.ledger.rules.version == 2 and third.rules_doc["version"] == 2
    third.close()


def test_replace_state_from_hq_keeps_unacknowledged_local_txns(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)  # seq 1
    top_up(store, card, 10000, ref="P1")  # seq 2
    hq_state = state_from_dict(state_to_dict(store.ledger.state))  # HQ has seq 1..2
    store.ack([f"{DEVICE}:1", f"{DEVICE}:2"])
    member = store.ledger.state.cards[card].member_id
    # HQ applied a 500 fen adjustment of its own to this member
    from dataclasses import replace

    hq_state.accounts[member] = replace(hq_state.accounts[member], balance_fen=10500)
    top_up(store, card, 20000, ref="P3", at=later(5))  # seq 3: HQ does not have it yet
    assert store.replace_state_from_hq(hq_state, own_high_water=2) == 1
    assert store.ledger.state.accounts[member].balance_fen == 30500
    assert [t.seq for t in store.outbox()] == [3]
    expected = snapshot_of(store)
    store.close()
    again = open_store(tmp_path)
    assert snapshot_of(again) == expected
    # HQ's snapshot from before seq 2 but seq 2 was acknowledged and is gone: refused, no change
    with pytest.raises(StaleSnapshot):
        again.replace_state_from_hq(LedgerState(), own_high_water=0)
    assert snapshot_of(again) == expected
    assert again.check() == []
    again.close()


def test_check_reports_a_healthy_store(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    store.checkpoint()
    top_up(store, card, 10000)
    assert store.check() == []
    segment(tmp_path, 2).write_bytes(b"garbage!")
    assert any("bad magic" in p for p in store.check())
    store.close()


def test_a_different_txn_with_a_used_id_is_refused(tmp_path):
    from kiosk.store.store import TxnIdReused

    store = open_store(tmp_path)
    card = sign_up(store, 1)
    first = store.ledger.top_up(card, 10000, "P1", T0)
    second = store.ledger.top_up(card, 20000, "P2", T0)  # decided against the same state
    store.commit(first)
    with pytest.raises(TxnIdReused):
        store.commit(second)
    assert store.outbox()[-1] == first
    store.close()


def test_new_directories_are_created_durably(tmp_path):
    data_dir = tmp_path / "a" / "b"
    store = open_store(data_dir)
    assert (data_dir / "journal").is_dir() and oct(data_dir.stat().st_mode & 0o777) == "0o700"
    store.close()


def test_outbox_of_a_covered_segment_is_decoded_when_read(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    store.checkpoint()  # segment 1 is now covered: its txns are kept only for the outbox
    top_up(store, card, 10000)
    store.close()
    path = segment(tmp_path, 1)
    data = path.read_bytes()
    header = len(MAGIC) + 12
    body = json.loads(data[header:])
    body["txn"]["card_uid"] = "not-a-uid"
    path.write_bytes(data[: len(MAGIC)] + encode_record(body))  # checksum fine, content not
    again = open_store(tmp_path)
    with pytest.raises(StoreCorrupt, match="card_uid"):
        again.outbox()
    assert any("card_uid" in p for p in again.check())
    again.close()


def test_long_journal_is_checkpointed_automatically(tmp_path, monkeypatch):
    import kiosk.store.store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr(store_module, "AUTO_CHECKPOINT_AFTER", 8)
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    for i in range(4):
        top_up(store, card, 1000, ref=f"P{i}")
    assert store.checkpoint_due() and store.journal_segments() == [1]
    for i in range(3):
        top_up(store, card, 1000, ref=f"Q{i}")
    assert store.journal_segments() == [1, 2]  # the 8th record triggered a snapshot
    for i in range(5):
        top_up(store, card, 1000, ref=f"R{i}")
    expected = snapshot_of(store)
    store.close()
    again = open_store(tmp_path)  # replayed 5 records: due, so open writes a snapshot
    assert again.journal_segments() == [1, 2, 3] and not again.checkpoint_due()
    assert snapshot_of(again) == expected
    again.close()


def test_a_torn_record_in_an_older_segment_is_corruption(tmp_path):
    store = open_store(tmp_path)
    card = sign_up(store, 1)
    store.checkpoint()
    top_up(store, card, 10000)
    store.close()
    older = segment(tmp_path, 1)
    with open(older, "ab") as f:
        f.write(encode_record({"t": "meta", "k": "x", "v": 1})[:9])
    data = older.read_bytes()
    with pytest.raises(StoreCorrupt, match="not the newest"):
        open_store(tmp_path)
    assert older.read_bytes() == data


@pytest.mark.parametrize(
    "payload, problem",
    [
        ({"t": "bogus"}, "unknown record type"),
        ({"t": "txn", "txn": {"seq": 1}}, "TxnFormatError"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_well_checksummed_but_meaningless_records_are_corruption(tmp_path, payload, problem):
    store = open_store(tmp_path)
    sign_up(store, 1)
    store.close()
    body = json.dumps(payload).encode()
    import struct
    import zlib

    length = len(body).to_bytes(4, "big")
    record = struct.pack(">III", len(body), zlib.crc32(length, 0x4B494F53), zlib.crc32(body)) + body
    with open(segment(tmp_path), "ab") as f:
        f.write(record)
    with pytest.raises(StoreCorrupt, match=problem):
        open_store(tmp_path)


def test_not_a_journal_segment_is_corruption(tmp_path):
    store = open_store(tmp_path)
    store.close()
    segment(tmp_path).write_bytes(b"hello world, not a journal")
    with pytest.raises(StoreCorrupt, match="bad magic"):
        open_store(tmp_path)


def test_commits_go_on_while_a_checkpoint_is_written(tmp_path):
    import threading

    store = open_store(tmp_path)
    cards = [sign_up(store, n) for n in range(300)]  # a snapshot that takes a while to write
    stop = threading.Event()
    committed = []

    def cashier():
        i = 0
        while not stop.is_set() and i < 200:
            card = cards[i % len(cards)]
            txn = store.ledger.top_up(card, 1000, f"T{i}", later(i))
            store.commit(txn)
            committed.append(txn.txn_id)
            i += 1

    worker = threading.Thread(target=cashier)
    worker.start()
    for _ in range(3):
        store.checkpoint_in_background().join()
    store.checkpoint()
    stop.set()
    worker.join()
    assert committed
    expected = snapshot_of(store)
    assert store.check() == []
    store.close()
    again = open_store(tmp_path)
    assert snapshot_of(again) == expected
    assert {t.txn_id for t in again.outbox()} >= set(committed)
    again.close()


def test_check_reports_a_damaged_last_good_copy(tmp_path):
    store = open_store(tmp_path)
    sign_up(store, 1)
    store.checkpoint()
    store.checkpoint()
    assert store.check() == []
    (tmp_path / "snapshot.prev.json").write_text("{}")
    assert any("last good copy" in p for p in store.check())
    store.close()
