"""The session's incident log reaches HQ: read by byte offset, forgotten only on HQ's ack,
torn or bad lines never block the rest."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

from kiosk.sync import messages as m
from kiosk.sync.incidents import META_KEY, IncidentSender, read_incidents
from kiosk.sync.topics import DeviceTopics, parse_topic
from tests.sync.support import ManualClock, open_store
from tests.sync.test_drain import start_kiosk

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def line(i: int) -> bytes:
    """The session's IncidentLog format: sorted keys, isoformat() times."""
    record = {"at": (T0 + timedelta(seconds=i)).isoformat(), "kind": "payment_abandoned", "card_uid": "04A1B2C3",
              "detail": {"n": i, "method": "cash_acceptor", "received_fen": 100 * i}}
    return (json.dumps(record, sort_keys=True) + "\n").encode()


def test_reader_offsets_torn_tail_and_bad_lines(tmp_path):
    log = tmp_path / "incidents.jsonl"
    good = [line(0), line(1)]
    bad = b'{"at": "yesterday", "kind": "x"}\n'
    log.write_bytes(good[0] + bad + good[1] + b'{"at": "2026-11-23T09:00:0')  # torn last line
    batch = read_incidents(log, 0)
    assert [i.detail["n"] for i in batch.items] == [0, 1]
    assert [i.offset for i in batch.items] == [0, len(good[0]) + len(bad)]
    assert batch.skipped == 1
    assert batch.next_offset == len(good[0]) + len(bad) + len(good[1])  # stops before the torn line
    assert read_incidents(log, batch.next_offset).items == ()
    with open(log, "ab") as fh:
        fh.write(b'0+00:00", "kind": "k", "card_uid": "", "detail": {}}\n')
    assert read_incidents(log, batch.next_offset).items[0].kind == "k"
    assert read_incidents(tmp_path / "missing", 0).items == ()


class IncidentsHq:
    def __init__(self, broker):
        self.seen: dict[tuple[str, int], m.Incident] = {}
        self.messages = 0
        self.lock = threading.Lock()
        self.client = broker.client("hq")
        self.client.on_message = self._on_message
        self.client.subscribe("$share/hq/kiosk/v1/+/+/incidents", qos=1)
        time.sleep(0.2)

    def _on_message(self, client, userdata, msg) -> None:
        topic = parse_topic(msg.topic)
        batch = m.decode(msg.payload, "incidents")
        with self.lock:
            self.messages += 1
            for item in batch.items:
                self.seen[(batch.device, item.offset)] = item
        ack = m.IncidentsAck(batch.device, batch.next_offset, datetime.now(UTC))
        client.publish(DeviceTopics(topic.store, topic.device).topic("incidents_ack"), m.encode(ack), qos=1)


def test_incidents_reach_hq_once_and_are_forgotten_on_ack(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    log = store.data_dir / "incidents.jsonl"
    log.write_bytes(b"".join(line(i) for i in range(250)))
    hq = IncidentsHq(mosquitto)
    kiosk = start_kiosk(store, mosquitto)
    try:
        assert kiosk.wait_until(lambda: store.meta_get(META_KEY) == log.stat().st_size, 20), kiosk.status()
        assert sorted(i.detail["n"] for i in hq.seen.values()) == list(range(250))
        with open(log, "ab") as fh:  # the session records more while running
            fh.write(line(250) + line(251))
        assert kiosk.wait_until(lambda: store.meta_get(META_KEY) == log.stat().st_size, 10)
        assert len(hq.seen) == 252
        # an ack beyond the log is refused and changes nothing
        bogus = m.IncidentsAck("D1", 10**9, datetime.now(UTC))
        hq.client.publish(DeviceTopics("S1", "D1").topic("incidents_ack"), m.encode(bogus), qos=1)
        assert kiosk.wait_until(lambda: kiosk.counters.rejected.get("out_of_date") == 1, 5)
        assert store.meta_get(META_KEY) == log.stat().st_size
    finally:
        kiosk.stop()
        store.close()


def test_incidents_wait_for_hq_and_survive_restart(mosquitto, tmp_path):
    store = open_store(tmp_path / "kiosk")
    log = store.data_dir / "incidents.jsonl"
    log.write_bytes(b"".join(line(i) for i in range(5)))
    clock = ManualClock()
    kiosk = start_kiosk(store, mosquitto, clock=clock)  # no HQ listening: nothing may be forgotten
    assert kiosk.wait_until(lambda: kiosk.subscribed, 10)
    for _ in range(3):  # sent, and sent again after each ack timeout (2 s on the kiosk's clock)
        kiosk.wait_until(lambda: False, 0.2)
        clock.advance(2.5)
    assert (store.meta_get(META_KEY) or 0) == 0
    kiosk.stop()
    store.close()
    store = open_store(tmp_path / "kiosk")
    hq = IncidentsHq(mosquitto)
    kiosk = start_kiosk(store, mosquitto)
    try:
        assert kiosk.wait_until(lambda: store.meta_get(META_KEY) == log.stat().st_size, 10)
        assert len(hq.seen) == 5
    finally:
        kiosk.stop()
        store.close()


def test_incident_sender_one_in_flight_resent_after_the_timeout_on_its_clock():
    now = [0.0]
    sender = IncidentSender(lambda: now[0])
    assert sender.due(10) and not sender.due(10)  # the log is looked at once a second
    sender.sent(500)
    now[0] += 9.9
    assert not sender.due(10)  # one message in flight, no ack yet, not timed out
    now[0] += 0.2
    assert sender.due(10)  # timed out: send again from the cursor
    sender.sent(500)
    sender.acked(300)  # an older message's ack does not free the one in flight
    assert not sender.due(10)
    sender.acked(500)
    assert sender.due(10)  # acked: the next ones at once
