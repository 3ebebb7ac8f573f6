"""The kiosk's MQTT sync client: drains the outbox to HQ and takes in what HQ sends.

Two threads. The network thread owns the MQTT connection (connect, backoff with jitter, read
and write the socket) and only queues what arrives. Everything that touches the store happens
in `poll()`, called by the store's owner (the app's main loop), or by `start_worker()` when
sync owns the store alone. An outbox entry is forgotten only on HQ's `ack`, which HQ sends after
its own commit; the broker's PUBACK means nothing here."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kiosk import __version__
from kiosk.ledger.rules import Rules, RulesError
from kiosk.ledger.txn import Txn, txn_id_for
from kiosk.store.errors import ImpossibleSnapshot, StaleSnapshot, StoreError
from kiosk.sync import messages as m
from kiosk.sync.admission import MAX_OUTBOX, MIN_FREE_BYTES, OK, Admission, check_admission
from kiosk.sync.blocked import META_KEY as BLOCKED_KEY
from kiosk.sync.blocked import BlockedCards
from kiosk.sync.incidents import META_KEY as INCIDENTS_KEY
from kiosk.sync.incidents import read_incidents
from kiosk.sync.payments import MqttPayments
from kiosk.sync.topics import DeviceTopics, TopicError, parse_topic

log = logging.getLogger("kiosk.sync")

CONFIG_KEY = "sync.config"
SNAPSHOT_KEY = "sync.snapshot_id"
LAST_ACK_KEY = "sync.last_ack_at"  # read by `kiosk doctor` as the last HQ contact
SESSION_EXPIRY_S = 7 * 24 * 3600
INCOMING_QUEUE = 10_000
LOG_REJECTS_PER_MINUTE = 20


class SyncStore(Protocol):
    """What sync needs of kiosk.store.Store (STORE_API.md)."""

    ledger: Any

    def outbox(self, limit: int | None = None) -> list[Txn]: ...
    def outbox_depth(self) -> int: ...
    def ack(self, txn_ids) -> int: ...
    def meta_get(self, key: str) -> Any: ...
    def meta_put(self, key: str, value: Any) -> None: ...
    def put_rules(self, rules_doc: dict) -> Rules: ...
    def replace_state_from_hq(self, snapshot_state, own_high_water: int) -> None: ...


@dataclass(frozen=True)
class SyncSettings:
    store_id: str
    device_id: str
    host: str
    port: int = 1883
    data_dir: Path = Path(".")
    username: str = ""  # default: the device id
    password: str = ""
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_s: int = 30
    batch_size: int = 100
    window_batches: int = 8  # unacknowledged batches in flight
    ack_timeout_s: float = 10.0
    heartbeat_s: float = 60.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    session_expiry_s: int = SESSION_EXPIRY_S
    min_free_bytes: int = MIN_FREE_BYTES
    max_outbox: int = MAX_OUTBOX
    software: str = __version__
    incidents_file: Path | None = None  # default: data_dir/incidents.jsonl (the session's IncidentLog)

    @classmethod
    def from_config(cls, config, **overrides) -> SyncSettings:
        """From kiosk.app.config.Config (device and hq sections)."""
        hq = config.hq
        values = dict(
            store_id=config.device.store,
            device_id=config.device.id,
            host=hq.host,
            port=hq.port,
            data_dir=config.device.data_dir,
            tls_ca=hq.tls_ca,
            tls_cert=hq.tls_cert,
            tls_key=hq.tls_key,
            keepalive_s=hq.keepalive_s,
        )
        values.update(overrides)
        return cls(**values)


def backoff_delay(attempt: int, low: float, high: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: a random delay between half and all of min(high, low*2^n)."""
    step = min(high, low * (2 ** min(attempt, 30)))
    return step / 2 + rand() * step / 2


def consecutive_batches(txns: list[Txn], size: int) -> list[tuple[Txn, ...]]:
    """Split seq-ordered txns into batches of at most `size` consecutive seqs (acks can leave holes)."""
    out: list[list[Txn]] = []
    for txn in txns:
        if out and len(out[-1]) < size and out[-1][-1].seq + 1 == txn.seq:
            out[-1].append(txn)
        else:
            out.append([txn])
    return [tuple(b) for b in out]


@dataclass
class _Counters:
    rejected: Counter = field(default_factory=Counter)
    published_batches: int = 0
    resends: int = 0
    acked: int = 0


class SyncClient:
    def __init__(self, store: SyncStore, settings: SyncSettings, now: Callable[[], datetime] | None = None):
        import paho.mqtt.client as mqtt

        self.store, self.settings = store, settings
        self.topics = DeviceTopics(settings.store_id, settings.device_id)
        self._now = now or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()  # held around every store call made by sync
        self.blocked = BlockedCards.from_json(store.meta_get(BLOCKED_KEY))
        self.payments = MqttPayments(self)
        self.counters = _Counters()
        self._counter_lock = threading.Lock()  # rejections are counted on both threads
        self._reject_window, self._logged, self._unlogged = 0.0, 0, 0
        self.last_error = ""
        self.store_fault = ""  # the session's: why the store cannot save ("" when it can)
        last_ack = store.meta_get(LAST_ACK_KEY)
        self.last_ack_at: datetime | None = datetime.fromisoformat(last_ack) if isinstance(last_ack, str) else None
        self.hq_applied_through = 0
        self._admission: Admission = OK
        self._outbox_depth = store.outbox_depth()  # cached by poll(): the network thread never reads the store
        self._rules_version = store.ledger.rules.version
        self._admission_checked = 0.0
        self._incoming: queue.Queue = queue.Queue(maxsize=INCOMING_QUEUE)
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._new_session = threading.Event()  # set on each CONNACK; poll() rewinds the drain
        self._stopping = threading.Event()  # wakes every wait; the network thread returns
        self._closing = threading.Event()  # stop() has begun: do not reconnect
        self._stop_worker = threading.Event()
        self._net_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._sent_through = 0  # highest seq published since the last rewind
        self._last_progress = time.monotonic()
        self._last_status = 0.0
        self._status_due = True
        self._incidents_path = settings.incidents_file or Path(settings.data_dir) / "incidents.jsonl"
        self._incidents_inflight = 0  # next_offset of the incidents message awaiting HQ's ack (0: none)
        self._incidents_sent = 0.0
        self._incidents_checked = 0.0
        self._heartbeat_s = settings.heartbeat_s
        self._batch_size = settings.batch_size
        self._ack_timeout_s = settings.ack_timeout_s
        self._apply_config(store.meta_get(CONFIG_KEY))
        self._mqtt = self._make_client(mqtt)

    # ------------------------------------------------------------------ connection

    def _make_client(self, mqtt):
        s = self.settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=s.device_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False
        )
        client.username_pw_set(s.username or s.device_id, s.password or None)
        if s.tls_ca or s.tls_cert:
            client.tls_set(
                ca_certs=str(s.tls_ca) if s.tls_ca else None,
                certfile=str(s.tls_cert) if s.tls_cert else None,
                keyfile=str(s.tls_key) if s.tls_key else None,
            )
        client.max_inflight_messages_set(max(20, s.window_batches * 2))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> None:
        """Start the network thread (connects, and reconnects with backoff)."""
        self._stopping.clear()
        self._closing.clear()
        self._stop_worker.clear()
        self._net_thread = threading.Thread(target=self._network_loop, name="kiosk-sync-net", daemon=True)
        self._net_thread.start()

    def start_worker(self, interval_s: float = 0.02) -> None:
        """Also run poll() in a thread: only when nothing else uses the store, or uses `self.lock`."""
        if self._net_thread is None:
            self.start()

        def work() -> None:
            while not self._stop_worker.is_set():
                try:
                    busy = self.poll()
                except Exception as exc:  # keep syncing; the error is reported in the status
                    log.exception("sync poll failed")
                    self.last_error = f"poll: {type(exc).__name__}: {exc}"[:200]
                    busy = False
                if not busy:
                    self._stop_worker.wait(interval_s)

        self._worker = threading.Thread(target=work, name="kiosk-sync-worker", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say offline (retained) and disconnect cleanly, while the network thread still runs."""
        self._closing.set()
        self._stop_worker.set()
        if self._worker:
            self._worker.join(timeout)
        if self._connected.is_set():
            try:
                info = self._mqtt.publish(self.topics.status, m.encode(self._status("offline")), qos=1, retain=True)
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError, OSError) as exc:
                log.warning("could not publish offline status: %s", exc)
            self._mqtt.disconnect()
        self._stopping.set()
        if self._net_thread:
            self._net_thread.join(timeout)
        self._net_thread = self._worker = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _network_loop(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        s = self.settings
        attempt = 0
        while not (self._stopping.is_set() or self._closing.is_set()):
            try:
                self._mqtt.will_set(self.topics.status, m.encode(self._status("offline")), qos=1, retain=True)
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = s.session_expiry_s
                self._mqtt.connect(s.host, s.port, s.keepalive_s, clean_start=False, properties=props)
            except (OSError, ValueError) as exc:
                self._note_error(f"connect to {s.host}:{s.port}: {exc}")
                self._stopping.wait(backoff_delay(attempt, s.backoff_min_s, s.backoff_max_s))
                attempt += 1
                continue
            while not self._stopping.is_set():
                rc = self._mqtt.loop(timeout=0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                if self._connected.is_set():
                    attempt = 0
            self._connected.clear()
            self._subscribed.clear()
            if self._closing.is_set() or self._stopping.is_set():
                return
            self._stopping.wait(backoff_delay(attempt, s.backoff_min_s, s.backoff_max_s))
            attempt += 1

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note_error(f"broker refused the connection: {reason_code}")
            return
        self._connected.set()
        self._new_session.set()
        client.subscribe([(t, 1) for t in self.topics.kiosk_subscriptions()])
        log.info("connected to %s:%s (session present: %s)", self.settings.host, self.settings.port, flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            self._note_error(f"subscription refused: {failed[0]}")
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if reason_code.is_failure:
            self._note_error(f"disconnected: {reason_code}")

    def _on_message(self, client, userdata, msg) -> None:
        """Network thread: check and decode here (a big snapshot never stalls the screen's thread);
        payment confirmations go straight to the payment port; the rest waits for poll()."""
        decoded = self._decode(msg.topic, msg.payload)
        if decoded is None:
            return
        if isinstance(decoded, m.PaymentConfirmation):
            problem = self.payments.deliver(decoded)
            if problem:
                self._reject(msg.topic, m.OUT_OF_DATE, "payment_ref", problem)
            return
        try:
            self._incoming.put_nowait((msg.topic, decoded))
        except queue.Full:
            self._reject(msg.topic, "overload", "-", "incoming queue full")

    def _decode(self, topic: str, payload: bytes) -> m.Message | None:
        try:
            parsed = parse_topic(topic)
        except TopicError as exc:
            self._reject(topic, m.WRONG_TOPIC, "topic", exc.problem)
            return None
        if parsed.up or (parsed.scope == "device" and parsed.device != self.settings.device_id):
            self._reject(topic, m.WRONG_TOPIC, "topic", "not a topic of this kiosk")
            return None
        if parsed.scope == "store" and parsed.store != self.settings.store_id:
            self._reject(topic, m.WRONG_TOPIC, "topic", "another store's topic")
            return None
        try:
            return m.decode(bytes(payload), parsed.message_type)
        except m.MessageError as exc:
            self._reject(topic, exc.reason, exc.field, exc.problem)
            return None

    def _note_error(self, text: str) -> None:
        if text != self.last_error:
            log.warning("sync: %s", text)
        self.last_error = text[:200]
        self._status_due = True

    # ------------------------------------------------------------------ the owner's side

    def poll(self) -> bool:
        """Do what is due: handle incoming messages, publish the next batches, heartbeat.
        Returns True when there may be more to do right away."""
        with self.lock:
            busy = self._handle_incoming()
            self._check_admission()
            if self._connected.is_set() and self._subscribed.is_set():
                busy = self._drain() or busy
                try:
                    self._drain_incidents()
                except StoreError as exc:
                    self._note_error(f"store: {exc}")
                self._heartbeat()
            return busy

    @property
    def admission(self) -> Admission:
        """Whether new money transactions may be taken now (the session asks before each)."""
        return self._admission

    @property
    def money_paused(self) -> str:
        return "" if self._admission.money_ok else self._admission.code

    def _check_admission(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._admission_checked < 1.0:
            return
        self._admission_checked = now
        before = self._admission
        s = self.settings
        self._outbox_depth = self.store.outbox_depth()
        self._rules_version = self.store.ledger.rules.version
        self._admission = check_admission(s.data_dir, self._outbox_depth, s.min_free_bytes, s.max_outbox)
        if self._admission != before:
            if not self._admission.money_ok:
                log.warning("money transactions paused: %s", self._admission.en)
            self._status_due = True

    # -- outbox

    def _drain(self) -> bool:
        now = time.monotonic()
        if self._new_session.is_set():
            self._new_session.clear()
            self._rewind("reconnected")
            self._incidents_inflight = 0
            self._last_status = 0.0  # say "online" at once: the broker may have published the will
        window = self._batch_size * self.settings.window_batches
        pending = self.store.outbox(limit=window)
        if not pending:
            self._last_progress = now
            return False
        lowest = pending[0].seq
        if self._sent_through < lowest - 1:
            self._sent_through = lowest - 1
            self._last_progress = now
        elif self._sent_through >= lowest and now - self._last_progress > self._ack_timeout_s:
            self._rewind(f"no ack for {self._ack_timeout_s:g} s")
            self._sent_through = lowest - 1
        unsent = [t for t in pending if t.seq > self._sent_through]
        if not unsent:
            return False
        if self._sent_through < lowest:
            self._last_progress = now
        for batch in consecutive_batches(unsent, self._batch_size):
            payload = m.encode(m.Events(self.settings.device_id, batch, self._now()))
            info = self._mqtt.publish(self.topics.events, payload, qos=1)
            if info.rc != 0:
                self._note_error(f"publish failed: rc {info.rc}")
                return False
            self._sent_through = batch[-1].seq
            self.counters.published_batches += 1
        return False

    def _drain_incidents(self) -> None:
        """One incidents message in flight at a time; resent after the ack timeout."""
        now = time.monotonic()
        if self._incidents_inflight and now - self._incidents_sent < self._ack_timeout_s:
            return
        if not self._incidents_inflight and now - self._incidents_checked < 1.0:
            return
        self._incidents_checked = now
        through = self.store.meta_get(INCIDENTS_KEY) or 0
        batch = read_incidents(self._incidents_path, through)
        if batch.skipped:
            with self._counter_lock:
                self.counters.rejected["bad_incident"] += batch.skipped
        if not batch.items:
            if batch.next_offset > through:  # only unreadable lines: nothing for HQ, move past them
                self.store.meta_put(INCIDENTS_KEY, batch.next_offset)
            self._incidents_inflight = 0
            return
        msg = m.Incidents(self.settings.device_id, batch.items, batch.next_offset, self._now())
        if self._mqtt.publish(self.topics.topic("incidents"), m.encode(msg), qos=1).rc == 0:
            self._incidents_inflight, self._incidents_sent = batch.next_offset, now

    def _handle_incidents_ack(self, ack: m.IncidentsAck, topic: str) -> None:
        through = self.store.meta_get(INCIDENTS_KEY) or 0
        try:
            size = self._incidents_path.stat().st_size
        except OSError:
            size = 0
        if ack.device != self.settings.device_id or ack.through > size:
            self._reject(topic, m.OUT_OF_DATE, "through", f"{ack.through} is beyond the incident log ({size} bytes)")
            return
        if ack.through > through:
            self.store.meta_put(INCIDENTS_KEY, ack.through)
        if ack.through >= self._incidents_inflight:
            self._incidents_inflight = 0
            self._incidents_checked = 0.0  # send the next ones at once

    def _rewind(self, why: str) -> None:
        if self._sent_through:
            log.info("resending unacknowledged transactions: %s", why)
            self.counters.resends += 1
        self._sent_through = 0
        self._last_progress = time.monotonic()

    def _handle_ack(self, ack: m.Ack, topic: str) -> None:
        device = self.settings.device_id
        if ack.device != device:
            self._reject(topic, m.WRONG_TOPIC, "device", f"ack for {ack.device}")
            return
        own_last = self.store.ledger.state.next_seq(device) - 1
        if ack.ranges and ack.ranges[-1][1] > own_last:
            highest = ack.ranges[-1][1]
            self._reject(topic, m.OUT_OF_DATE, "ranges", f"acks seq {highest} beyond the last committed {own_last}")
            return
        oldest = self.store.outbox(limit=1)
        floor = oldest[0].seq if oldest else own_last + 1  # seqs below it are forgotten already
        seqs = [s for lo, hi in ack.ranges for s in range(max(lo, floor), hi + 1)]
        if seqs:
            new = self.store.ack(txn_id_for(device, s) for s in seqs)
            if new:
                self.counters.acked += new
                self.last_ack_at = self._now()
                self.store.meta_put(LAST_ACK_KEY, self.last_ack_at.isoformat())
                self._last_progress = time.monotonic()
        if ack.expect_seq:
            self.hq_applied_through = ack.expect_seq - 1  # for diagnostics; resends are driven by the ack timeout

    # -- incoming

    def _handle_incoming(self) -> bool:
        handled = 0
        while handled < 200:
            try:
                topic, payload = self._incoming.get_nowait()
            except queue.Empty:
                return False
            handled += 1
            try:
                self._handle_one(topic, payload)
            except StoreError as exc:
                # e.g. disk full: nothing was taken in; HQ's message comes again (acks after a
                # resend, retained rules/blocked on reconnect, a resync for the rest)
                self._note_error(f"store: {exc}")
        return True

    def _handle_one(self, topic: str, msg: m.Message) -> None:
        if isinstance(msg, m.Ack):
            self._handle_ack(msg, topic)
        elif isinstance(msg, m.RulesUpdate):
            self._handle_rules(msg, topic)
        elif isinstance(msg, m.BlockedList):
            self._handle_blocked(self.blocked.apply_full(msg), topic)
        elif isinstance(msg, m.BlockedDelta):
            self._handle_blocked(self.blocked.apply_delta(msg), topic)
        elif isinstance(msg, m.Snapshot):
            self._handle_snapshot(msg, topic)
        elif isinstance(msg, m.ConfigUpdate):
            self._handle_config(msg, topic)
        elif isinstance(msg, m.IncidentsAck):
            self._handle_incidents_ack(msg, topic)
        else:
            self._reject(topic, m.WRONG_TOPIC, "type", f"{msg.TYPE} is not for a kiosk")

    def _handle_rules(self, msg: m.RulesUpdate, topic: str) -> None:
        current = self.store.ledger.rules.version
        if msg.version <= current:
            if msg.version < current:
                self._reject(topic, m.OUT_OF_DATE, "rules.version", f"v{msg.version}, v{current} in force")
            return
        try:
            self.store.put_rules(msg.doc)
        except RulesError as exc:
            self._reject(topic, m.MALFORMED, f"rules.{exc.field}", exc.problem)
            return
        log.info("rules v%s in force (was v%s)", msg.version, current)
        self._status_due = True

    def _handle_blocked(self, outcome, topic: str) -> None:
        if outcome.applied:
            self.store.meta_put(BLOCKED_KEY, self.blocked.to_json())
            self._status_due = True
            return
        if outcome.reason:
            self._reject(topic, m.OUT_OF_DATE, "version", outcome.reason)
        if outcome.gap:
            self._publish_resync("blocked", self.blocked.version, outcome.reason)

    def _handle_snapshot(self, msg: m.Snapshot, topic: str) -> None:
        last = self.store.meta_get(SNAPSHOT_KEY) or 0
        if msg.snapshot_id <= last:
            self._reject(topic, m.OUT_OF_DATE, "snapshot_id", f"{msg.snapshot_id} not after {last}")
            return
        try:
            self.store.replace_state_from_hq(msg.state, msg.own_high_water)
        except StaleSnapshot as exc:
            self._reject(topic, m.OUT_OF_DATE, "own_high_water", str(exc))
            self._publish_resync("snapshot", last, "snapshot misses transactions this kiosk no longer holds")
            return
        except ImpossibleSnapshot as exc:
            self._reject(topic, m.MALFORMED, "own_high_water", str(exc))
            return
        self.store.meta_put(SNAPSHOT_KEY, msg.snapshot_id)
        log.info("account snapshot %s applied", msg.snapshot_id)

    def _handle_config(self, msg: m.ConfigUpdate, topic: str) -> None:
        stored = self.store.meta_get(CONFIG_KEY) or {}
        if msg.version <= stored.get("version", 0):
            if msg.version < stored.get("version", 0):
                self._reject(topic, m.OUT_OF_DATE, "version", f"config v{msg.version} older than held")
            return
        value = {"version": msg.version, **{k: getattr(msg, k) for k in m.CONFIG_LIMITS}}
        self.store.meta_put(CONFIG_KEY, value)
        self._apply_config(value)

    def _apply_config(self, value: object) -> None:
        if not isinstance(value, dict):
            return
        self._heartbeat_s = float(value.get("heartbeat_s", self._heartbeat_s))
        self._batch_size = int(value.get("batch_size", self._batch_size))
        self._ack_timeout_s = float(value.get("ack_timeout_s", self._ack_timeout_s))

    def _reject(self, topic: str, reason: str, field_name: str, problem: str) -> None:
        """Count, remember for the status, and log (at most LOG_REJECTS_PER_MINUTE lines: a flood
        of bad messages must not fill the SD card with logs)."""
        with self._counter_lock:
            self.counters.rejected[reason] += 1
            now = time.monotonic()
            if now - self._reject_window >= 60:
                if self._unlogged:
                    log.warning("%d more rejected messages were not logged", self._unlogged)
                self._reject_window, self._logged, self._unlogged = now, 0, 0
            quiet = self._logged >= LOG_REJECTS_PER_MINUTE
            self._logged += 0 if quiet else 1
            self._unlogged += 1 if quiet else 0
        self.last_error = f"rejected {topic.rsplit('/', 1)[-1]}: {field_name}: {problem}"[:200]
        self._status_due = True
        if not quiet:
            log.warning("rejected message on %s: %s (%s: %s)", topic[:120], reason, field_name, problem[:200])

    # -- outgoing besides events

    def _publish_resync(self, what: str, have_version: int, reason: str) -> None:
        msg = m.Resync(self.settings.device_id, what, have_version, reason[:200], self._now())
        self._mqtt.publish(self.topics.resync, m.encode(msg), qos=1)

    def publish_payment_request(self, msg: m.PaymentRequest) -> bool:
        if not self._connected.is_set():
            return False
        return self._mqtt.publish(self.topics.payment_request, m.encode(msg), qos=1).rc == 0

    def _status(self, state: str) -> m.Status:
        with self._counter_lock:
            rejected = dict(self.counters.rejected)
        return m.Status(
            device=self.settings.device_id,
            store=self.settings.store_id,
            state=state,
            software=self.settings.software,
            outbox_depth=self._outbox_depth,
            at=self._now(),
            last_error=self.last_error,
            money_paused=self._admission.code or self.store_fault,
            rejected=rejected,
            rules_version=self._rules_version,
            blocked_version=self.blocked.version,
            last_ack_at=self.last_ack_at,
        )

    def status(self) -> m.Status:
        return self._status("online" if self.connected else "offline")

    def _heartbeat(self) -> None:
        now = time.monotonic()
        due = now - self._last_status >= self._heartbeat_s
        if not (due or (self._status_due and now - self._last_status >= 1.0)):
            return
        self._last_status = now
        self._status_due = False
        self._mqtt.publish(self.topics.status, m.encode(self._status("online")), qos=1, retain=True)

    # -- for tests and tools

    def wait_until(self, condition: Callable[[], bool], timeout: float, poll: bool = True) -> bool:
        """Poll (when this thread owns the store) until condition() holds or timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if poll and self._worker is None:
                self.poll()
            with self.lock:
                if condition():
                    return True
            time.sleep(0.01)
        return False

    def settings_in_force(self) -> SyncSettings:
        return replace(
            self.settings,
            heartbeat_s=self._heartbeat_s,
            batch_size=self._batch_size,
            ack_timeout_s=self._ack_timeout_s,
        )
