"""The kiosk's MQTT sync client: drains the outbox to HQ and takes in what HQ sends.

Two threads. The network thread owns the MQTT connection (connect, backoff with jitter, read
and write the socket) and only queues what arrives. Everything that touches the store happens
in `poll()`, called by the store's owner (the app's main loop), or by `start_worker()` when
sync owns the store alone; but for a store snapshot's chunks, written on a third thread
(chunk_writer.py) into a file the serving replica never reads. An outbox entry is forgotten
only on HQ's `ack`, which HQ sends after its own commit; the broker's PUBACK means nothing here.

This module wires the parts and handles what arrives; the parts are elsewhere: the paho
connection (link.py), what to send and forget (outbox_sender.py, incidents.IncidentSender, both
on the injected clock), the disk-space pause (admission.py), the documents HQ sends to keep
(hq_documents.py), the per-store replica (store_feed.py) and the messages (messages/)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.ledger.txn import txn_id_for
from kiosk.payment.hq_mqtt import MqttPayments
from kiosk.store.errors import StoreError
from kiosk.sync import messages as m
from kiosk.sync.admission import OK, Admission, check_admission
from kiosk.sync.blocked import BlockedCards
from kiosk.sync.hq_contact import HqContact
from kiosk.sync.hq_documents import HqDocuments
from kiosk.sync.incidents import META_KEY as INCIDENTS_KEY
from kiosk.sync.incidents import IncidentSender, read_incidents
from kiosk.sync.link import MqttLink
from kiosk.sync.log_limit import LogLimit
from kiosk.sync.member_fetch import MemberFetch
from kiosk.sync.messages.spec import DEVICE
from kiosk.sync.outbox_sender import OutboxSender
from kiosk.sync.settings import SyncSettings, SyncStore
from kiosk.sync.store_feed import StoreFeed
from kiosk.sync.topics import DeviceTopics, TopicError, parse_topic

log = logging.getLogger("kiosk.sync")

CONFIG_KEY = "sync.config"
LAST_ACK_KEY = "sync.last_ack_at"  # read by `kiosk doctor` as the last HQ contact
INCOMING_QUEUE = 10_000
NEVER = float("-inf")  # a clock time before any other
__all__ = ["SyncClient", "SyncSettings", "SyncStore"]


@dataclass
class _Counters:
    rejected: Counter = field(default_factory=Counter)
    published_batches: int = 0
    resends: int = 0
    acked: int = 0


class SyncClient:
    """The kiosk's side of the protocol. `clock` (monotonic seconds) times ack timeouts, heartbeats
    and checks; `now` stamps messages. Tests pass their own to move time without waiting."""

    def __init__(
        self,
        store: SyncStore,
        settings: SyncSettings,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store, self.settings = store, settings
        self.topics = DeviceTopics(settings.store_id, settings.device_id)
        self._now = now or (lambda: datetime.now(UTC))
        self._clock = clock
        self.lock = threading.RLock()  # held around every store call made by sync
        self.payments = MqttPayments(self)
        self.counters = _Counters()
        self._counter_lock = threading.Lock()  # rejections are counted on both threads
        self._log_limit = LogLimit(clock=clock)
        self.last_error = ""
        self.store_fault = ""  # the session's: why the store cannot save ("" when it can)
        # the app's: the reader's and the printer's one-line states for the status (wiring sets it)
        self.device_state: Callable[[], tuple[str, str]] | None = None
        last_ack = store.meta_get(LAST_ACK_KEY)
        self.last_ack_at: datetime | None = datetime.fromisoformat(last_ack) if isinstance(last_ack, str) else None
        self.hq_contact = HqContact(clock, self.last_ack_at, self._now())  # for the offline limit
        self.hq_applied_through = 0
        self._admission: Admission = OK
        self._outbox_depth = store.outbox_depth()  # cached by poll(): the network thread never reads the store
        self._rules_version = store.ledger.rules.version
        self._admission_checked = NEVER
        self._incoming: queue.Queue = queue.Queue(maxsize=INCOMING_QUEUE)
        self._stop_worker = threading.Event()
        self._worker: threading.Thread | None = None
        self._started = False
        self._last_status = NEVER  # clock time of the last status published
        self.status_due = True
        self._incidents_path = settings.incidents_file or Path(settings.data_dir) / "incidents.jsonl"
        self._incidents = IncidentSender(clock)
        self._heartbeat_s = settings.heartbeat_s
        self.outbox = OutboxSender(clock, settings.batch_size, settings.window_batches, settings.ack_timeout_s,
                                   on_resend=self._resending)
        self._apply_config(store.meta_get(CONFIG_KEY))
        self.documents = HqDocuments(self, self._now())  # rules, lost cards, v1 snapshot, notes
        self.feed = StoreFeed(self)  # protocol v2's per-store replica (store_feed.py)
        self._handlers: dict[type[m.Message], Callable[[Any, str], None]] = {
            m.Ack: self._handle_ack,
            m.ConfigUpdate: self._handle_config,
            m.IncidentsAck: self._handle_incidents_ack,
            **self.documents.handlers(),
            **self.feed.handlers(),
        }
        # taken on the network thread, at once: the payment port is waiting on another thread
        self._network_handlers: dict[type[m.Message], Callable[[Any, str], None]] = {
            m.PaymentConfirmation: self._handle_payment,
        }
        self._link = MqttLink(
            settings,
            [(t, 1) for t in self.topics.kiosk_subscriptions()],
            on_message=self._on_message,
            last_will=lambda: (self.topics.status, m.encode(self._status("offline"))),
            on_error=self._note_error,
        )
        self._subscribed = self._link.subscribed
        self.members = MemberFetch(self)  # protocol v2: a member fetched from HQ at a tap
        self._handlers[m.MemberAnswer] = self.members.late_answer

    def handled_types(self) -> set[str]:
        """The message types this kiosk takes in (tests check it against the registry)."""
        return {cls.TYPE for cls in (*self._handlers, *self._network_handlers)}

    # ------------------------------------------------------------------ connection

    def start(self) -> None:
        """Start the network thread (connects, and reconnects with backoff)."""
        self._stop_worker.clear()
        self._started = True
        self._link.start()

    def start_worker(self, interval_s: float = 0.02) -> None:
        """Also run poll() in a thread: only when nothing else uses the store, or uses `self.lock`."""
        if not self._started:
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
        self._stop_worker.set()
        if self._worker:
            self._worker.join(timeout)
        self.feed.stop()
        self._link.stop((self.topics.status, m.encode(self._status("offline"))), timeout)
        self._worker = None
        self._started = False

    @property
    def blocked(self) -> BlockedCards:
        return self.documents.blocked

    @property
    def notes(self) -> m.StoreNotes:
        return self.documents.notes

    @property
    def connected(self) -> bool:
        return self._link.connected.is_set()

    @property
    def subscribed(self) -> bool:
        return self._link.subscribed.is_set()

    def _publish(self, topic: str, msg: m.Message) -> int:
        """Publish with the QoS and retain flag of the message's spec (a kiosk publishes only on its
        own device topics); paho's return code, 0 when queued."""
        return self._link.publish(topic, m.encode(msg), msg.SPEC.qos, msg.SPEC.retained(DEVICE))

    def _on_message(self, topic: str, payload: bytes) -> None:
        """Network thread: check and decode here (a big snapshot never stalls the screen's thread);
        payment confirmations go straight to the payment port; the rest waits for poll()."""
        decoded = self._decode(topic, payload)
        if decoded is None:
            return
        handler = self._network_handlers.get(type(decoded))
        if handler is not None:
            handler(decoded, topic)
            return
        try:
            self._incoming.put_nowait((topic, decoded))
        except queue.Full:
            self.reject(topic, "overload", "-", "incoming queue full")

    def _decode(self, topic: str, payload: bytes) -> m.Message | None:
        try:
            parsed = parse_topic(topic)
        except TopicError as exc:
            self.reject(topic, m.WRONG_TOPIC, "topic", exc.problem)
            return None
        if parsed.up or (parsed.scope == "device" and parsed.device != self.settings.device_id):
            self.reject(topic, m.WRONG_TOPIC, "topic", "not a topic of this kiosk")
            return None
        if parsed.scope == "store" and parsed.store != self.settings.store_id:
            self.reject(topic, m.WRONG_TOPIC, "topic", "another store's topic")
            return None
        try:
            return m.decode(bytes(payload), parsed.message_type)
        except m.MessageError as exc:
            self.reject(topic, exc.reason, exc.field, exc.problem)
            return None

    def _note_error(self, text: str) -> None:
        if text != self.last_error:
            log.warning("sync: %s", text)
        self.last_error = text[:200]
        self.status_due = True

    # ------------------------------------------------------------------ the owner's side

    def poll(self) -> bool:
        """Do what is due: handle incoming messages, publish the next batches, heartbeat.
        Returns True when there may be more to do right away."""
        with self.lock:
            busy = self._handle_incoming()
            self._check_admission()
            if self.connected and self.subscribed:
                busy = self._drain() or busy
                try:
                    self._drain_incidents()
                except StoreError as exc:
                    self._note_error(f"store: {exc}")
                self._heartbeat()
            self.feed.tick(self.connected and self.subscribed)
            self.members.tick()
            return busy

    @property
    def admission(self) -> Admission:
        """Whether new money transactions may be taken now (the session asks before each)."""
        return self._admission

    @property
    def money_paused(self) -> str:
        return "" if self._admission.money_ok else self._admission.code

    def _check_admission(self, force: bool = False) -> None:
        now = self._clock()
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
            self.status_due = True

    # -- outbox

    def _drain(self) -> bool:
        if self._link.new_session.is_set():
            self._link.new_session.clear()
            self.outbox.rewind("reconnected")
            self._incidents.idle()
            self._last_status = NEVER  # say "online" at once: the broker may have published the will
        for batch in self.outbox.due(self.store.outbox(limit=self.outbox.window)):
            rc = self._publish(self.topics.events, m.Events(self.settings.device_id, batch, self._now()))
            if rc != 0:
                self._note_error(f"publish failed: rc {rc}")
                return False
            self.outbox.published(batch)
            self.counters.published_batches += 1
        return False

    def _resending(self, why: str) -> None:
        log.info("resending unacknowledged transactions: %s", why)
        self.counters.resends += 1

    def _handle_ack(self, ack: m.Ack, topic: str) -> None:
        device = self.settings.device_id
        if ack.device != device:
            self.reject(topic, m.WRONG_TOPIC, "device", f"ack for {ack.device}")
            return
        own_last = self.store.ledger.state.next_seq(device) - 1
        oldest = self.store.outbox(limit=1)
        floor = oldest[0].seq if oldest else own_last + 1  # seqs below it are forgotten already
        verdict = self.outbox.judge_ack(ack.ranges, own_last, floor)
        if verdict.problem:
            self.reject(topic, m.OUT_OF_DATE, "ranges", verdict.problem)
            return
        save = self.hq_contact.heard()  # any ack is HQ's answer, one of no seqs too (a heartbeat's)
        self.last_ack_at = self._now()
        new = self.store.ack(txn_id_for(device, s) for s in verdict.forget) if verdict.forget else 0
        if new:
            self.counters.acked += new
            self.outbox.progressed()
        if new or save:
            self.store.meta_put(LAST_ACK_KEY, self.last_ack_at.isoformat())
        if ack.expect_seq:
            self.hq_applied_through = ack.expect_seq - 1  # for diagnostics; resends are driven by the ack timeout

    # -- incidents

    def _drain_incidents(self) -> None:
        """One incidents message in flight at a time; resent after the ack timeout."""
        if not self._incidents.due(self.outbox.ack_timeout_s):
            return
        through = self.store.meta_get(INCIDENTS_KEY) or 0
        batch = read_incidents(self._incidents_path, through)
        if batch.skipped:
            with self._counter_lock:
                self.counters.rejected["bad_incident"] += batch.skipped
        if not batch.items:
            if batch.next_offset > through:  # only unreadable lines: nothing for HQ, move past them
                self.store.meta_put(INCIDENTS_KEY, batch.next_offset)
            self._incidents.idle()
            return
        msg = m.Incidents(self.settings.device_id, batch.items, batch.next_offset, self._now())
        if self._publish(self.topics.topic("incidents"), msg) == 0:
            self._incidents.sent(batch.next_offset)

    def _handle_incidents_ack(self, ack: m.IncidentsAck, topic: str) -> None:
        through = self.store.meta_get(INCIDENTS_KEY) or 0
        try:
            size = self._incidents_path.stat().st_size
        except OSError:
            size = 0
        if ack.device != self.settings.device_id or ack.through > size:
            self.reject(topic, m.OUT_OF_DATE, "through", f"{ack.through} is beyond the incident log ({size} bytes)")
            return
        if ack.through > through:
            self.store.meta_put(INCIDENTS_KEY, ack.through)
        self._incidents.acked(ack.through)

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
        handler = self._handlers.get(type(msg)) or self._network_handlers.get(type(msg))
        if handler is None:
            self.reject(topic, m.WRONG_TOPIC, "type", f"{msg.TYPE} is not for a kiosk")
            return
        handler(msg, topic)

    def _handle_payment(self, msg: m.PaymentConfirmation, topic: str) -> None:
        problem = self.payments.deliver(msg)
        if problem:
            self.reject(topic, m.OUT_OF_DATE, "payment_ref", problem)

    def _handle_config(self, msg: m.ConfigUpdate, topic: str) -> None:
        stored = self.store.meta_get(CONFIG_KEY) or {}
        if msg.version <= stored.get("version", 0):
            if msg.version < stored.get("version", 0):
                self.reject(topic, m.OUT_OF_DATE, "version", f"config v{msg.version} older than held")
            return
        value = {"version": msg.version, **{k: getattr(msg, k) for k in m.CONFIG_LIMITS}}
        self.store.meta_put(CONFIG_KEY, value)
        self._apply_config(value)

    def _apply_config(self, value: object) -> None:
        if not isinstance(value, dict):
            return
        self._heartbeat_s = float(value.get("heartbeat_s", self._heartbeat_s))
        self.outbox.batch_size = int(value.get("batch_size", self.outbox.batch_size))
        self.outbox.ack_timeout_s = float(value.get("ack_timeout_s", self.outbox.ack_timeout_s))

    def reject(self, topic: str, reason: str, field_name: str, problem: str) -> None:
        """Count, remember for the status, and log (at most LOG_REJECTS_PER_MINUTE lines a minute:
        a flood of bad messages must not fill the SD card with logs)."""
        with self._counter_lock:
            self.counters.rejected[reason] += 1
        loud, missed = self._log_limit.allow("hq")
        if missed:
            log.warning("%d more rejected messages were not logged", missed)
        self.last_error = f"rejected {topic.rsplit('/', 1)[-1]}: {field_name}: {problem}"[:200]
        self.status_due = True
        if loud:
            log.warning("rejected message on %s: %s (%s: %s)", topic[:120], reason, field_name, problem[:200])

    # -- outgoing besides events

    def publish_resync(self, what: str, have_version: int, reason: str) -> None:
        self._publish(self.topics.resync, m.Resync(self.settings.device_id, what, have_version, reason[:200], self._now()))

    def publish_payment_request(self, msg: m.HqPaymentRequest) -> bool:
        if not self.connected:
            return False
        return self._publish(self.topics.payment_request, msg) == 0

    def _devices(self) -> tuple[str, str]:
        """The reader's and printer's states, or ("", "") when unknown: a status is never held up."""
        try:
            reader, printer = self.device_state() if self.device_state else ("", "")
        except Exception:  # noqa: BLE001 - the app's callback; the status goes out without it
            return "", ""
        return str(reader)[:120], str(printer)[:120]

    def _status(self, state: str) -> m.Status:
        with self._counter_lock:
            rejected = dict(self.counters.rejected)
        reader, printer = self._devices()
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
            reader=reader,
            printer=printer,
        )

    def status(self) -> m.Status:
        return self._status("online" if self.connected else "offline")

    def _heartbeat(self) -> None:
        now = self._clock()
        due = now - self._last_status >= self._heartbeat_s
        if not (due or (self.status_due and now - self._last_status >= 1.0)):
            return
        self._last_status = now
        self.status_due = False
        self._publish(self.topics.status, self._status("online"))

    def hq_answers_within(self) -> timedelta:
        """HQ answers each heartbeat: silent longer than two beats and an ack timeout, it is away."""
        return timedelta(seconds=2 * self._heartbeat_s + self.outbox.ack_timeout_s)

    @property
    def status_published(self) -> bool:
        """Whether an online status went out since the last (re)connect."""
        return self._last_status != NEVER

    # -- for tests and tools

    def wait_until(self, condition: Callable[[], bool], timeout: float, poll: bool = True) -> bool:
        """Poll (when this thread owns the store) until condition() holds or timeout passes
        (real time: the network thread works in real time whatever the clock)."""
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
            batch_size=self.outbox.batch_size,
            ack_timeout_s=self.outbox.ack_timeout_s,
        )
