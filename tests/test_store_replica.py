"""The member replica on disk (issue 16): members are read on demand, a bounded few are cached,
a checkpoint writes what changed, whole-table questions use an index, and every way the replica
and the snapshot can disagree after a crash opens right or is refused by name."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from kiosk.ledger import charges
from kiosk.ledger.model import Account, Card, Member, referral_code_of
from kiosk.ledger.operations import Refused
from kiosk.ledger.rows import Rows
from kiosk.ledger.state import LedgerState
from kiosk.store import files
from kiosk.store.errors import StoreCorrupt, StoreWriteError
from kiosk.store.replica import TableSource
from kiosk.store.snapshot import Snapshot, write_snapshot
from kiosk.till.service import member_card
from tests.store_helpers import DEVICE, T0, later, open_store, sign_up, snapshot_of, top_up, uid

CHAIN = 2000


def chain_state(n: int = CHAIN) -> LedgerState:
    """n members as HQ would send them: each with one active card and 100 yuan."""
    state = LedgerState()
    for i in range(1, n + 1):
        mid = f"M-{i:06d}"
        state.members[mid] = Member(mid, f"M{i}", f"139{i:08d}", None, T0, "x")
        state.cards[uid(i)] = Card(uid(i), mid, 1)
        state.accounts[mid] = Account(mid, balance_fen=10_000)
    return state


@pytest.fixture
def chain(tmp_path):
    """A store holding CHAIN members (loaded from an HQ snapshot), closed and reopened."""
    with open_store(tmp_path) as store:
        store.replace_state_from_hq(chain_state(), own_high_water=0)
    return tmp_path


def test_members_stay_on_disk_and_only_the_rows_a_tap_touches_are_read(chain):
    with open_store(chain) as store:
        accounts = store.ledger.state.accounts
        assert isinstance(accounts, Rows)
        assert accounts.changed == {} and len(accounts._cache) == 0  # nothing loaded at open
        for i in range(1, 11):
            assert store.ledger.view(uid(i), T0).account.balance_fen == 10_000
        assert len(accounts._cache) == 10
        for i in range(1, 4):
            top_up(store, uid(i), 5_000, later(i))
        assert set(accounts.changed) == {"M-000001", "M-000002", "M-000003"}
        assert len(accounts) == CHAIN


def test_the_row_cache_is_bounded(chain):
    with open_store(chain) as store:
        accounts = store.ledger.state.accounts
        accounts._cache_rows = 16
        for i in range(1, 200):
            store.ledger.view(uid(i), T0)
        assert len(accounts._cache) == 16
        assert store.ledger.view(uid(1), T0).account.balance_fen == 10_000  # evicted, read again


def test_a_checkpoint_writes_what_changed_not_the_chain(chain):
    with open_store(chain) as store:
        for i in range(1, 4):
            top_up(store, uid(i), 5_000, later(i))
        writer = store._replica._writer
        before = writer.total_changes
        store.checkpoint()
        written = writer.total_changes - before
        rows = len(store.ledger.state.stock) + len(store.ledger.state.last_seq) + 2  # + position, hq_feed
        assert written == 3 + rows, written  # three accounts, not CHAIN rows
        assert store.ledger.state.accounts.changed == {}
        assert store.ledger.view(uid(2), T0).account.balance_fen == 15_000
    with open_store(chain) as store:
        assert store.ledger.view(uid(2), T0).account.balance_fen == 15_000
        assert store.ledger.view(uid(4), T0).account.balance_fen == 10_000


def test_whole_table_questions_are_answered_from_an_index(chain):
    with open_store(chain) as store:
        statements: list[str] = []
        store._replica._reader.set_trace_callback(statements.append)
        with pytest.raises(Refused, match="phone_in_use"):
            store.ledger.sign_up(uid(CHAIN + 1), 1, "13900000007", "246813", T0)
        assert store.ledger.referrer_of(referral_code_of("M-000005")) == "M-000005"
        replaced = store.ledger.replace_card(uid(9), uid(CHAIN + 2), T0)
        assert replaced.card_seq == 2
        store.commit(store.ledger.return_card(uid(8), T0))
        assert store.ledger.state.members["M-000008"].status == "closed"  # via the member's cards
        assert statements and all(" WHERE " in s for s in statements if "FROM" in s), statements
        plans = [
            "SELECT body FROM members WHERE phone = '1'",
            "SELECT body FROM members WHERE referral = 'A'",
            "SELECT body FROM cards WHERE member_id = 'M'",
            "SELECT body FROM cards WHERE uid = 'U'",
            "SELECT body FROM accounts WHERE member_id = 'M'",
            "SELECT member_id, body FROM accounts WHERE member_id IN "
            "(SELECT member_id FROM account_orders WHERE order_key = 'K') ORDER BY member_id",
            "SELECT order_key FROM account_orders WHERE member_id = 'M'",
            "DELETE FROM account_orders WHERE order_key = 'K' AND member_id = 'M'",
        ]
        for sql in plans:
            plan = " ".join(str(r[-1]) for r in store._replica._reader.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SEARCH" in plan and ("INDEX" in plan or "PRIMARY KEY" in plan), (sql, plan)
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, (sql, plan)


def _charge(store, n: int, key: str, fen: int, minutes: int) -> None:
    store.commit(charges.charge(store.ledger, uid(n), key, fen, False, later(minutes), pin_verified=True))


def _no_whole_table(*_args):
    raise AssertionError("a till lookup read a whole table")


def test_till_lookups_read_indexed_rows_not_the_chain(chain, monkeypatch):
    """Quote, charge, refund, void and the till's order lookup, over orders on disk and in memory."""
    with open_store(chain) as store:
        _charge(store, 7, "T1:A1", 2_000, 1)
        _charge(store, 9, "T1:A2", 3_000, 2)
        store.checkpoint()  # A1 and A2 are found through account_orders on disk
        _charge(store, 11, "T1:A3", 1_000, 3)  # A3 only in the rows changed in memory
        state = store.ledger.state
        for table in (state.members, state.cards, state.accounts):
            table.forget_cache()
        monkeypatch.setattr(TableSource, "keys", _no_whole_table)
        statements: list[str] = []
        store._replica._reader.set_trace_callback(statements.append)

        for key in ("T1:A1", "T1:A3"):
            with pytest.raises(Refused, match="order_already_charged"):
                charges.quote(store.ledger, uid(12), key, 500, False, later(4))
        assert charges.quote(store.ledger, uid(12), "T1:B1", 500, False, later(4)).amount_fen == 500
        assert charges.find_order(state, "T1:A2")[0] == "M-000009"
        assert charges.find_order(state, "T1:A3")[0] == "M-000011"
        assert charges.find_order(state, "T1:none") is None
        store.commit(charges.refund(store.ledger, "T1:A1", "R1", 500, later(5)))
        store.commit(charges.void(store.ledger, "T1:A2", later(6)))
        assert member_card(state, "M-000007") == ("M7", uid(7))

        assert charges.find_order(state, "T1:A1")[1].refunded_fen == 500
        assert charges.find_order(state, "T1:A2")[1].voided
        assert any("account_orders WHERE order_key" in s for s in statements), statements
        assert all(" WHERE " in s for s in statements if "FROM" in s), statements
        assert len(state.accounts._cache) + len(state.cards._cache) < 20  # rows touched, not the chain


def _order_index(path) -> set[tuple[str, str]]:
    db = sqlite3.connect(path / "replica.sqlite")
    try:
        return set(db.execute("SELECT order_key, member_id FROM account_orders"))
    finally:
        db.close()


def test_the_order_index_follows_the_accounts_across_checkpoints_and_reopen(chain):
    with open_store(chain) as store:
        for i in range(1, 4):
            _charge(store, i, f"T1:C{i}", 1_000, i)
        writer = store._replica._writer
        before = writer.total_changes
        store.checkpoint()
        rows = len(store.ledger.state.stock) + len(store.ledger.state.last_seq) + 2  # + position, hq_feed
        assert writer.total_changes - before == 3 + 3 + rows  # three accounts, their three new keys
        store.commit(charges.void(store.ledger, "T1:C2", later(5)))
        store.checkpoint()  # the void rewrites the account, its key stays: the index is not touched
    expected = {("T1:C1", "M-000001"), ("T1:C2", "M-000002"), ("T1:C3", "M-000003")}
    assert _order_index(chain) == expected
    with open_store(chain) as store:
        assert charges.find_order(store.ledger.state, "T1:C2")[1].voided
        with pytest.raises(Refused, match="order_already_charged"):
            charges.quote(store.ledger, uid(3), "T1:C3", 500, False, later(6))


def test_an_account_forgetting_its_oldest_order_leaves_the_index(tmp_path):
    """The 101st charge drops the oldest order from the account (ORDERS_KEPT): its key goes too."""
    with open_store(tmp_path) as store:
        store.replace_state_from_hq(chain_state(2), own_high_water=0)
        for i in range(101):
            _charge(store, 1, f"T1:D{i}", 10, i)
            if i in (50, 100):
                store.checkpoint()
    index = _order_index(tmp_path)
    assert ("T1:D0", "M-000001") not in index
    assert index == {(f"T1:D{i}", "M-000001") for i in range(1, 101)}
    with open_store(tmp_path) as store:
        assert charges.find_order(store.ledger.state, "T1:D0") is None
        assert charges.find_order(store.ledger.state, "T1:D1")[0] == "M-000001"


def test_a_format_1_replica_gets_its_order_index_at_open(chain):
    with open_store(chain) as store:
        _charge(store, 5, "T1:E1", 1_000, 1)
        store.checkpoint()
    db = sqlite3.connect(chain / "replica.sqlite")
    with db:
        db.execute("DROP TABLE account_orders")  # as the file was before the index
        db.execute("UPDATE position SET format = 1")
    db.close()
    with open_store(chain) as store:
        assert charges.find_order(store.ledger.state, "T1:E1")[0] == "M-000005"
    assert _order_index(chain) == {("T1:E1", "M-000005")}
    db = sqlite3.connect(chain / "replica.sqlite")
    assert db.execute("SELECT format FROM position").fetchone() == (2,)
    db.close()


def test_an_unknown_replica_format_is_refused_by_name(chain):
    db = sqlite3.connect(chain / "replica.sqlite")
    with db:
        db.execute("UPDATE position SET format = 3")
    db.close()
    with pytest.raises(StoreCorrupt, match=r"replica.sqlite: unknown replica format 3 \(expected 2\)"):
        open_store(chain)


class _SnapshotWriteFails(files.Disk):
    """The power goes (here: an error) after the replica committed, before snapshot.json lands."""

    def replace(self, src, dst):
        if str(dst).endswith("snapshot.json"):
            raise OSError(5, "Input/output error")
        return os.replace(src, dst)


def test_a_replica_ahead_of_the_snapshot_applies_nothing_twice(tmp_path):
    with open_store(tmp_path) as store:
        card = sign_up(store, 1)
        store.checkpoint()
        for i in range(4):
            top_up(store, card, 10_000, later(i + 1), ref=f"P{i}")
        with files.use(_SnapshotWriteFails()), pytest.raises(StoreWriteError, match="snapshot"):
            store.checkpoint()
        expected = snapshot_of(store)
    replica = sqlite3.connect(tmp_path / "replica.sqlite")
    absorbed = replica.execute("SELECT absorbed FROM position").fetchone()[0]
    replica.close()
    snap = json.loads((tmp_path / "snapshot.json").read_text())["store"]["1"]
    assert absorbed > snap["replay_from"]  # the replica took the four top-ups; the snapshot did not move
    with open_store(tmp_path) as store:
        assert snapshot_of(store) == expected
        assert store.ledger.state.card_account(card)[2].balance_fen == 40_000
        assert store.ledger.top_up(card, 10_000, "P9", later(9)).seq == 6


def test_a_lost_replica_is_rebuilt_from_the_journal_before_any_checkpoint(tmp_path):
    with open_store(tmp_path) as store:
        card = sign_up(store, 1)
        top_up(store, card, 10_000, later(1))
        expected = snapshot_of(store)
    for name in ("replica.sqlite", "replica.sqlite-wal", "replica.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with open_store(tmp_path) as store:
        assert snapshot_of(store) == expected


def test_a_lost_replica_a_checkpoint_wrote_is_refused_by_name(tmp_path):
    """It may hold rows the journal never did (an HQ snapshot): never rebuilt from the journal."""
    with open_store(tmp_path) as store:
        store.replace_state_from_hq(chain_state(5), own_high_water=0)
        top_up(store, uid(1), 10_000, later(1))
        assert store.journal_segments()[0] == 1
    for name in ("replica.sqlite", "replica.sqlite-wal", "replica.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(StoreCorrupt, match="replica.sqlite: missing or empty, but a checkpoint wrote it"):
        open_store(tmp_path)


def test_a_lost_replica_the_journal_cannot_rebuild_is_refused_by_name(tmp_path):
    with open_store(tmp_path) as store:
        card = sign_up(store, 1)
        for i in range(3):  # acked and checkpointed past the first segments: they are deleted
            top_up(store, card, 10_000, later(i + 1))
            store.ack([t.txn_id for t in store.outbox()])
            store.checkpoint()
        assert store.journal_segments()[0] > 1
    for name in ("replica.sqlite", "replica.sqlite-wal", "replica.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    snap = (tmp_path / "snapshot.json").read_bytes()
    with pytest.raises(StoreCorrupt, match="replica.sqlite: missing or empty.*reload this kiosk from HQ"):
        open_store(tmp_path)
    assert (tmp_path / "snapshot.json").read_bytes() == snap


def test_a_damaged_replica_is_refused_by_name(tmp_path):
    with open_store(tmp_path) as store:
        sign_up(store, 1)
        store.checkpoint()
    for extra in ("replica.sqlite-wal", "replica.sqlite-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    (tmp_path / "replica.sqlite").write_bytes(b"not a database, a flipped page" * 200)
    with pytest.raises(StoreCorrupt, match="replica.sqlite: the member replica cannot be read"):
        open_store(tmp_path)


def test_a_bad_row_in_the_replica_is_refused_naming_file_and_row(chain):
    replica = sqlite3.connect(chain / "replica.sqlite")
    with replica:
        replica.execute("UPDATE accounts SET body = '{\"member_id\": 7}' WHERE member_id = 'M-000003'")
    replica.close()
    with open_store(chain) as store:
        assert store.ledger.view(uid(2), T0).account.balance_fen == 10_000
        with pytest.raises(StoreCorrupt, match=r"replica.sqlite: bad row in accounts: accounts\[M-000003\]"):
            store.ledger.view(uid(3), T0)


def test_an_old_whole_state_snapshot_moves_into_the_replica_at_open(tmp_path):
    state = chain_state(50)
    state.last_seq[DEVICE] = 0
    tmp_path.mkdir(exist_ok=True)
    write_snapshot(tmp_path / "snapshot.json", Snapshot(device_id=DEVICE, replay_from=1, state=state))
    (tmp_path / "journal").mkdir()
    with open_store(tmp_path) as store:
        assert isinstance(store.ledger.state.accounts, Rows)
        assert store.ledger.view(uid(50), T0).account.balance_fen == 10_000
        top_up(store, uid(50), 1_000, later(1))
    assert json.loads((tmp_path / "snapshot.json").read_text())["store"]["1"]["format"] == 3
    with open_store(tmp_path) as store:
        assert store.ledger.view(uid(50), T0).account.balance_fen == 11_000
        assert len(store.ledger.state.members) == 50
        assert store.check() == []


class _CommitFails:
    """The replica's writing connection, failing its COMMIT as SQLite does on a full card."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.armed = conn, True

    def execute(self, sql: str, *args):
        if sql == "COMMIT" and self.armed:
            self.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.conn, name)


def test_a_replica_that_cannot_be_written_changes_nothing_and_commits_go_on(chain):
    with open_store(chain) as store:
        top_up(store, uid(1), 5_000, later(1))
        real = store._replica._writer
        store._replica._writer = failing = _CommitFails(real)
        segments, absorbed = store.journal_segments(), store._replica.absorbed
        with pytest.raises(StoreWriteError, match="replica.sqlite: could not write the member replica"):
            store.checkpoint()
        assert set(store.ledger.state.accounts.changed) == {"M-000001"}  # still to be written
        assert store._replica.absorbed == absorbed and store.journal_segments()[0] == segments[0]
        top_up(store, uid(2), 5_000, later(2))
        failing.armed = False
        store.checkpoint()
        expected = snapshot_of(store)
    with open_store(chain) as store:
        assert snapshot_of(store) == expected
        assert [store.ledger.view(uid(i), T0).account.balance_fen for i in (1, 2, 3)] == [15_000, 15_000, 10_000]
