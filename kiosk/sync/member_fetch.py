"""A member not in the replica, tapped while online: asked of HQ by MQTT 5 request/response.

The request carries a response topic (the kiosk's own `member` topic, which its broker ACL
already lets it read) and random correlation data; the answer comes back with the same
correlation data, is taken on the network thread (link.on_response) and handed to the waiting
tap, which waits at most `timeout_s` (300 ms: a LAN round trip through the broker and HQ is a few
milliseconds; past that, the member is better served by the counter than by a frozen screen).
The rows are then kept in the store (journalled, like an account delta), so the next tap reads
them from disk, and HQ notes the member as seen at this store (its deltas follow)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from kiosk.sync import messages as m

FOUND, NOT_FOUND, OFFLINE, TIMEOUT = "found", "not_found", "offline", "timeout"
TIMEOUT_S = 0.3


@dataclass
class _Slot:
    event: threading.Event = field(default_factory=threading.Event)
    answer: m.MemberAnswer | None = None


class MemberFetch:
    """A part of the SyncClient (`client`)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._waiting: dict[bytes, _Slot] = {}
        self._lock = threading.Lock()
        client._link.on_response = self.on_response

    def on_response(self, correlation: bytes, topic: str, payload: bytes) -> bool:
        """Network thread: an answer someone waits for is theirs (True); anything else is not."""
        with self._lock:
            slot = self._waiting.get(correlation)
        if slot is None:
            return False
        decoded = self.client._decode(topic, payload)
        if isinstance(decoded, m.MemberAnswer):
            slot.answer = decoded
        slot.event.set()
        return True

    def fetch(self, uid: str, timeout_s: float = TIMEOUT_S) -> str:
        """Ask HQ for the member of card `uid` and keep the rows; FOUND, NOT_FOUND, OFFLINE or TIMEOUT."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = self.client
        if not (client.connected and client.subscribed):
            return OFFLINE
        correlation = secrets.token_bytes(16)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = client.topics.topic("member")
        props.CorrelationData = correlation
        slot = _Slot()
        with self._lock:
            self._waiting[correlation] = slot
        try:
            request = m.MemberRequest(client.settings.device_id, uid, client._now())
            topic = client.topics.topic("member_request")
            if client._link.publish(topic, m.encode(request), request.SPEC.qos, False, properties=props) != 0:
                return OFFLINE
            slot.event.wait(timeout_s)
        finally:
            with self._lock:
                self._waiting.pop(correlation, None)
        answer = slot.answer
        if answer is None or answer.card_uid != uid:
            return TIMEOUT
        rows = answer.rows
        if not any(c.uid == uid for c in rows.cards):
            return NOT_FOUND
        store = client.store
        store.take_hq_rows(store.hq_feed.delta_seq, rows.members, rows.cards, rows.accounts, answer.applied)
        return FOUND

    def late_answer(self, msg: m.MemberAnswer, topic: str) -> None:
        """An answer after its tap gave up waiting: not used (the next tap asks again)."""
        self.client._reject(topic, m.OUT_OF_DATE, "card_uid", "an answer nobody waits for any more")
