"""The HQ receiver: kiosk messages from a shared subscription into SQL, acknowledged after commit.

One receiver = one MQTT connection + one worker thread with its own database connection.
Several receivers (processes or machines) join the same share group and split the fleet; the
broker may hand one kiosk's batches to different receivers, so nothing here assumes order:
events are stored at once (idempotent by device and seq), applied in per-device seq order by
whoever holds the device's progress lock, and acknowledged with the exact seqs committed.

Order of work for each batch of MQTT messages:
  validate -> store in SQL and COMMIT -> PUBACK to the broker -> apply what is next in line
  -> publish `ack` (seqs committed, expect_seq) to each kiosk -> answer resyncs / publish changes.
A kiosk's live heartbeat (status "online") is answered with an ack of no seqs once stored: the
kiosk times its offline limit by HQ's answers, not by its broker connection.
A receiver killed at any point loses nothing: before the commit the kiosk still holds the
events (and resends after its ack timeout); after it, they are in SQL and a repeat is a no-op.
Manual PUBACK is for back-pressure: the broker hands a receiver only a few unacknowledged
messages at a time, so a slow database slows the flow instead of filling memory.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from kiosk.hq import devices as dev
from kiosk.hq.broker import BrokerSettings, connect
from kiosk.hq.db import Database, open_database
from kiosk.hq.events_wire import decode_events
from kiosk.hq.incidents import store_incidents
from kiosk.hq.ledger import (
    HQ_DEVICE,
    apply_pending,
    devices_with_pending,
    encode_events,
    note_devices,
    now_text,
    store_rows,
)
from kiosk.hq.member_answer import answer_member
from kiosk.hq.payments import PaymentBridge, Provider, no_provider
from kiosk.hq.publisher import Publisher
from kiosk.hq.schema import create_schema
from kiosk.hq.store_snapshots import answer_request
from kiosk.ledger.utc import utc_text
from kiosk.sync import messages as m
from kiosk.sync.log_limit import LogLimit
from kiosk.sync.topics import DeviceTopics, TopicError, hq_subscription, parse_topic

log = logging.getLogger(__name__)

STATUS_TOPIC = "kiosk/v1/+/+/status"  # not shared: every receiver keeps the device list current
RESERVED_DEVICES = frozenset({HQ_DEVICE})  # HQ's own device id in the ledger; no kiosk may use it


@dataclass
class ReceiverStats:
    messages: int = 0
    events: int = 0  # transactions received (duplicates included)
    applied: int = 0
    acks: int = 0
    conflicts: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> messages
    rejected_by_device: Counter = field(default_factory=Counter)  # device (from the topic) -> messages
    unlogged: Counter = field(default_factory=Counter)  # device -> rejections counted but not logged


@dataclass
class _Batch:
    events: list[tuple[str, m.Events]] = field(default_factory=list)  # (store, events)
    statuses: list[tuple[str, m.Status, bool]] = field(default_factory=list)  # (store, status, retained)
    resyncs: list[tuple[str, m.Resync]] = field(default_factory=list)
    payments: list[tuple[str, m.HqPaymentRequest]] = field(default_factory=list)
    incidents: list[tuple[str, m.Incidents]] = field(default_factory=list)
    snapshot_requests: list[tuple[str, m.SnapshotRequest]] = field(default_factory=list)
    member_requests: list[tuple[str, m.MemberRequest, object]] = field(default_factory=list)  # + MQTT 5 properties
    bodies: dict[int, dict] = field(default_factory=dict)  # id(an events message) -> its row texts, when read fast

    def event_bodies(self) -> dict[tuple[str, int], str]:
        """Every txn's row text, by (device, seq): the payload's own when events_wire read it."""
        out: dict[tuple[str, int], str] = {}
        for _, events in self.events:
            out.update(self.bodies.get(id(events)) or encode_events(events.txns))
        return out

    def singles(self) -> list[_Batch]:
        """One batch per stored message (resyncs and payments are not stored in the commit)."""
        return (
            [_Batch(events=[e]) for e in self.events]
            + [_Batch(incidents=[i]) for i in self.incidents]
            + [_Batch(statuses=[s]) for s in self.statuses]
        )

    def device(self) -> str:
        for items in (self.events, self.incidents, self.statuses):
            if items:
                return items[0][1].device
        return ""

    def describe(self) -> str:
        kind = "events" if self.events else "incidents" if self.incidents else "status"
        return f"{kind} from {self.device()}"


# Which _Batch list each kiosk->HQ message joins (tests/sync/test_message_registry.py: every UP type has one).
LANES: dict[type[m.Message], str] = {
    m.Events: "events",
    m.Status: "statuses",
    m.Resync: "resyncs",
    m.HqPaymentRequest: "payments",
    m.Incidents: "incidents",
    m.SnapshotRequest: "snapshot_requests",
    m.MemberRequest: "member_requests",
}


def _sender(topic: str) -> str:
    """The device segment of a kiosk topic (kiosk/v1/{store}/{device}/...), for per-device limits."""
    parts = topic.split("/")
    return parts[3][:64] if len(parts) > 3 else "?"


class Receiver:
    """Run with start()/stop() (in-process) or serve_forever() (the `kiosk hq serve` process)."""

    def __init__(
        self,
        db_url: str,
        broker: BrokerSettings,
        group: str = "hq",
        client_id: str | None = None,
        batch_max: int = 64,
        publish_every_s: float = 1.0,
        sweep_every_s: float = 1.0,
        payment_provider: Provider = no_provider,
    ):
        self.payment_provider = payment_provider
        self.db_url, self.broker, self.group = db_url, broker, group
        self.client_id = client_id
        self.batch_max = batch_max
        self.publish_every_s, self.sweep_every_s = publish_every_s, sweep_every_s
        self.stats = ReceiverStats()
        self.contacts = dev.Contacts()
        self._log_limit = LogLimit()
        self.stats.unlogged = self._log_limit.suppressed
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client = None
        self.db: Database | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Receiver:
        self.db = open_database(self.db_url)
        create_schema(self.db)
        self.client = connect(
            self.broker, self.client_id, manual_ack=True, on_connect=self._subscribe,
            on_message=lambda client, userdata, msg: self.inbox.put(msg),
        )
        self._thread = threading.Thread(target=self._work, name="hq-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        if self.db is not None:
            self.db.close()

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                if self._thread and not self._thread.is_alive():
                    raise RuntimeError(f"receiver worker stopped: {self.error}")
        finally:
            self.stop()

    def _subscribe(self, client) -> None:
        client.subscribe(
            [
                (hq_subscription("events", self.group), 1),
                (hq_subscription("resync", self.group), 1),
                (hq_subscription("payment_request", self.group), 1),
                (hq_subscription("incidents", self.group), 1),
                (hq_subscription("snapshot_request", self.group), 1),
                (hq_subscription("member_request", self.group), 1),
                (STATUS_TOPIC, 1),
            ]
        )
        self.ready.set()
        log.info("receiver %s subscribed (group %s)", self.client_id or "", self.group)

    # -- the worker --------------------------------------------------------------------------

    def _work(self) -> None:
        publisher = Publisher(self.db, self.client)
        self.bridge = PaymentBridge(self.db, self.client, self.payment_provider)
        self.publisher = publisher
        try:
            publisher.publish_all_retained()
        except Exception:  # noqa: BLE001 - the broker may be away; the loop retries
            log.exception("could not publish the retained lists at start")
        next_publish = next_sweep = 0.0
        while not self._stop.is_set():
            try:
                batch = [self.inbox.get(timeout=0.2)]
            except queue.Empty:
                batch = []
            while batch and len(batch) < self.batch_max:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            try:
                if batch:
                    self._handle(batch, publisher)
                now = time.monotonic()
                if now >= next_sweep:
                    next_sweep = now + self.sweep_every_s
                    self.stats.applied += apply_pending(self.db, devices_with_pending(self.db), wait=False).applied
                if now >= next_publish:
                    next_publish = now + self.publish_every_s
                    publisher.publish_pending()
                    publisher.prune_deltas()
            except Exception as exc:  # noqa: BLE001 - keep serving; the batch was not acknowledged
                self.error = exc
                log.exception("receiver batch failed; the kiosks will resend")
                time.sleep(1.0)
                publisher = self._reconnect_if_lost(publisher)

    def _reconnect_if_lost(self, publisher: Publisher) -> Publisher:
        """After a failure: if the database connection is gone (server restarted, network),
        open a new one; the unacknowledged messages come back as the kiosks resend."""
        try:
            self.db.one("SELECT 1")
            return publisher
        except Exception:  # noqa: BLE001 - any failure here means the connection is unusable
            pass
        try:
            self.db.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail too
            pass
        try:
            self.db = open_database(self.db_url)
        except Exception as exc:  # noqa: BLE001 - try again after the next failure
            log.warning("database still unreachable: %s", exc)
            return publisher
        log.info("database connection re-opened")
        self.bridge = PaymentBridge(self.db, self.client, self.payment_provider)
        return Publisher(self.db, self.client)

    def _handle(self, batch: list, publisher: Publisher) -> None:
        self.stats.messages += len(batch)
        parsed = self._parse(batch)
        received_at = now_text()

        try:
            parsed = self._admit(parsed, received_at)
            bodies = parsed.event_bodies()
            kept, incidents = self._commit(parsed, received_at, bodies)
        finally:
            # PUBACK only now, after the commit. When the commit failed, PUBACK too: the broker would
            # not redeliver on this connection anyway, and an unacknowledged message holds one of the
            # few in-flight slots it gives us. The kiosk resends: it has no HQ ack for these.
            for msg in batch:
                self.client.ack(msg.mid, msg.qos)
        self.stats.events += sum(len(e.txns) for _, e in kept)

        devices = {e.device for _, e in kept}
        known = {(t.device_id, t.seq): t for _, e in kept for t in e.txns}
        report = apply_pending(self.db, devices, wait=False, known=known)
        self.stats.applied += report.applied
        self.stats.conflicts += len(report.conflicts)
        self._send_acks(kept)
        self._answer_statuses(parsed.statuses)
        for store, batch in incidents:  # committed above: now the kiosk may move its cursor
            ack = m.IncidentsAck(batch.device, batch.next_offset, datetime.now(UTC))
            self.client.publish(DeviceTopics(store, batch.device).topic("incidents_ack"), m.encode(ack), qos=1)
        for store, resync in parsed.resyncs:
            publisher.answer_resync(store, resync.device, resync.what, resync.have_version)
        for store, request in parsed.snapshot_requests:
            answer_request(self.db, self.client, store, request)
        for store, request, properties in parsed.member_requests:
            answer_member(self.db, self.client, store, request, properties)
        for store, request in parsed.payments:
            self.bridge.handle(store, request)
        if report.blocked_changed:
            publisher.publish_pending()
        heard = [(e.device, store) for store, e in kept] + [(b.device, store) for store, b in incidents]
        self.contacts.touch_due(self.db, heard, received_at)

    def _admit(self, parsed: _Batch, received_at: str) -> _Batch:
        """Before the storing transaction, each in a statement of its own: refuse messages on
        another store's topic, register kiosks never seen, give new ones their progress row."""
        out = replace(parsed, events=[], incidents=[])
        for name in ("events", "incidents"):
            for store, message in getattr(parsed, name):
                try:
                    self.contacts.admit(self.db, message.device, store, received_at)
                except dev.WrongStore as exc:
                    self._reject(m.WRONG_TOPIC, str(exc), message.device)
                    continue
                getattr(out, name).append((store, message))
        fresh = self.contacts.without_progress(e.device for _, e in out.events)
        note_devices(self.db, fresh)
        self.contacts.have_progress(fresh)
        return out

    def _commit(self, parsed: _Batch, received_at: str, bodies: dict) -> tuple[list, list]:
        """Store the batch in one transaction. When that fails while the database still answers,
        store each message alone: a message the database cannot take costs only itself (rejected
        and counted), not the other kiosks' messages that shared its batch. When the database
        does not answer, raise: nothing is counted, the kiosks resend."""
        try:
            return self.db.run(lambda db: self._store(db, parsed, received_at, bodies))
        except Exception:
            if not self._db_answers():
                raise
        kept: list = []
        incidents: list = []
        for part in parsed.singles():
            try:
                part_kept, part_incidents = self.db.run(lambda db, part=part: self._store(db, part, received_at, bodies))
            except Exception as exc:
                if not self._db_answers():
                    raise
                detail = f"{part.describe()}: could not be stored: {type(exc).__name__}: {exc}"
                self._reject(m.MALFORMED, detail, part.device())
                continue
            kept += part_kept
            incidents += part_incidents
        return kept, incidents

    def _db_answers(self) -> bool:
        try:
            self.db.one("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means the database, not the message
            return False
        return True

    def _store(self, db: Database, parsed: _Batch, received_at: str, bodies: dict) -> tuple[list, list]:
        """The SQL work of a batch (already admitted, its event rows encoded in `bodies`); may run
        more than once (db.run retries), so it only collects."""
        txns = [t for _, events in parsed.events for t in events.txns]
        aside = store_rows(db, txns, received_at, bodies) if txns else set()
        kept = [
            (store, replace(events, txns=tuple(t for t in events.txns if (t.device_id, t.seq) not in aside)))
            if aside else (store, events)  # not applied by HQ: neither acknowledged nor handed to apply as known
            for store, events in parsed.events
        ]
        incidents = []
        for store, batch in parsed.incidents:
            store_incidents(db, batch, received_at)
            incidents.append((store, batch))
        for store, status, retained in parsed.statuses:
            # Live: HQ's clock (a last will carries the time it was set, long before it fires).
            # Retained, replayed at subscribe: the kiosk's own time, never in the future.
            when = min(status.at, datetime.now(UTC)) if retained else datetime.now(UTC)
            at = utc_text(when)
            dev.record_status(
                db, status.device, store, status.state == "online", status.outbox_depth,
                status.software, status.last_error, at,
            )
            dev.record_health(db, status.device, at, status.body())
        return kept, incidents

    def _parse(self, batch: list) -> _Batch:
        out = _Batch()
        for msg in batch:
            try:
                topic = parse_topic(msg.topic)
                if not topic.up:
                    raise m.MessageError(topic.message_type, "topic", "not a kiosk->HQ topic", m.WRONG_TOPIC)
                if topic.device in RESERVED_DEVICES:
                    raise m.MessageError(topic.message_type, "topic", "reserved device id", m.WRONG_TOPIC)
                fast = decode_events(msg.payload) if topic.message_type == "events" else None
                decoded = fast.events if fast else m.decode(msg.payload, topic.message_type)
                if getattr(decoded, "device", topic.device) != topic.device:
                    raise m.MessageError(topic.message_type, "device", "differs from the topic's device", m.WRONG_TOPIC)
                if isinstance(decoded, m.Status) and decoded.store != topic.store:
                    raise m.MessageError("status", "store", "differs from the topic's store", m.WRONG_TOPIC)
            except TopicError as exc:
                self._reject(m.WRONG_TOPIC, str(exc), _sender(msg.topic))
                continue
            except m.MessageError as exc:
                self._reject(exc.reason, f"{msg.topic[:120]}: {exc}", _sender(msg.topic))
                continue
            lane = LANES.get(type(decoded))
            if lane is None:
                log.info("ignoring %s from %s (no HQ handler)", topic.message_type, topic.device)
                continue
            extra = {"statuses": (bool(msg.retain),), "member_requests": (getattr(msg, "properties", None),)}
            item = (topic.store, decoded, *extra.get(lane, ()))
            getattr(out, lane).append(item)
            if fast:
                out.bodies[id(decoded)] = fast.bodies
        return out

    def _reject(self, reason: str, detail: str, device: str) -> None:
        """Count every rejection; log at most LOG_REJECTS_PER_MINUTE a minute per device (the
        rest are counted in stats.unlogged), as the kiosk does."""
        self.stats.rejected[reason] += 1
        self.stats.rejected_by_device[device] += 1
        loud, missed = self._log_limit.allow(device)
        if missed:
            log.warning("%d more rejected messages from %s were not logged", missed, device[:64])
        if loud:
            log.warning("rejected message from %s (%s): %s", device[:64], reason, detail[:300])

    def _send_acks(self, kept: list[tuple[str, m.Events]]) -> None:
        seqs: dict[tuple[str, str], set[int]] = {}
        for store, events in kept:
            seqs.setdefault((store, events.device), set()).update(t.seq for t in events.txns)
        seqs = {key: committed for key, committed in seqs.items() if committed}
        marks = self._applied_marks([d for _, d in seqs])
        now = datetime.now(UTC)
        for (store, device), committed in seqs.items():
            self._publish_ack(store, m.Ack(device, m.ranges_of(committed), now, expect_seq=marks.get(device, 0) + 1))
            self.stats.acks += 1

    def _answer_statuses(self, statuses: list[tuple[str, m.Status, bool]]) -> None:
        """Answer each live heartbeat, once stored, with an ack of no seqs: a kiosk reaching only the
        broker must not count HQ as reachable, so HQ's answers are what its offline limit is timed
        by (kiosk/sync/hq_contact.py). Replayed (retained) statuses and last wills get none."""
        live = sorted({(store, s.device) for store, s, retained in statuses if not retained and s.state == "online"})
        marks = self._applied_marks([d for _, d in live])
        now = datetime.now(UTC)
        for store, device in live:
            self._publish_ack(store, m.Ack(device, (), now, expect_seq=marks.get(device, 0) + 1))

    def _applied_marks(self, devices: list[str]) -> dict[str, int]:
        """Each device's applied high water in HQ's ledger (absent: nothing applied yet)."""
        if not devices:
            return {}
        rows = self.db.all(
            f"SELECT device_id, applied_seq FROM progress WHERE device_id IN {self.db.in_list(devices)}", devices
        )
        return {device: int(seq) for device, seq in rows}

    def _publish_ack(self, store: str, ack: m.Ack) -> None:
        self.client.publish(DeviceTopics(store, ack.device).ack, m.encode(ack), qos=1)
