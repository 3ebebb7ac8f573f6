"""Helpers for the sync tests: the real store, real transactions, and a tiny HQ-ack responder.

AckResponder is the smallest HQ that keeps the protocol's promise (commit in per-device order,
then ack), so the kiosk side's faults can be tested on their own; tests/sync/test_end_to_end.py
runs the real HQ receiver (kiosk/hq)."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.txn import Txn
from kiosk.store.store import Store
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, hq_subscription, parse_topic

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def make_txns(device: str, n: int, members: int = 20, first_uid: int = 0x04000000) -> list[Txn]:
    """n real transactions of one device: sign-ups, then top-ups spread over the members."""
    state = LedgerState()
    ledger = Ledger(state, default_rules(), device, pin_params=FAST_FOR_TESTS)
    out: list[Txn] = []
    uids = [f"{first_uid + i:08X}" for i in range(members)]
    now = T0
    for i, uid in enumerate(uids[: min(members, n)]):
        txn = ledger.sign_up(uid, 1, f"1380000{i:04d}", "246810", now)
        state.apply(txn)
        out.append(txn)
    i = 0
    while len(out) < n:
        now += timedelta(seconds=7)
        txn = ledger.top_up(uids[i % len(uids)], 1000 + (i % 7) * 100, f"PAY{i}", now)
        state.apply(txn)
        out.append(txn)
        i += 1
    return out


class ManualClock:
    """Monotonic seconds that move only when the test says: the sync client's ack timeouts,
    heartbeats and checks run on it (SyncClient(clock=...)), so no test waits them out."""

    def __init__(self, start: float = 1000.0):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def until_moving_time(kiosk, condition, clock: ManualClock, step: float, timeout: float = 60.0,
                      quiet_s: float = 0.3) -> bool:
    """Poll until condition() holds; whenever nothing happens for `quiet_s` of real time, move the
    kiosk's clock on by `step` (past an ack timeout: what would otherwise be waited out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kiosk.wait_until(condition, quiet_s):
            return True
        clock.advance(step)
    return False


def open_store(data_dir: Path, device_id: str = "D1") -> Store:
    """The kiosk's real store (kiosk.store), with fast PIN hashing for tests."""
    return Store.open(Path(data_dir), device_id, pin_params=FAST_FOR_TESTS)


class AckResponder:
    """Test-only HQ: commits each device's events in seq order (parking early ones), then acks.

    Faults: duplicate_acks sends every ack twice; shuffle_acks holds acks and sends them in a
    random order; drop_first_acks drops the first N acks (so the kiosk must resend)."""

    def __init__(self, broker, group: str = "hq", duplicate_acks=False, shuffle_acks=False, drop_first_acks=0):
        self.broker = broker
        self.committed: dict[str, list[int]] = {}  # device -> seqs in commit order
        self.received_batches = 0
        self.duplicates = 0
        self.bad = 0  # payloads that were not events messages
        self.parked: dict[str, dict[int, Txn]] = {}
        self.lock = threading.Lock()
        self.duplicate_acks, self.shuffle_acks = duplicate_acks, shuffle_acks
        self.drop_left = drop_first_acks
        self._held: list[tuple[str, bytes]] = []
        self.client = broker.client("hq", client_id=f"hq-{group}-{random.randrange(1 << 30)}")
        self.client.on_message = self._on_message
        self.group = group
        self.client.on_connect = self._on_connect
        self.client.subscribe(hq_subscription("events", group), qos=1)
        time.sleep(0.2)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:  # after a broker restart: the subscription may be gone
            client.subscribe(hq_subscription("events", self.group), qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        topic = parse_topic(msg.topic)
        try:
            events = m.decode(msg.payload, "events")
        except m.MessageError:
            self.bad += 1
            return
        assert events.device == topic.device
        with self.lock:
            self.received_batches += 1
            done = self.committed.setdefault(events.device, [])
            parked = self.parked.setdefault(events.device, {})
            high = done[-1] if done else 0
            for txn in events.txns:
                if txn.seq <= high or txn.seq in parked:
                    self.duplicates += 1
                elif txn.seq > high:
                    parked[txn.seq] = txn
            while high + 1 in parked:
                high += 1
                parked.pop(high)
                done.append(high)
            acked = [t.seq for t in events.txns if t.seq <= high]
            if not acked:
                return
            ack = m.Ack(events.device, m.ranges_of(acked), datetime.now(UTC))
            self._send(DeviceTopics(topic.store, topic.device).ack, m.encode(ack))

    def _send(self, topic: str, payload: bytes) -> None:
        if self.drop_left > 0:
            self.drop_left -= 1
            return
        if self.shuffle_acks:
            self._held.append((topic, payload))
            if len(self._held) < 4:
                return
            random.shuffle(self._held)
            held, self._held = self._held, []
        else:
            held = [(topic, payload)]
        for t, p in held:
            self.client.publish(t, p, qos=1)
            if self.duplicate_acks:
                self.client.publish(t, p, qos=1)

    def flush(self) -> None:
        with self.lock:
            held, self._held = self._held, []
        for t, p in held:
            self.client.publish(t, p, qos=1)

    def seqs(self, device: str) -> list[int]:
        with self.lock:
            return list(self.committed.get(device, []))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def paho_client_for(broker, user: str) -> mqtt.Client:
    return broker.client(user)
