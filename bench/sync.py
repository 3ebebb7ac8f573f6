"""Kiosk outbox drain throughput through a local Mosquitto, beside raw paho-mqtt QoS 1.

    /work/main/.venv/bin/python bench/sync.py            # ROUNDS=5 for more rounds

Baseline (same run, same broker, same transactions): a bare paho-mqtt client publishing each
transaction as its own QoS 1 message (a one-transaction events payload), timed until the broker has PUBACKed all of them —
which promises nothing end to end. Measured: the kiosk's SyncClient draining a kiosk.store
outbox of the same transactions until HQ has acknowledged every one after its commit (so the
store has durably forgotten them), (a) with an HQ that acks on receipt, (b) with the real HQ
receiver on SQLite. Target: (a) at least 0.5x the raw rate. Medians over the rounds."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from kiosk.sync import messages as m  # noqa: E402
from kiosk.sync.client import SyncClient, SyncSettings  # noqa: E402
from kiosk.sync.local_broker import MosquittoBroker  # noqa: E402
from kiosk.sync.topics import DeviceTopics, hq_subscription, parse_topic  # noqa: E402
from tests.sync.support import make_txns, open_store  # noqa: E402

N = 10_000
ROUNDS = int(os.environ.get("ROUNDS", "3"))
TARGET = 0.5


def raw_paho(broker: MosquittoBroker, payloads: list[bytes]) -> float:
    """Seconds to publish every payload at QoS 1 and get every PUBACK (paho defaults)."""
    client = broker.client("D1", client_id="raw-D1")
    topic = DeviceTopics("S1", "D1").events
    done = threading.Event()
    acked = [0]

    def on_publish(c, userdata, mid, reason_code, properties):
        acked[0] += 1
        if acked[0] == len(payloads):
            done.set()

    client.on_publish = on_publish
    start = time.perf_counter()
    for payload in payloads:
        client.publish(topic, payload, qos=1)
    if not done.wait(120):
        raise RuntimeError(f"raw paho: only {acked[0]} PUBACKs")
    took = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return took


class AckOnReceipt:
    """An HQ that acknowledges each batch as it arrives (no SQL): the kiosk path alone."""

    def __init__(self, broker: MosquittoBroker):
        self.client = broker.client("hq", client_id="bench-hq")
        self.client.on_message = self._on_message
        self.client.subscribe(hq_subscription("events"), qos=1)
        time.sleep(0.2)

    def _on_message(self, client, userdata, msg) -> None:
        topic = parse_topic(msg.topic)
        events = m.decode(msg.payload, "events")
        ack = m.Ack(events.device, ((events.first_seq, events.last_seq),), datetime.now(UTC))
        client.publish(DeviceTopics(topic.store, topic.device).ack, m.encode(ack), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def drain(broker: MosquittoBroker, txns, work: Path) -> float:
    """Seconds from SyncClient.start() until the store's outbox is empty (all acked by HQ)."""
    store = open_store(Path(tempfile.mkdtemp(dir=work)))
    for i in range(0, len(txns), 1000):
        store.commit_many(txns[i : i + 1000])
    settings = SyncSettings(
        store_id="S1", device_id="D1", host=broker.host, port=broker.port, password=broker.password("D1"),
        data_dir=store.data_dir, batch_size=100, window_batches=8,
    )
    sync = SyncClient(store, settings)
    start = time.perf_counter()
    sync.start_worker(interval_s=0.005)
    deadline = start + 300
    while time.perf_counter() < deadline:
        with sync.lock:
            if store.outbox_depth() == 0:
                break
        time.sleep(0.002)
    took = time.perf_counter() - start
    with sync.lock:
        left = store.outbox_depth()
    sync.stop()
    store.close()
    if left:
        raise RuntimeError(f"drain: {left} transactions left after {took:.0f} s")
    return took


def trickle_latency(broker: MosquittoBroker, txns, work: Path, rate_per_s: float = 200.0) -> list[float]:
    """Milliseconds from each commit to HQ's ack being durable in the store, with the kiosk online
    and transactions arriving one by one at `rate_per_s` (the latency a member's txn sees)."""
    store = open_store(Path(tempfile.mkdtemp(dir=work)))
    committed: dict[str, float] = {}
    acked: dict[str, float] = {}
    real_ack = store.ack

    def timed_ack(txn_ids):
        ids = list(txn_ids)
        new = real_ack(ids)
        now = time.perf_counter()
        for txn_id in ids:
            acked.setdefault(txn_id, now)
        return new

    store.ack = timed_ack
    settings = SyncSettings(
        store_id="S1", device_id="D1", host=broker.host, port=broker.port, password=broker.password("D1"),
        data_dir=store.data_dir,
    )
    sync = SyncClient(store, settings)
    sync.start_worker(interval_s=0.005)
    sync.wait_until(lambda: sync.connected, 10, poll=False)
    start = time.perf_counter()
    for i, txn in enumerate(txns):
        while time.perf_counter() < start + i / rate_per_s:
            time.sleep(0.0005)
        with sync.lock:
            store.commit(txn)
        committed[txn.txn_id] = time.perf_counter()
    sync.wait_until(lambda: store.outbox_depth() == 0, 60, poll=False)
    sync.stop()
    store.close()
    return sorted((acked[i] - t) * 1000 for i, t in committed.items() if i in acked)


def _p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    broker = MosquittoBroker(work / "broker", devices=(("S1", "D1"),)).start()
    try:
        txns = make_txns("D1", N, members=200)
        payloads = [m.encode(m.Events("D1", (t,), datetime.now(UTC))) for t in txns]
        raw_bytes = sum(len(p) for p in payloads)
        print(f"{N} transactions, {raw_bytes / N:.0f} bytes each as a single-txn message; {ROUNDS} rounds")
        results: dict[str, list[float]] = {"raw": [], "ack": [], "hq": []}
        try:
            from kiosk.hq.embedded import start_receiver
        except ImportError:
            start_receiver = None
        for _ in range(ROUNDS):
            results["raw"].append(raw_paho(broker, payloads))
            hq = AckOnReceipt(broker)
            try:
                results["ack"].append(drain(broker, txns, work))
            finally:
                hq.close()
            if start_receiver is not None:
                db = Path(tempfile.mkdtemp(dir=work)) / "hq.sqlite3"
                with start_receiver(db, broker.host, broker.port, "hq", broker.password("hq")):
                    results["hq"].append(drain(broker, txns, work))
        raw_rate = N / statistics.median(results["raw"])
        rows = [
            ("raw paho QoS 1, one txn per message, until PUBACK", results["raw"]),
            ("kiosk sync drain, HQ acks on receipt", results["ack"]),
            ("kiosk sync drain, real HQ receiver (SQLite)", results["hq"]),
        ]
        print(f"\n{'what':52} {'median s':>9} {'min s':>7} {'max s':>7} {'txns/s':>9} {'x raw':>6}")
        for name, times in rows:
            if not times:
                print(f"{name:52} {'(kiosk.hq not available)':>40}")
                continue
            med = statistics.median(times)
            print(f"{name:52} {med:9.2f} {min(times):7.2f} {max(times):7.2f} {N / med:9.0f} {N / med / raw_rate:6.2f}")
        print(f"\n{'commit -> HQ ack, 2,000 txns at 200/s, online':52} {'median ms':>9} {'p99 ms':>7} {'max ms':>7}")
        cases = [("HQ acks on receipt", None)]
        if start_receiver is not None:
            cases.append(("real HQ receiver (SQLite)", start_receiver))
        for name, receiver in cases:
            if receiver is None:
                hq = AckOnReceipt(broker)
                try:
                    lat = trickle_latency(broker, txns[:2000], work)
                finally:
                    hq.close()
            else:
                db = Path(tempfile.mkdtemp(dir=work)) / "hq.sqlite3"
                with receiver(db, broker.host, broker.port, "hq", broker.password("hq")):
                    lat = trickle_latency(broker, txns[:2000], work)
            print(f"{name:52} {statistics.median(lat):9.1f} {_p(lat, 0.99):7.1f} {lat[-1]:7.1f}")
        ratio = raw_rate and (N / statistics.median(results["ack"])) / raw_rate
        verdict = "meets" if ratio >= TARGET else "MISSES"
        print(f"\nkiosk drain / raw paho = {ratio:.2f} ({verdict} the target of {TARGET})")
        return 0
    finally:
        broker.kill()


if __name__ == "__main__":
    sys.exit(main())
