"""A sequence number is never issued twice and nothing committed is dropped, whatever the files
or HQ say (issue 17's header bit flip, issue 18's snapshot from the future: one floor).

The reproduction from the power-cut campaign: sign up, checkpoint, five top-ups of 100 yuan,
close, leave the empty segment a crash right after `Journal.new_segment()` leaves, and change
the snapshot header's replay_from by one digit. The store used to open with the balance at 0
and hand out K1:2 again."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.ledger.state import LedgerState
from kiosk.store.errors import ImpossibleSnapshot, StoreCorrupt
from kiosk.store.journal import MAGIC, segment_name
from kiosk.store.snapshot import STORE_TABLE, _content_crc
from tests.store_helpers import DEVICE, later, open_store, sign_up, top_up


def _five_top_ups_after_a_checkpoint(data_dir):
    with open_store(data_dir) as store:
        card = sign_up(store, 1)
        store.checkpoint()
        for i in range(5):
            top_up(store, card, 10_000, later(i + 1), ref=f"P{i}")
        assert store.ledger.state.card_account(card)[2].balance_fen == 50_000
        segments = store.journal_segments()
    empty = data_dir / "journal" / segment_name(segments[-1] + 1)
    empty.write_bytes(MAGIC)  # the crash right after new_segment() inside a checkpoint
    return card, segments[-1]


def _bump_replay_from(data_dir, to: int, fix_checksum: bool) -> None:
    path = data_dir / "snapshot.json"
    data = json.loads(path.read_bytes())
    header = data[STORE_TABLE]["1"]
    assert header["replay_from"] == to - 1
    header["replay_from"] = to  # '2' -> '3': one bit
    if fix_checksum:  # as if the file had been written wrong, not damaged after
        header.pop("crc32")
        header["crc32"] = _content_crc(data)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def test_a_flipped_digit_in_the_snapshot_header_is_caught_by_its_checksum(tmp_path):
    _, current = _five_top_ups_after_a_checkpoint(tmp_path)
    _bump_replay_from(tmp_path, current + 1, fix_checksum=False)
    with pytest.raises(StoreCorrupt, match="checksum"):
        open_store(tmp_path)


def test_a_snapshot_position_written_wrong_no_longer_decides_the_money(tmp_path):
    """The members' rows replay from the replica's own position: a snapshot header that claims
    one segment too many (rules and meta only, since format 3) drops no top-up and reuses no seq."""
    card, current = _five_top_ups_after_a_checkpoint(tmp_path)
    _bump_replay_from(tmp_path, current + 1, fix_checksum=True)
    with open_store(tmp_path) as store:
        assert store.ledger.state.card_account(card)[2].balance_fen == 50_000
        assert store.ledger.top_up(card, 10_000, "P9", later(9)).seq == 7


def test_a_replica_that_claims_segments_it_does_not_hold_is_refused(tmp_path):
    """The same bit in the replica's position (written wrong, its SQLite file intact)."""
    _, current = _five_top_ups_after_a_checkpoint(tmp_path)
    replica = sqlite3.connect(tmp_path / "replica.sqlite")
    assert replica.execute("SELECT absorbed FROM position").fetchone() == (current,)
    with replica:
        replica.execute("UPDATE position SET absorbed = ?", (current + 1,))
    replica.close()
    with pytest.raises(StoreCorrupt, match=f"{DEVICE}:2 is in a segment the replica says it has absorbed"):
        open_store(tmp_path)


def test_the_untouched_store_opens_with_every_top_up_and_the_next_seq(tmp_path):
    card, _ = _five_top_ups_after_a_checkpoint(tmp_path)
    with open_store(tmp_path) as store:
        assert store.ledger.state.card_account(card)[2].balance_fen == 50_000
        assert [t.seq for t in store.outbox()] == [1, 2, 3, 4, 5, 6]
        txn = store.ledger.top_up(card, 10_000, "P9", later(9))
        assert txn.seq == 7


def test_an_hq_snapshot_from_the_future_is_refused_and_the_seq_goes_on(tmp_path):
    with open_store(tmp_path) as store:
        card = sign_up(store, 1)
        for i in range(3):
            top_up(store, card, 10_000, later(i + 1), ref=f"P{i}")
        before = store.ledger.state.copy()
        forged = LedgerState(last_seq={DEVICE: 1_000_000_000})
        with pytest.raises(ImpossibleSnapshot, match="written only up to seq 4"):
            store.replace_state_from_hq(forged, own_high_water=1_000_000_000)
        empty = LedgerState()  # an empty state whose high-water says more than its own state holds
        with pytest.raises(ImpossibleSnapshot):
            store.replace_state_from_hq(empty, own_high_water=2)
        assert store.ledger.state.accounts == before.accounts
        assert store.ledger.top_up(card, 10_000, "P9", later(9)).seq == 5
    with open_store(tmp_path) as store:
        assert store.ledger.state.last_seq[DEVICE] == 4
