"""Rules published to chosen stores and to the chain, over a real broker: a store's document goes
on its own topic only, versions are one counter across the chain and the stores, and the chain's
next document reaches every store, its retained store copy included."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from kiosk.hq.db import open_database
from kiosk.hq.rules_scopes import highest_version, own_stores, rules_for_store, scoped_rules
from kiosk.sync import messages as m
from kiosk.sync.topics import chain_topic, store_topic
from tests.hq.test_hq_commands import ROOT, hq_cli


class Heard:
    """What one kiosk's client hears on its rules topics: (topic, version) pairs."""

    def __init__(self, broker, device: str, store: str):
        self.got: list[tuple[str, int]] = []
        self.arrived = threading.Event()
        self.client = broker.client(device, client_id=f"{device}-rules")
        self.client.on_message = lambda c, u, msg: self._take(msg)
        self.client.subscribe([(chain_topic("rules"), 1), (store_topic(store, "rules"), 1)])
        time.sleep(0.3)

    def _take(self, msg) -> None:
        if msg.payload:
            self.got.append((msg.topic, m.decode(msg.payload, "rules").version))
            self.arrived.set()

    def wait(self, count: int, seconds: float = 10) -> list[tuple[str, int]]:
        deadline = time.monotonic() + seconds
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # and nothing more
        return sorted(self.got)


def write(tmp_path: Path, version: int, fen_per_point: int) -> Path:
    doc = json.loads((ROOT / "kiosk/data/rules.default.json").read_text())
    doc["version"], doc["points"]["fen_per_point"] = version, fen_per_point
    path = tmp_path / f"rules-{version}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


def test_a_store_then_the_chain(mosquitto, tmp_path):
    db_url = str(tmp_path / "hq.sqlite3")
    assert hq_cli("init", db=db_url).returncode == 0
    s1, s2 = Heard(mosquitto, "D1", "S1"), Heard(mosquitto, "D3", "S2")
    pilot = hq_cli("publish-rules", str(write(tmp_path, 2, 50)), "--store", "S1", db=db_url, broker=mosquitto, tmp_path=tmp_path)
    assert pilot.returncode == 0, pilot.stderr
    assert s1.wait(1) == [(store_topic("S1", "rules"), 2)]
    assert s2.wait(0) == []
    db = open_database(db_url)
    assert scoped_rules(db) is None and rules_for_store(db, "S1")[1].points.fen_per_point == 50
    assert rules_for_store(db, "S2") is None and highest_version(db) == 2
    # one counter: version 2 again is refused wherever it goes
    again = hq_cli("publish-rules", str(write(tmp_path, 2, 60)), "--store", "S2", db=db_url)
    assert again.returncode == 1 and "rules_out_of_date" in again.stderr
    s1.got.clear()
    chain = hq_cli("publish-rules", str(write(tmp_path, 3, 70)), db=db_url, broker=mosquitto, tmp_path=tmp_path)
    assert chain.returncode == 0, chain.stderr
    assert s1.wait(2) == sorted([(chain_topic("rules"), 3), (store_topic("S1", "rules"), 3)])
    assert s2.wait(1) == [(chain_topic("rules"), 3)]
    assert own_stores(db) == ["S1"] and rules_for_store(db, "S1")[1].version == 3
    db.close()
    # a kiosk of S1 connecting now hears version 3 on both topics, never the pilot's 2
    late = Heard(mosquitto, "D2", "S1")
    assert late.wait(2) == sorted([(chain_topic("rules"), 3), (store_topic("S1", "rules"), 3)])
    for heard in (s1, s2, late):
        heard.client.disconnect()


def test_a_bad_store_id_is_refused_and_changes_nothing(tmp_path):
    db_url = str(tmp_path / "hq.sqlite3")
    assert hq_cli("init", db=db_url).returncode == 0
    bad = hq_cli("publish-rules", str(write(tmp_path, 2, 50)), "--store", "S1/../x", db=db_url)
    assert bad.returncode == 1 and "bad_store" in bad.stderr
    db = open_database(db_url)
    assert highest_version(db) == 0
    db.close()


def test_a_resync_of_rules_gets_the_chains_and_the_stores_own(mosquitto, tmp_path):
    from kiosk.hq import admin
    from kiosk.hq.publisher import Publisher
    from kiosk.hq.schema import create_schema

    db = open_database(str(tmp_path / "hq.sqlite3"))
    create_schema(db)
    admin.publish_rules(db, write(tmp_path, 2, 50).read_bytes(), "chain")
    admin.publish_rules(db, write(tmp_path, 3, 60).read_bytes(), "pilot", stores=("S1",))
    hq = mosquitto.client("hq")
    s1, s2 = Heard(mosquitto, "D1", "S1"), Heard(mosquitto, "D3", "S2")
    publisher = Publisher(db, hq)
    publisher.answer_resync("S1", "D1", "rules")
    assert s1.wait(2) == sorted([(chain_topic("rules"), 2), (store_topic("S1", "rules"), 3)])
    s2.got.clear()
    publisher.answer_resync("S2", "D3", "rules")
    assert [v for t, v in s2.wait(1) if t == chain_topic("rules")] == [2]  # S2 has no document of its own
    for client in (hq, s1.client, s2.client):
        client.disconnect()
    db.close()
