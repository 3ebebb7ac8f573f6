"""The kiosk session: the one place a card tap, a touch and the clock come in, from a tap to "done".

The session keeps the plumbing: the reader's inbox, which flow a tap or a lifted card belongs
to, timeouts, the purse hint, publishing views. What each screen flow does (top-up, redeem,
PIN, sign-up, check-in and rating, gifts, staff) lives in its own module under
kiosk/session/flows/, which the session asks through the hooks of flows/base.py.

Threading: the reader thread only calls `post()` (a thread-safe queue). Everything else —
`pump()`, the member's actions, subscriber callbacks — runs on one driving thread (Kivy's main
thread through Clock, or a test). A lock makes a stray call from another thread safe too.
Every action returns True when it was accepted and False when it did not fit the current state
(a stale or double tap): a refused action changes nothing."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from statemachine.exceptions import TransitionNotAllowed

from kiosk.ledger.clock_trust import TRUSTED, ClockVerdict
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.rules import Rules
from kiosk.ledger.txn import Txn
from kiosk.payment.port import PaymentMethod
from kiosk.receipt.printer import NoPrinter, ReceiptPrinter
from kiosk.receipt.receipt import Shop
from kiosk.session.charge_actions import ChargeActions
from kiosk.session.clock import Clock, SystemClock
from kiosk.session.detail_actions import DetailActions
from kiosk.session.flow import Visit
from kiosk.session.flows import FLOWS
from kiosk.session.flows.base import F, FlowPart
from kiosk.session.flows.card_write import CardWrite
from kiosk.session.flows.cards import CardChecks
from kiosk.session.flows.charge import Charge
from kiosk.session.flows.engagement import Engagement
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.signup import SignUp
from kiosk.session.flows.staff import Staff
from kiosk.session.incidents import Incident
from kiosk.session.inputs import (
    CardIssued,
    CardKind,
    CardPresented,
    CardRead,
    CardRemoved,
    PurseWritten,
    ReaderStatus,
    SessionInput,
    TillCall,
    TillCancel,
    TillCharge,
)
from kiosk.session.machine import SessionMachine
from kiosk.session.member_actions import MemberActions
from kiosk.session.ports import (  # noqa: F401 (importable from here, as docs/session-api.md says)
    CardWriter,
    Feedback,
    IncidentSink,
    MemoryIncidents,
    NoFeedback,
    StoreLike,
)
from kiosk.session.present import build_view
from kiosk.session.purse_hint import PurseHint
from kiosk.session.settings import SessionSettings
from kiosk.session.states import MESSAGE_STATES, S, SessionState
from kiosk.session.store_fault import StoreHealth
from kiosk.session.sync_link import SyncLink
from kiosk.session.view import Message, SessionView

log = logging.getLogger(__name__)


class Session(MemberActions, DetailActions, ChargeActions, PurseHint):
    def __init__(
        self,
        store: StoreLike,
        *,
        clock: Clock | None = None,
        payments: Sequence[PaymentMethod] = (),
        card_writer: CardWriter | None = None,
        incidents: IncidentSink | None = None,
        feedback: Feedback | None = None,
        settings: SessionSettings | None = None,
        reload_rules: Callable[[], Rules] | None = None,
        sync: SyncLink | None = None,
        printer: ReceiptPrinter | None = None,
        shop: Shop | None = None,
        clock_trust: Callable[[datetime], ClockVerdict] | None = None,
    ):
        self.store = store
        self._checkpointing: threading.Thread | None = None
        self.clock_trust = clock_trust  # None: the clock is always believed (tests, the demo)
        self.store_health = StoreHealth()  # money pauses while the store cannot save
        self.store_health.listener = lambda reason: self.sync and self.sync.report_store_fault(reason)
        self.clock = clock or SystemClock()
        self.payments = {p.name: p for p in payments}
        self.card_writer = card_writer
        self.incidents = incidents or MemoryIncidents()
        self.feedback = feedback or NoFeedback()
        self.settings = settings or SessionSettings()
        self.reload_rules = reload_rules
        self.sync = sync
        self.printer = printer or NoPrinter()  # receipts, after the commit (kiosk/receipt/)
        self.shop = shop or Shop(store_name="", device_id=store.ledger.device_id)
        self.visit = Visit()
        self._flows: dict[type[FlowPart], FlowPart] = {kind: kind(self) for kind in FLOWS}
        self._owner: dict[SessionState, FlowPart] = {s: f for f in self._flows.values() for s in f.states}
        self._no_flow = FlowPart(self)  # the hooks' defaults, for states no flow owns (done, notice)
        self.machine = self._new_machine()
        self._lock = threading.RLock()
        self._inbox: queue.SimpleQueue[SessionInput] = queue.SimpleQueue()
        # any thread: something the session waits on (HQ's answer about a card) has come in; the
        # app makes it pump at once instead of at its next tick
        self.wake: Callable[[], None] = lambda: None
        self._subscribers: list[Callable[[SessionView], Any]] = []
        self._last_activity = self.clock.monotonic()
        self.internal_errors = 0  # unexpected exceptions caught (a bug); tests assert it stays 0
        self._seq = 0
        self._view = self._build_view()

    def _new_machine(self) -> SessionMachine:
        # the flows are the machine's listeners: its transitions' conditions are their methods
        return SessionMachine(listeners=list(self._flows.values()))

    def flow(self, kind: type[F]) -> F:
        """The session's instance of a flow (kiosk/session/flows/)."""
        return self._flows[kind]  # type: ignore[return-value]

    # -- observing ---------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        return self.store.ledger

    @property
    def state(self) -> SessionState:
        return self.machine.current

    @property
    def view(self) -> SessionView:
        return self._view

    def subscribe(self, callback: Callable[[SessionView], Any]) -> Callable[[], None]:
        """Call `callback(view)` on the driving thread after every change; returns unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- driving -----------------------------------------------------------------------------

    def post(self, item: SessionInput) -> None:
        """Thread-safe: the reader thread hands over what it saw; handled at the next pump()."""
        self._inbox.put(item)

    def pump(self) -> SessionView:
        """Handle posted inputs, let the current flow poll (a payment), apply timeouts; publish
        if anything changed. Call it often from the driving thread (e.g. Kivy Clock, 0.1 s)."""
        with self._lock:
            while True:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                self._safely(lambda item=item: self._handle(item))
            self._safely(lambda: self._owner_of(self.state).tick(self.state))
            self._safely(self._check_timeouts)
            self._safely(self._collect_stray_money)
            self._safely(self._checkpoint_when_idle)
        return self._publish()

    def _checkpoint_when_idle(self) -> None:
        """At the attract screen, write the snapshot the journal is due for on its own thread, so
        the store's safety net (a checkpoint inside a commit after AUTO_CHECKPOINT_AFTER records)
        never slows a member's tap and old journal segments are dropped as HQ acks them."""
        if self.state == S.idle and self.store.checkpoint_due() and not (
            self._checkpointing is not None and self._checkpointing.is_alive()
        ):
            self._checkpointing = self.store.checkpoint_in_background()

    def _collect_stray_money(self) -> None:
        """Money a method took outside any payment (e.g. a coin at idle): recorded for a refund."""
        for method in self.payments.values():
            fen = method.take_stray_fen()
            if fen:
                self.record("cash_outside_payment", method=method.name, received_fen=fen)
                self.note_error(f"{method.name}: {fen} fen taken outside a payment")

    # -- the member's actions (driving thread); each flow decides in its own module ------------

    def touch(self) -> bool:
        """Any touch on the screen: restarts the inactivity countdown."""
        return self._act(lambda: self.state is not S.idle)

    def back(self) -> bool:
        return self._act(self._back)

    def dismiss(self) -> bool:
        """Leave a result screen: to the member's home if the card is still there, else idle."""
        return self._act(self._dismiss)

    def finish(self) -> bool:
        """The member (or staff) is done: back to idle; a pending payment is cancelled and recorded."""
        return self._act(lambda: self.state is not S.idle and self._abort("finished") is None)

    # -- what the flows ask of the session (flows/base.py's Host; the screens use the actions) --

    def move(self, event: str) -> bool:
        self.machine.send(event)
        return True

    def can(self, event: str) -> bool:
        """Whether the machine allows `event` now, its conditions included."""
        return self.machine.allows(event)

    def refuse(self, code: str, **params: Any) -> bool:
        self.visit.message = Message(code, params)
        self.feedback.error()
        self.machine.send("refused")
        return True

    def hint(self, code: str, **params: Any) -> None:
        """An inline message on the current screen (the state does not change)."""
        self.visit.message = Message(code, params)

    def note_error(self, text: str) -> None:
        stamp = self.clock.now().isoformat(timespec="seconds")
        self.flow(Staff).note(f"{stamp} {text}")
        log.warning("%s", text)

    def record(self, kind: str, **detail: Any) -> None:
        try:
            self.incidents.record(Incident(self.clock.now(), kind, self.visit.uid, detail))
        except OSError as exc:
            self.note_error(f"incident {kind} not recorded: {exc}")

    def clock_verdict(self) -> ClockVerdict:
        return TRUSTED if self.clock_trust is None else self.clock_trust(self.clock.now())

    def now(self) -> datetime:
        """The time the ledger is given: the wall clock, but never earlier than the latest time the
        ledger holds while the clock is not trusted (a boot at 1970, NTP stepping back), so dates
        and txn times do not run backwards; such txns are marked in `commit`."""
        now = self.clock.now()
        if self.clock_trust is None:
            return now
        verdict = self.clock_trust(now)
        return max(now, verdict.floor) if verdict.floor is not None else now

    def touched(self) -> None:
        self._last_activity = self.clock.monotonic()

    def staff_card(self, card: CardRead) -> bool:
        return card.kind is CardKind.STAFF or card.uid in self.settings.staff_uids

    def commit(self, txn: Txn) -> bool:
        """Durable before anything is shown; a failure is reported, never half-applied.
        A txn made with the card in the field carries the counter the card showed (purse or tap
        counter: so HQ can spot a copy used at a kiosk that had not heard of the newer state),
        and a Classic card's purse hint is rewritten once the ledger has the new amounts."""
        visit = self.visit
        ours = txn.card_uid == visit.uid
        if ours and visit.card_counter and not txn.card_counter:
            txn = replace(txn, card_counter=visit.card_counter)
        if not txn.clock_untrusted and not self.clock_verdict().trusted:
            txn = replace(txn, clock_untrusted=True)
        try:
            self.store.commit(txn)
        except Exception as exc:
            self.store_health.saw(exc)
            self.note_error(f"commit of {txn.kind} {txn.txn_id} failed: {exc}")
            return False
        self.store_health.saved()
        if ours and (txn.balance_delta_fen or txn.points_delta):
            self._write_purse()
        return True

    # -- plumbing ----------------------------------------------------------------------------

    def _owner_of(self, state: SessionState) -> FlowPart:
        return self._owner.get(state, self._no_flow)

    def _act(self, action: Callable[[], bool | None]) -> bool:
        with self._lock:
            accepted = bool(self._safely(action))
            if accepted:
                self.touched()
        self._publish()
        return accepted

    def _safely(self, step: Callable[[], Any]) -> Any:
        """Run one step; a refusal becomes a notice, and anything unexpected ends the session
        (everything committed so far stays committed; nothing else was written) instead of
        stopping the kiosk. Counted in `internal_errors` and shown in the staff menu."""
        try:
            return step()
        except TransitionNotAllowed:
            return False
        except Refused as exc:  # e.g. the card was blocked by HQ while the member was here
            if self.can("refused"):
                return self.refuse(exc.code)
            self._abort(exc.code)
            return True
        except Exception as exc:
            self.internal_errors += 1
            log.exception("session step failed in state %s", self.state)
            self.note_error(f"internal error in {self.state}: {type(exc).__name__}")
            self.feedback.error()
            try:
                self._abort("error")
            except Exception:
                log.exception("session could not return to idle; resetting")
                self.machine = self._new_machine()
                self._reset_visit(Message("error"))
            return False

    def _publish(self) -> SessionView:
        with self._lock:
            view = self._build_view()
            if view == self._view:
                return self._view
            self._seq += 1
            view = replace(view, seq=self._seq)
            self._view = view
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(view)
            except Exception:  # a broken screen must not stop the session
                log.exception("session subscriber failed")
        return view

    def _build_view(self) -> SessionView:
        state, now = self.state, self.now()
        parts: dict[str, Any] = {}
        for flow in self._flows.values():
            parts.update(flow.view_part(state, now))
        return build_view(state, self._seq, self.visit, self.clock.monotonic(), self._deadline(), parts)

    def _reset_visit(self, message: Message | None) -> None:
        self.visit = Visit(message=message)
        for flow in self._flows.values():
            flow.reset()

    def _end(self, code: str = "") -> None:
        self.machine.send("end")
        self._reset_visit(Message(code) if code else None)
        self.feedback.ready()

    def _abort(self, reason: str) -> None:
        """End the session from any state; only what was already committed stays."""
        state = self.state
        if state is S.idle:
            return
        self._owner_of(state).ending(state, reason)
        self._end(reason)

    # -- inputs from the reader --------------------------------------------------------------

    def _handle(self, item: SessionInput) -> None:
        if isinstance(item, CardPresented):
            self._card_presented(item.card)
        elif isinstance(item, CardRemoved):
            self._card_removed(item.uid)
        elif isinstance(item, CardIssued):  # a card made at HQ being written, else a sign-up's
            (self.flow(CardWrite) if self.state is S.card_writing else self.flow(SignUp)).card_issued(item)
        elif isinstance(item, PurseWritten):
            self._purse_written(item)
        elif isinstance(item, TillCharge):
            self.flow(Charge).start_till(item.ticket)
        elif isinstance(item, TillCancel):
            self.flow(Charge).till_cancel(item.order_key)
        elif isinstance(item, TillCall):
            try:
                item.reply.put(item.work(self))
            except Exception as exc:  # the till hears it; the session goes on
                item.reply.put(error=exc)
        elif isinstance(item, ReaderStatus):
            self.flow(Staff).reader_status = "ok" if item.ok else (item.detail or "error")
            if not item.ok:
                self.note_error(f"reader: {item.detail}")

    def _card_presented(self, card: CardRead) -> None:
        state, visit = self.state, self.visit
        if state is S.idle:
            self.feedback.tap()
            self.touched()
            self.flow(CardChecks).start_with(card)
            return
        if card.uid == visit.uid:  # the same card seen again: a double tap or a re-read
            visit.card_present = True
            if visit.purse_due:
                self._write_purse()
            return
        if self._owner_of(state).other_card(state, card):
            return
        # a different card mid-flow: the first card's session ends safely, the new one starts
        self._abort("other_card")
        self.feedback.tap()
        self.flow(CardChecks).start_with(card)

    def _card_removed(self, uid: str) -> None:
        state, visit = self.state, self.visit
        if state is S.idle or uid != visit.uid:
            return
        visit.card_present = False
        if not self._owner_of(state).keeps_lifted_card(state):
            self._abort("card_removed")

    # -- timeouts ----------------------------------------------------------------------------

    def _deadline(self) -> float | None:
        """When the current state gives up, on the monotonic clock: a wall-clock step (NTP,
        a boot at 1970) must neither end a payment early nor keep a screen open for a day."""
        state = self.state
        if state is S.idle:
            return None
        own = self._owner_of(state).deadline(state)
        if own is not None:
            return own
        seconds = self.settings.message_s if state in MESSAGE_STATES else self.settings.inactivity_s
        return self._last_activity + seconds

    def _check_timeouts(self) -> None:
        deadline = self._deadline()
        if deadline is None or self.clock.monotonic() < deadline:
            return
        if not self._owner_of(self.state).timed_out(self.state):
            self._abort("timeout")

    # -- navigation --------------------------------------------------------------------------

    def _back(self) -> bool:
        state = self.state
        if not self.can("back"):
            return False
        self._owner_of(state).going_back(state)
        self.visit.message = None
        self.machine.send("back")
        if self.state is S.home:
            self.flow(Gifts).refresh_member()
        return True

    def _dismiss(self) -> bool:
        if self.state not in MESSAGE_STATES:
            return False
        self.flow(Engagement).skip_survey()  # leaving the done screen skips the rating
        if self.can("to_home"):  # the card is still there and is a member's
            self.visit.message = None
            self.flow(Gifts).refresh_member()
            self.machine.send("to_home")
        else:
            self._end()
        return True
