"""The kiosk's store taking HQ's per-store feed (protocol v2), on the real store: account deltas
through the journal (a member with a newer own transaction keeps the kiosk's row), a snapshot
loaded in chunks beside the replica and switched in with the kiosk's own transactions
re-applied, even those HQ acknowledged while it loaded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hq.rows import dump
from kiosk.hq.store_snapshots import chunk_payload, rows_body, split_rows
from kiosk.ledger.state import LedgerState
from kiosk.store.loading import Chunk
from kiosk.sync import messages as m
from tests.sync.support import T0, make_txns, open_store

TXNS = make_txns("D1", 30, members=10)


def _hq_state(txns=TXNS) -> LedgerState:
    state = LedgerState()
    for txn in txns:
        state.apply(txn)
    return state


def _chunks(state: LedgerState, snapshot_id: int, high: int, per: int = 3) -> list[Chunk]:
    ids = sorted(state.members)
    parts = [ids[i : i + per] for i in range(0, len(ids), per)]
    return [
        Chunk(snapshot_id, i, len(parts), high, 5,
              tuple(state.members[k] for k in part),
              tuple(c for c in state.cards.values() if c.member_id in part),
              tuple(state.accounts[k] for k in part), {} if i else dict(state.stock))
        for i, part in enumerate(parts)
    ]


def test_a_delta_takes_hqs_rows_but_not_over_an_own_transaction_hq_has_not_applied(tmp_path):
    store = open_store(tmp_path)
    store.commit_many(TXNS)
    store.ack(t.txn_id for t in TXNS)
    hq = _hq_state()
    a, b = sorted(hq.accounts)[:2]
    card_b = store.ledger.state.cards_of(b)[0].uid
    mine = store.ledger.top_up(card_b, 5000, "P-own", T0 + timedelta(days=1))  # D1:31, not at HQ
    store.commit(mine)
    hq_a = replace(hq.accounts[a], balance_fen=hq.accounts[a].balance_fen + 100)
    hq_b = replace(hq.accounts[b], balance_fen=hq.accounts[b].balance_fen + 100)
    ours_b = store.ledger.state.accounts[b]
    kept = store.take_hq_rows(1, (), (), (hq_a, hq_b), own_applied=30)
    assert kept == {b}
    assert store.ledger.state.accounts[a] == hq_a
    assert store.ledger.state.accounts[b] == ours_b
    assert store.hq_feed.delta_seq == 1
    store.close()
    store = open_store(tmp_path)  # replayed from the journal: the same rows, the same feed
    assert (store.ledger.state.accounts[a], store.ledger.state.accounts[b]) == (hq_a, ours_b)
    assert store.hq_feed.delta_seq == 1
    store.checkpoint()
    store.close()
    store = open_store(tmp_path)  # from the replica, with its feed position
    assert store.ledger.state.accounts[a] == hq_a and store.hq_feed.delta_seq == 1
    assert store.ledger.state.last_seq["D1"] == 31
    # HQ has applied D1:31 now: its row holds the top-up and is taken
    newer = replace(ours_b, balance_fen=ours_b.balance_fen + 1)
    assert store.take_hq_rows(2, (), (), (newer,), own_applied=31) == frozenset()
    assert store.ledger.state.accounts[b] == newer
    store.close()


def test_a_snapshot_loads_beside_the_replica_and_switches_in_with_own_transactions(tmp_path):
    store = open_store(tmp_path)
    store.commit_many(TXNS)
    hq = _hq_state(TXNS[:25])  # HQ had applied D1 up to 25 when it read the snapshot
    chunks = _chunks(hq, 77, 25)
    assert len(chunks) == 4
    before = dict(store.ledger.state.accounts.items())
    for chunk in chunks[:2]:
        assert store.store_chunk(chunk)
    assert not store.store_chunk(chunks[3])  # out of order: not kept
    # meanwhile the kiosk sells, and HQ acknowledges: 26..30 leave the outbox
    card = store.ledger.state.cards_of(sorted(hq.members)[0])[0].uid
    store.commit(store.ledger.top_up(card, 1200, "P-during", T0 + timedelta(days=2)))
    store.ack(t.txn_id for t in TXNS)
    store.close()
    store = open_store(tmp_path)  # restarted mid-load: the old replica serves, the load resumes
    assert store.loading.progress.next_index == 2 and store.hq_feed.snapshot_id == 0
    assert {k: store.ledger.state.accounts[k] for k in before} != {}
    for chunk in chunks[2:]:
        assert store.store_chunk(chunk)
    expected = LedgerState(dict(store.ledger.state.members.items()), dict(store.ledger.state.cards.items()),
                           dict(store.ledger.state.accounts.items()))
    assert store.install_loaded() == 6  # D1:26..31, five of them from the journal
    assert store.hq_feed == (77, 5)
    assert dict(store.ledger.state.accounts.items()) == expected.accounts
    assert store.ledger.state.last_seq["D1"] == 31
    assert not (tmp_path / "replica.next.sqlite").exists()
    store.close()
    store = open_store(tmp_path)
    assert dict(store.ledger.state.accounts.items()) == expected.accounts and store.hq_feed == (77, 5)
    store.close()


def test_a_new_snapshots_first_chunk_starts_the_load_again(tmp_path):
    store = open_store(tmp_path)
    hq = _hq_state()
    first, second = _chunks(hq, 1, 0), _chunks(hq, 2, 0)
    assert store.store_chunk(first[0]) and store.store_chunk(first[1])
    assert store.store_chunk(second[0])
    assert store.loading.progress.snapshot_id == 2 and store.loading.progress.next_index == 1
    assert not store.store_chunk(first[2])
    store.close()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10), st.integers(0, 40), st.integers(300, 4000))
def test_hqs_spliced_chunks_are_what_the_message_codec_writes(members, top_ups, budget):
    state = _hq_state(make_txns("D1", members + top_ups, members=members))
    texts = {
        "members": [dump(state.members[k]) for k in sorted(state.members)],
        "cards": [dump(state.cards[k]) for k in sorted(state.cards)],
        "accounts": [dump(state.accounts[k]) for k in sorted(state.accounts)],
    }
    parts = split_rows(texts, budget)
    for part in parts:  # each part within the budget, unless one row alone is larger
        size = sum(len(t.encode()) + 1 for name in part for t in part[name])
        assert size <= budget or sum(len(v) for v in part.values()) == 1
    assert {n: [t for p in parts for t in p[n]] for n in texts} == texts  # nothing lost, in order
    head = json.dumps({"own_high_water": 3, "delta_seq": 2, "stock": {"mug": 4}, "at": "2026-11-01T02:00:00Z"})
    payload = chunk_payload(9, 0, len(parts), head + "\n" + rows_body(parts[0]))
    msg = m.decode(payload, "snapshot_chunk")
    assert m.encode(msg) == payload
    assert msg.rows.members == tuple(state.members[k] for k in sorted(state.members))[: len(parts[0]["members"])]


def _hq_chunks(state: LedgerState, snapshot_id: int, budget: int) -> list[m.SnapshotChunk]:
    """The chunks as HQ splices them from its rows' texts, read back as a kiosk's network thread does."""
    texts = {name: [dump(getattr(state, name)[k]) for k in sorted(getattr(state, name))]
             for name in ("members", "cards", "accounts")}
    parts = split_rows(texts, budget)
    head = json.dumps({"own_high_water": 0, "delta_seq": 4, "stock": {}, "at": "2026-11-01T02:00:00Z"})
    return [m.decode(chunk_payload(snapshot_id, i, len(parts), head + "\n" + rows_body(part)), "snapshot_chunk")
            for i, part in enumerate(parts)]


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 12), st.integers(0, 30), st.integers(300, 3000))
def test_a_chunk_kept_as_hq_wrote_its_rows_is_the_replica_the_decoded_rows_make(tmp_path_factory, members, top_ups,
                                                                                 budget):
    """The store keeps a chunk's rows as HQ's JSON had them (not encoded again from the decoded
    rows): the replica it makes reads back exactly as one written from the decoded rows."""
    state = _hq_state(make_txns("D9", members + top_ups, members=members))
    chunks = _hq_chunks(state, 5, budget)
    replicas = []
    for as_sent in (True, False):
        store = open_store(tmp_path_factory.mktemp("kiosk"))
        for c in chunks:
            rows = c.rows
            assert store.store_chunk(Chunk(c.snapshot_id, c.index, c.chunks, c.own_high_water, c.delta_seq,
                                           rows.members, rows.cards, rows.accounts, c.stock,
                                           rows.items if as_sent else None))
        store.install_loaded()
        replicas.append({name: dict(getattr(store.ledger.state, name).items())
                         for name in ("members", "cards", "accounts")})
        store.close()
    assert replicas[0] == replicas[1] == {"members": state.members, "cards": state.cards, "accounts": state.accounts}
