"""Property: after any sequence of ledger operations, acks, checkpoints, meta and rules updates,
reopens and duplicate deliveries, the store reopened from disk equals the store in memory, and
both equal a plain LedgerState that was handed every committed transaction."""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from tests.store_helpers import T0, open_store, uid

ROOT = Path(__file__).resolve().parent.parent
RULES_DOC = json.loads((ROOT / "kiosk" / "data" / "rules.default.json").read_text())

card_index = st.integers(0, 5)
ops = st.one_of(
    st.tuples(st.just("sign_up"), st.integers(0, 7)),
    st.tuples(st.just("top_up"), card_index, st.sampled_from([1000, 25000, 50000, 100000])),
    st.tuples(st.just("spend"), card_index, st.integers(1, 30000)),
    st.tuples(st.just("redeem"), card_index, st.sampled_from(["coffee", "tote", "mask-set"])),
    st.tuples(st.just("voucher"), card_index, st.sampled_from([100, 300, 1000])),
    st.tuples(st.just("wrong_pin"), card_index),
    st.tuples(st.just("block"), card_index),
    st.tuples(st.just("replace"), card_index, st.integers(100, 107)),
    st.tuples(st.just("return"), card_index),
    st.tuples(st.just("gift"), card_index),
    st.tuples(st.just("ack"), st.integers(0, 6)),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("meta"), st.sampled_from(["a", "b"]), st.integers(0, 9)),
    st.tuples(st.just("rules"), st.integers(0, 9)),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("duplicate"), st.integers(0, 50)),
)


def decide(ledger: Ledger, op: tuple, cards: list[str], now):
    """The transaction an operation makes, or None when the ledger refuses it."""
    name = op[0]
    if name == "sign_up":
        return ledger.sign_up(uid(op[1]), 1, f"1380000{op[1]:04d}", "246813", now, birthday=T0.date())
    if not cards:
        return None
    card = cards[op[1] % len(cards)]
    if name == "top_up":
        return ledger.top_up(card, op[2], "PAY", now)
    if name == "spend":
        return ledger.spend(card, op[2], now, pin_verified=True)
    if name == "redeem":
        return ledger.redeem(card, op[2], now, pin_verified=True)
    if name == "voucher":
        return ledger.redeem(card, "voucher", now, points=op[2], pin_verified=True)
    if name == "wrong_pin":
        return ledger.check_pin(card, "999999", now)[1]
    if name == "block":
        return ledger.block_card(card, "lost", now)
    if name == "replace":
        return ledger.replace_card(card, uid(op[2]), now)
    if name == "return":
        return ledger.return_card(card, now)
    if name == "gift":
        return ledger.birthday_gift(card, now)
    raise AssertionError(name)


def everything(store) -> dict:
    return {
        "state": state_to_dict(store.ledger.state),
        "outbox": [t.txn_id for t in store.outbox()],
        "meta": {k: store.meta_get(k) for k in ("a", "b")},
        "rules": store.ledger.rules.version,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 7), min_size=1, max_size=3, unique=True), st.lists(ops, max_size=30))
def test_reopened_store_equals_memory_and_model(first_members, rest):
    sequence = [("sign_up", n) for n in first_members] + [("top_up", i, 100000) for i in range(3)] + rest
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        store = open_store(data_dir)
        model = Ledger(LedgerState(), default_rules(), "K1")
        committed = []
        cards: list[str] = []
        try:
            for step, op in enumerate(sequence):
                now = T0 + timedelta(minutes=step)
                name = op[0]
                if name == "ack":
                    outbox = store.outbox()
                    store.ack([t.txn_id for t in outbox[: op[1]]])
                elif name == "checkpoint":
                    store.checkpoint()
                elif name == "meta":
                    store.meta_put(op[1], op[2])
                elif name == "rules":
                    doc = dict(RULES_DOC, version=2 + op[1])
                    model.use_rules(store.put_rules(doc))
                elif name == "reopen":
                    before = everything(store)
                    store.close()
                    store = open_store(data_dir)
                    assert everything(store) == before
                elif name == "duplicate":
                    if committed:
                        before = everything(store)
                        assert not store.commit(committed[op[1] % len(committed)]).applied
                        assert everything(store) == before
                else:
                    try:
                        txn = decide(store.ledger, op, cards, now)
                    except Refused:
                        continue
                    if txn is None:
                        continue
                    store.commit(txn)
                    model.apply(txn)
                    committed.append(txn)
                    if name == "sign_up":
                        cards.append(txn.card_uid)
                    elif name == "replace":
                        cards.append(txn.new_card_uid)
            event(f"committed {len(committed) // 5 * 5}+ txns")
            memory = everything(store)
            assert memory["state"] == state_to_dict(model.state)
            assert store.check() == []
            store.close()
            store = open_store(data_dir)
            assert everything(store) == memory
            acked = {t.txn_id for t in committed} - set(memory["outbox"])
            assert [t.txn_id for t in committed if t.txn_id not in acked] == memory["outbox"]
        finally:
            store.close()
