"""A member not in the replica, tapped while online: asked of HQ by MQTT 5 request/response.

The request carries a response topic (the kiosk's own `member` topic, which its broker ACL
already lets it read) and random correlation data; the answer comes back with the same
correlation data and is taken on the network thread (link.on_response), which only files it and
wakes the session. Nothing waits: the session shows "checking the card" and asks `outcome()` at
each pump, on its own thread, until the answer is there (the rows are then kept in the store,
journalled like an account delta, so the next tap reads them from disk, and HQ notes the member
as seen at this store) or `timeout_s` (300 ms: a LAN round trip through the broker and HQ is a
few milliseconds; past that the member is better served by the counter) has passed. An answer
that comes after the tap gave up, but within GRACE_S, is still kept (`tick`, on the sync
client's poll): the member's next tap finds them on disk."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from kiosk.store.errors import StoreError
from kiosk.sync import messages as m

FOUND, NOT_FOUND, OFFLINE, TIMEOUT = "found", "not_found", "offline", "timeout"
WAITING = ""
TIMEOUT_S = 0.3
GRACE_S = 10.0  # a late answer is still kept this long after the question was asked


class Question:
    """One tap's question to HQ about card `uid`; `outcome()` and `give_up()` on the session's thread."""

    def __init__(self, fetch: MemberFetch | None, uid: str, asked_at: float, wake: Callable[[], None] | None,
                 settled: str = WAITING, correlation: bytes = b"") -> None:
        self.fetch, self.uid, self.asked_at, self.wake = fetch, uid, asked_at, wake
        self.correlation = correlation  # the MQTT 5 correlation data its answer comes back with
        self.answer: m.MemberAnswer | None = None  # set on the network thread
        self.settled = settled
        self.waited_on = True  # False once the tap stopped waiting (timed out, card lifted)

    def outcome(self) -> str:
        """WAITING (""), or FOUND (the rows are in the store now), NOT_FOUND, OFFLINE or TIMEOUT."""
        if not self.settled and self.fetch is not None:
            self.settled = self.fetch.settle(self)
        return self.settled

    def give_up(self) -> None:
        """The tap is over (card lifted, another card): a late answer is kept all the same."""
        self.waited_on = False


class MemberFetch:
    """A part of the SyncClient (`client`)."""

    def __init__(self, client: Any, timeout_s: float = TIMEOUT_S, grace_s: float = GRACE_S) -> None:
        self.client, self.timeout_s, self.grace_s = client, timeout_s, grace_s
        self._asked: dict[bytes, Question] = {}
        self._lock = threading.Lock()
        client._link.on_response = self.on_response

    def on_response(self, correlation: bytes, topic: str, payload: bytes) -> bool:
        """Network thread: an answer to a question still kept is filed with it (True); anything
        else is not ours (it goes the ordinary way and is rejected as out of date)."""
        with self._lock:
            question = self._asked.get(correlation)
        if question is None:
            return False
        decoded = self.client._decode(topic, payload)  # (rejected and counted there when malformed)
        if isinstance(decoded, m.MemberAnswer) and decoded.card_uid != question.uid:
            self.client.reject(topic, m.OUT_OF_DATE, "card_uid", "an answer about another card")
        elif isinstance(decoded, m.MemberAnswer):
            question.answer = decoded
            if question.wake is not None:
                question.wake()
        return True

    def ask(self, uid: str, wake: Callable[[], None] | None = None) -> Question:
        """Publish the question and return at once; `wake` is called (network thread) when the
        answer is in. A question asked offline is settled as OFFLINE."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = self.client
        if not (client.connected and client.subscribed):
            return Question(None, uid, client._clock(), None, OFFLINE)
        correlation = secrets.token_bytes(16)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = client.topics.topic("member")
        props.CorrelationData = correlation
        question = Question(self, uid, client._clock(), wake, correlation=correlation)
        with self._lock:
            self._asked[correlation] = question
        request = m.MemberRequest(client.settings.device_id, uid, client._now())
        topic = client.topics.topic("member_request")
        if client._link.publish(topic, m.encode(request), request.SPEC.qos, False, properties=props) != 0:
            with self._lock:
                self._asked.pop(correlation, None)
            question.settled = OFFLINE
        return question

    def settle(self, question: Question) -> str:
        """The question's outcome now: its answer taken in (rows kept), or TIMEOUT, or WAITING."""
        answer = question.answer
        if answer is not None:
            self._forget(question)
            return self._keep(answer)
        if self.client._clock() - question.asked_at >= self.timeout_s:
            question.waited_on = False  # a late answer is still kept (tick)
            return TIMEOUT
        return WAITING

    def tick(self) -> None:
        """On the sync client's poll: keep the late answers of questions nobody waits on, and
        forget questions older than the grace time (their answers are then rejected as late)."""
        now = self.client._clock()
        with self._lock:
            idle = [(c, q) for c, q in self._asked.items() if not q.waited_on]
        for correlation, question in idle:
            answer = question.answer
            if answer is None and now - question.asked_at < self.grace_s:
                continue
            with self._lock:
                self._asked.pop(correlation, None)
            if answer is not None:
                try:
                    self._keep(answer)
                except StoreError as exc:  # e.g. disk full: the member's next tap asks again
                    self.client._note_error(f"store: a late member answer not kept: {exc}")

    def fetch(self, uid: str, timeout_s: float | None = None) -> str:
        """Ask and wait (a tool's or a test's way; the session never blocks on it)."""
        done = threading.Event()
        question = self.ask(uid, done.set)
        if not question.settled:
            done.wait(self.timeout_s if timeout_s is None else timeout_s)
        outcome = question.outcome()
        if outcome == WAITING:
            question.give_up()
            return TIMEOUT
        return outcome

    def _forget(self, question: Question) -> None:
        with self._lock:
            self._asked.pop(question.correlation, None)

    def _keep(self, answer: m.MemberAnswer) -> str:
        rows = answer.rows
        if not any(c.uid == answer.card_uid for c in rows.cards):
            return NOT_FOUND
        store = self.client.store
        store.take_hq_rows(store.hq_feed.delta_seq, rows.members, rows.cards, rows.accounts, answer.applied)
        return FOUND

    def late_answer(self, msg: m.MemberAnswer, topic: str) -> None:
        """An answer to a question forgotten (past the grace time, or a restart): not used."""
        self.client.reject(topic, m.OUT_OF_DATE, "card_uid", "an answer nobody waits for any more")
