"""The HQ receiver against a real Mosquitto and real SQL (SQLite and PostgreSQL): events stored
once and acknowledged after commit, order per kiosk kept whatever the delivery, bad payloads
rejected without changing anything, changes published to the kiosks."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest

from kiosk.hq import admin
from kiosk.hq import ledger as hq
from kiosk.hq.db import open_database
from kiosk.hq.devices import health, list_devices
from kiosk.hq.embedded import start_receiver
from kiosk.hq.schema import create_schema
from kiosk.ledger.state import LedgerState
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, chain_topic
from tests.fixtures.histories import generate_history, many_top_ups
from tests.fixtures.kiosk_sender import KioskSender


def wait_for(predicate, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def applied(db, device):
    return hq.event_counts(db).get(device, (0, 0, 0))


def test_kiosk_transactions_reach_hq_once_in_order_and_are_acked(mosquitto, hq_url, hq_db):
    txns = many_top_ups("D1", 600, members=20)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
        sender = KioskSender(mosquitto, "S1", "D1", txns, batch=50)
        assert sender.drain(60), f"{len(sender.pending)} never acknowledged"
        sender.close()
        assert receiver.stats.events == 600 and receiver.stats.acks >= 1  # acks coalesce per batch
    assert applied(hq_db, "D1") == (600, 600, 600)
    reference = LedgerState()
    for t in txns:
        reference.apply(t)
    assert hq.load_state(hq_db).accounts == reference.accounts
    assert [d.device_id for d in list_devices(hq_db)] == ["D1"]


def test_duplicate_and_out_of_order_batches_apply_once_in_seq_order(mosquitto, hq_url, hq_db):
    history = generate_history(11, devices=2, steps=80)
    store_of = {"K1": "S1", "K2": "S1"}
    broker = mosquitto
    broker.devices.update({"K1": "S1", "K2": "S1"})
    from tests.fixtures.mosquitto import device_acl

    (broker.dir / "acl").write_text((broker.dir / "acl").read_text() + device_acl("S1", "K1") + device_acl("S1", "K2"))
    for name in ("K1", "K2"):
        broker.passwords[name] = broker.passwords["D1"]
    broker._write_files("")
    broker.restart()
    with start_receiver(hq_url, broker.host, broker.port, "hq", broker.password("hq")) as receiver:
        for device, txns in history.by_device().items():
            sender = KioskSender(broker, store_of[device], device, txns)
            batches = [txns[i : i + 3] for i in range(0, len(txns), 3)]
            for batch in list(reversed(batches)) + batches[::2]:  # newest first, then half again
                sender.publish_batch(batch)
            n = len(txns)
            assert wait_for(lambda d=device, n=n: applied(hq_db, d) == (n, n, n)), applied(hq_db, device)
            assert sender.drain(30)
            sender.close()
        assert receiver.stats.rejected == {}
    # What HQ holds equals LedgerState replaying each device's txns in order (devices in any order).
    counts = hq.event_counts(hq_db)
    assert {d: c for d, c in counts.items()} == {d: (len(t), len(t), len(t)) for d, t in history.by_device().items()}


def test_bad_payloads_are_rejected_and_change_nothing(mosquitto, hq_url, hq_db):
    good = many_top_ups("D1", 3)
    client = mosquitto.client("D1")
    topic = DeviceTopics("S1", "D1").events
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
        other = many_top_ups("D2", 2)
        client.publish(topic, b"not json", qos=1)
        client.publish(topic, b'{"type":"events","v":9}', qos=1)
        client.publish(topic, m.encode(m.Events("D2", tuple(other), datetime.now(UTC))), qos=1)  # D2's, as D1
        doc = json.loads(m.encode(m.Events("D1", tuple(good), datetime.now(UTC))))
        doc["txns"][1]["balance_after_fen"] = 1.5  # money is never a float
        client.publish(topic, json.dumps(doc).encode(), qos=1)
        assert wait_for(lambda: sum(receiver.stats.rejected.values()) == 4), receiver.stats.rejected
        assert receiver.stats.rejected == {"not_json": 1, "unsupported_version": 1, "wrong_topic": 1, "malformed": 1}
    client.disconnect()
    assert hq.event_counts(hq_db) == {}


def test_status_messages_fill_the_device_list(mosquitto, hq_url, hq_db):
    client = mosquitto.client("D2")
    status = m.Status("D2", "S1", "online", "kiosk 0.1.0", 42, datetime.now(UTC), last_error="reader timeout",
                      rules_version=7, reader="reader gone", printer="escpos usb: 2 printed, 1 failed")
    client.publish(DeviceTopics("S1", "D2").status, m.encode(status), qos=1, retain=True).wait_for_publish(5)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        assert wait_for(lambda: list_devices(hq_db) != [])
    (device,) = list_devices(hq_db)
    assert (device.device_id, device.store, device.online, device.outbox_depth) == ("D2", "S1", True, 42)
    assert device.last_error == "reader timeout" and device.last_contact.startswith(str(datetime.now(UTC).year))
    said = health(hq_db)["D2"]  # the whole status, for the console's fleet and rules pages
    assert (said["rules_version"], said["reader"], said["printer"]) == (7, "reader gone", "escpos usb: 2 printed, 1 failed")
    client.disconnect()


def test_a_retained_status_is_kept_when_connect_returns_late(mosquitto, hq_url, hq_db, monkeypatch):
    """The subscribe is made at CONNACK, on paho's thread, so a retained status can arrive before
    connect() returns to the receiver: under load it did, before any handler was set, and paho
    dropped it (the device never showed). Here connect() returns a second late, every time."""
    import kiosk.hq.receiver as receiver_module

    real_connect = receiver_module.connect

    def late_connect(*args, **kwargs):
        client = real_connect(*args, **kwargs)
        time.sleep(1.0)  # the retained status is delivered meanwhile
        return client

    monkeypatch.setattr(receiver_module, "connect", late_connect)
    kiosk = mosquitto.client("D1")
    status = m.Status("D1", "S1", "online", "kiosk 0.1.0", 0, datetime.now(UTC))
    kiosk.publish(DeviceTopics("S1", "D1").status, m.encode(status), qos=1, retain=True).wait_for_publish(5)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        assert wait_for(lambda: list_devices(hq_db) != [], 10)
    assert [d.device_id for d in list_devices(hq_db)] == ["D1"]
    kiosk.disconnect()


def test_a_live_heartbeat_is_answered_with_an_ack_of_no_seqs_a_replayed_one_is_not(mosquitto, hq_url, hq_db):
    """The kiosk times its offline limit by HQ's answers (kiosk/sync/hq_contact.py): HQ answers a
    live "online" status after storing it, not a retained one replayed at its subscribe."""
    topics, acks = DeviceTopics("S1", "D1"), []
    kiosk = mosquitto.client("D1")
    kiosk.on_message = lambda client, userdata, msg: acks.append(m.decode(msg.payload, "ack"))
    kiosk.subscribe(topics.ack, qos=1)
    replayed = m.Status("D1", "S1", "online", "kiosk 0.1.0", 0, datetime.now(UTC))
    kiosk.publish(topics.status, m.encode(replayed), qos=1, retain=True).wait_for_publish(5)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        assert wait_for(lambda: list_devices(hq_db) != [])
        time.sleep(0.5)
        assert acks == []
        live = m.Status("D1", "S1", "online", "kiosk 0.1.0", 0, datetime.now(UTC))
        kiosk.publish(topics.status, m.encode(live), qos=1).wait_for_publish(5)
        assert wait_for(lambda: acks, 10)
    assert [(a.device, a.ranges, a.expect_seq) for a in acks] == [("D1", (), 1)]
    kiosk.disconnect()


def test_blocked_card_reaches_the_kiosks_as_delta_and_full_list(mosquitto, hq_url, hq_db):
    txns = many_top_ups("D1", 5, members=2)
    uid = txns[0].card_uid
    got: dict[str, list] = {"delta": [], "full": [], "mine": []}
    lock = threading.Lock()
    kiosk = mosquitto.client("D1", client_id="D1-listener")

    def on_message(client, userdata, msg):
        name = msg.topic.rsplit("/", 1)[-1]
        with lock:
            if name == "blocked_delta":
                got["delta"].append(m.decode(msg.payload, "blocked_delta"))
            elif msg.topic == chain_topic("blocked"):
                got["full"].append(m.decode(msg.payload, "blocked"))
            else:
                got["mine"].append(m.decode(msg.payload, "blocked"))

    kiosk.on_message = on_message
    kiosk.subscribe([(chain_topic("blocked_delta"), 1), (chain_topic("blocked"), 1), (DeviceTopics("S1", "D1").topic("blocked"), 1)])
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        sender = KioskSender(mosquitto, "S1", "D1", txns)
        assert sender.drain(30)
        admin.block_card(hq_db, uid, "lost on the bus")
        assert wait_for(lambda: got["delta"] and got["full"], 10)
        assert got["delta"][0].block == (uid,) and got["delta"][0].version == 1
        assert got["full"][-1].uids == frozenset({uid}) and got["full"][-1].version == 1
        resync = m.Resync("D1", "blocked", 0, "gap", datetime.now(UTC))
        sender.client.publish(DeviceTopics("S1", "D1").resync, m.encode(resync), qos=1)
        assert wait_for(lambda: got["mine"], 10)
        assert got["mine"][0].uids == frozenset({uid})
        sender.close()
    kiosk.disconnect()
    with pytest.raises(admin.AdminError, match="card_blocked"):
        admin.block_card(hq_db, uid, "again")


def test_last_will_marks_a_kiosk_offline(mosquitto, hq_url, hq_db):
    """A kiosk that vanishes: the broker publishes its will (state offline, stamped when it was
    set, i.e. before the kiosk's last heartbeat) and HQ's device list shows it offline."""
    import paho.mqtt.client as mqtt

    topics = DeviceTopics("S1", "D1")
    set_at = datetime.now(UTC)
    will = m.encode(m.Status("D1", "S1", "offline", "kiosk 0.1.0", 5, set_at))
    kiosk = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="D1", protocol=mqtt.MQTTv5)
    kiosk.username_pw_set("D1", mosquitto.password("D1"))
    kiosk.will_set(topics.status, will, qos=1, retain=True)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        kiosk.connect(mosquitto.host, mosquitto.port, keepalive=5)
        kiosk.loop_start()
        time.sleep(0.3)
        online = m.Status("D1", "S1", "online", "kiosk 0.1.0", 5, datetime.now(UTC))
        kiosk.publish(topics.status, m.encode(online), qos=1, retain=True).wait_for_publish(5)
        assert wait_for(lambda: [d.online for d in list_devices(hq_db)] == [True], 10)
        kiosk.loop_stop()
        kiosk.socket().close()  # the kiosk dies without DISCONNECT: the broker sends the will
        assert wait_for(lambda: [d.online for d in list_devices(hq_db)] == [False], 15)


def test_incidents_are_stored_once_and_acknowledged_after_commit(mosquitto, hq_url, hq_db):
    from kiosk.hq.incidents import list_incidents

    topics = DeviceTopics("S1", "D1")
    acks: list[m.IncidentsAck] = []
    got_ack = threading.Event()
    kiosk = mosquitto.client("D1", client_id="D1-inc")
    kiosk.on_message = lambda c, u, msg: (acks.append(m.decode(msg.payload, "incidents_ack")), got_ack.set())
    kiosk.subscribe(topics.topic("incidents_ack"), qos=1)
    now = datetime.now(UTC)
    items = (
        m.Incident(0, now, "blocked_card_presented", "04AABBCC", {"screen": "home"}),
        m.Incident(97, now, "payment_abandoned", "", {"amount_fen": 5000, "paid": False}),
    )
    batch = m.Incidents("D1", items, 180, now)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")):
        for _ in range(2):  # the second is a resend: the ack was "lost"
            got_ack.clear()
            kiosk.publish(topics.topic("incidents"), m.encode(batch), qos=1)
            assert got_ack.wait(10)
    assert [a.through for a in acks] == [180, 180]
    stored = list_incidents(hq_db, device="D1")
    assert [(i.log_offset, i.kind, i.card_uid) for i in stored] == [
        (0, "blocked_card_presented", "04AABBCC"), (97, "payment_abandoned", "")
    ]
    assert stored[1].detail == {"amount_fen": 5000, "paid": False}
    kiosk.disconnect()


def test_a_lone_surrogate_costs_only_its_own_message(mosquitto, hq_url, hq_db):
    """D2's status carrying "\\ud800" (valid JSON grammar, not storable text) is rejected and
    counted; D1's events that share the receiver's batch are stored, applied and acknowledged."""
    d1_txns = many_top_ups("D1", 20, members=3)
    d2 = mosquitto.client("D2")
    status = m.encode(m.Status("D2", "S1", "online", "kiosk 0.1.0", 0, datetime.now(UTC), last_error="X"))
    poison = status.replace(b'"last_error":"X"', b'"last_error":"\\ud800"')
    assert poison != status
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
        sender = KioskSender(mosquitto, "S1", "D1", d1_txns, batch=1)
        for i, txn in enumerate(d1_txns):  # interleaved, so poison and good share batches
            sender.publish_batch([txn])
            if i % 4 == 0:
                d2.publish(DeviceTopics("S1", "D2").status, poison, qos=1)
        assert sender.drain(30), f"{len(sender.pending)} never acknowledged"
        assert wait_for(lambda: receiver.stats.rejected.get("not_json", 0) == 5), receiver.stats.rejected
        assert receiver.error is None
        sender.close()
    d2.disconnect()
    assert applied(hq_db, "D1") == (20, 20, 20)
    assert [d.device_id for d in list_devices(hq_db)] == ["D1"]


def test_a_message_the_database_refuses_costs_only_itself(mosquitto, tmp_path):
    """Whatever the reason SQL refuses one message (here a trigger stands in for it), the other
    kiosks' messages in the same batch are committed; the bad one is rejected and counted."""
    db_path = tmp_path / "hq.sqlite3"
    db = open_database(str(db_path))
    create_schema(db)
    db.execute("CREATE TRIGGER poison BEFORE INSERT ON devices WHEN NEW.software = 'poison' "
               "BEGIN SELECT RAISE(ABORT, 'this row cannot be stored'); END")
    d1_txns = many_top_ups("D1", 30, members=3)
    d2 = mosquitto.client("D2")
    poison = m.encode(m.Status("D2", "S1", "online", "poison", 0, datetime.now(UTC)))
    with start_receiver(db_path, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
        sender = KioskSender(mosquitto, "S1", "D1", d1_txns, batch=1)
        for txn in d1_txns:
            sender.publish_batch([txn])
            d2.publish(DeviceTopics("S1", "D2").status, poison, qos=1)
        assert wait_for(lambda: applied(db, "D1") == (30, 30, 30), 30), applied(db, "D1")
        assert wait_for(lambda: receiver.stats.rejected.get("malformed", 0) == 30), receiver.stats.rejected
        assert receiver.stats.rejected_by_device == {"D2": 30}
        sender.close()
    d2.disconnect()
    db.close()


def test_rejected_messages_are_logged_at_most_20_a_minute_per_device(mosquitto, hq_url, caplog):
    caplog.set_level("WARNING", logger="kiosk.hq.receiver")
    d1, d2 = mosquitto.client("D1"), mosquitto.client("D2")
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
        for _ in range(60):
            d1.publish(DeviceTopics("S1", "D1").events, b"not json", qos=1)
        d2.publish(DeviceTopics("S1", "D2").events, b"not json either", qos=1)
        assert wait_for(lambda: receiver.stats.rejected.get("not_json", 0) == 61), receiver.stats.rejected
        assert receiver.stats.rejected_by_device == {"D1": 60, "D2": 1}
        assert receiver.stats.unlogged == {"D1": 40}
    lines = [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]
    assert sum("from D1" in line for line in lines) == 20 and sum("from D2" in line for line in lines) == 1
    d1.disconnect()
    d2.disconnect()
