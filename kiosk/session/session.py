"""The kiosk session: one place that decides what happens from a card tap to "done".

Threading: the reader thread only calls `post()` (a thread-safe queue). Everything else —
`pump()`, the member's actions, subscriber callbacks — runs on one driving thread (Kivy's main
thread through Clock, or a test). A lock makes a stray call from another thread safe too.
Every action returns True when it was accepted and False when it did not fit the current state
(a stale or double tap): a refused action changes nothing."""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from statemachine.exceptions import TransitionNotAllowed

from kiosk.ledger.model import Card, CardStatus
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.rules import Rules
from kiosk.ledger.state import is_locked
from kiosk.ledger.txn import Txn
from kiosk.payment.port import (
    PaymentMethod,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    PaymentUnavailable,
)
from kiosk.reader.card_format import judge_record
from kiosk.session.clock import Clock, SystemClock
from kiosk.session.flow import Flow
from kiosk.session.incidents import Incident
from kiosk.session.inputs import (
    SUSPECT_PROBLEMS,
    CardIssued,
    CardKind,
    CardPresented,
    CardRead,
    CardRemoved,
    PurseWritten,
    ReaderStatus,
    SessionInput,
)
from kiosk.session.machine import SessionMachine
from kiosk.session.ports import CardWriter, Feedback, IncidentSink, MemoryIncidents, NoFeedback, StoreLike
from kiosk.session.present import build_view, reward_option
from kiosk.session.settings import SessionSettings
from kiosk.session.sync_link import SyncLink
from kiosk.session.view import (
    GiftGiven,
    Message,
    SessionView,
    StaffView,
    TopUpOption,
)

log = logging.getLogger(__name__)

# states that show a result and then go away on their own (settings.message_s)
MESSAGE_STATES = frozenset({"done", "notice", "blocked", "not_recognised"})
_DETAIL_REFUSALS = frozenset({"bad_phone", "phone_in_use", "bad_name", "bad_birthday", "unknown_referral_code"})
_PIN_FORMAT_REFUSALS = frozenset({"bad_pin_format", "pin_too_simple"})


class Session:
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
    ):
        self.store = store
        self.clock = clock or SystemClock()
        self.payments = {p.name: p for p in payments}
        self.card_writer = card_writer
        self.incidents = incidents or MemoryIncidents()
        self.feedback = feedback or NoFeedback()
        self.settings = settings or SessionSettings()
        self.reload_rules = reload_rules
        self.sync = sync
        self.machine = SessionMachine()
        self._lock = threading.RLock()
        self._inbox: queue.SimpleQueue[SessionInput] = queue.SimpleQueue()
        self._subscribers: list[Callable[[SessionView], Any]] = []
        self._flow = Flow()
        self._last_activity = self.clock.now()
        self._reader_status = "unknown"
        self._errors: deque[str] = deque(maxlen=10)
        self.internal_errors = 0  # unexpected exceptions caught (a bug); tests assert it stays 0
        self._seq = 0
        self._view = self._build_view()

    # -- observing ---------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        return self.store.ledger

    @property
    def state(self) -> str:
        return self.machine.state_id

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
        """Handle posted inputs, poll the payment, apply timeouts; publish if anything changed.
        Call it often from the driving thread (e.g. Kivy Clock.schedule_interval, 0.1 s)."""
        with self._lock:
            while True:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                self._safely(lambda item=item: self._handle(item))
            self._safely(self._poll_payment)
            self._safely(self._check_timeouts)
            self._safely(self._collect_stray_money)
        return self._publish()

    def _collect_stray_money(self) -> None:
        """Money a method took outside any payment (e.g. a coin at idle): recorded for a refund."""
        for method in self.payments.values():
            fen = method.take_stray_fen()
            if fen:
                self._record("cash_outside_payment", method=method.name, received_fen=fen)
                self._note_error(f"{method.name}: {fen} fen taken outside a payment")

    # -- the member's actions (driving thread) ------------------------------------------------

    def touch(self) -> bool:
        """Any touch on the screen: restarts the inactivity countdown."""
        return self._act(lambda: self.state != "idle")

    def start_topup(self) -> bool:
        return self._act(self._start_topup)

    def choose_amount(self, amount_fen: int) -> bool:
        return self._act(lambda: self._choose_amount(amount_fen))

    def pay(self, method: str) -> bool:
        return self._act(lambda: self._pay(method))

    def cancel_payment(self) -> bool:
        return self._act(self._cancel_payment)

    def start_redeem(self) -> bool:
        return self._act(self._start_redeem)

    def choose_reward(self, reward_id: str, points: int | None = None) -> bool:
        return self._act(lambda: self._choose_reward(reward_id, points))

    def confirm(self) -> bool:
        """Confirm the chosen reward (asks for the PIN when the rules say so)."""
        return self._act(self._confirm_redeem)

    def pin_digit(self, digit: str) -> bool:
        return self._act(lambda: self._pin_digit(digit))

    def pin_delete(self) -> bool:
        return self._act(self._pin_delete)

    def start_signup(self) -> bool:
        return self._act(lambda: self._move("start_signup"))

    def submit_details(
        self, phone: str, name: str = "", birthday: date | None = None, referral_code: str = ""
    ) -> bool:
        """A referral code (optional) must belong to an active member, or the details screen says so."""
        return self._act(lambda: self._submit_details(phone, name, birthday, referral_code))

    def check_in(self) -> bool:
        """Home: today's check-in points (and the streak bonus on the streak's day)."""
        return self._act(self._check_in)

    def rate(self, stars: int, reasons: Sequence[str] = ()) -> bool:
        """Done after a top-up or redemption: the optional 1-5 star rating; dismiss() skips it."""
        return self._act(lambda: self._rate(stars, reasons))

    def accept_privacy(self) -> bool:
        return self._act(self._accept_privacy)

    def back(self) -> bool:
        return self._act(self._back)

    def dismiss(self) -> bool:
        """Leave a result screen: to the member's home if the card is still there, else idle."""
        return self._act(self._dismiss)

    def finish(self) -> bool:
        """The member (or staff) is done: back to idle; a pending payment is cancelled and recorded."""
        return self._act(lambda: self.state != "idle" and self._abort("finished") is None)

    def staff_reload_rules(self) -> bool:
        return self._act(self._staff_reload_rules)

    # -- plumbing ----------------------------------------------------------------------------

    def _act(self, action: Callable[[], bool | None]) -> bool:
        with self._lock:
            accepted = bool(self._safely(action))
            if accepted:
                self._last_activity = self.clock.now()
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
            if self._can("refused"):
                return self._refuse(exc.code)
            self._abort(exc.code)
            return True
        except Exception as exc:
            self.internal_errors += 1
            log.exception("session step failed in state %s", self.state)
            self._note_error(f"internal error in {self.state}: {type(exc).__name__}")
            self.feedback.error()
            try:
                self._abort("error")
            except Exception:
                log.exception("session could not return to idle; resetting")
                self.machine = SessionMachine()
                self._flow = Flow(message=Message("error"))
            return False

    def _move(self, event: str) -> bool:
        self.machine.send(event)
        return True

    def _can(self, event: str) -> bool:
        return any(e.id == event for e in self.machine.allowed_events)

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

    def _note_error(self, text: str) -> None:
        stamp = self.clock.now().isoformat(timespec="seconds")
        self._errors.appendleft(f"{stamp} {text}")
        log.warning("%s", text)

    def _record(self, kind: str, **detail: Any) -> None:
        try:
            self.incidents.record(Incident(self.clock.now(), kind, self._flow.uid, detail))
        except OSError as exc:
            self._note_error(f"incident {kind} not recorded: {exc}")

    def _commit(self, txn: Txn) -> bool:
        """Durable before anything is shown; a failure is reported, never half-applied.
        A txn made with the card in the field carries the counter the card showed (purse or tap
        counter: so HQ can spot a copy used at a kiosk that had not heard of the newer state),
        and a Classic card's purse hint is rewritten once the ledger has the new amounts."""
        flow = self._flow
        ours = txn.card_uid == flow.uid
        if ours and flow.card_counter and not txn.card_counter:
            txn = replace(txn, card_counter=flow.card_counter)
        try:
            self.store.commit(txn)
        except Exception as exc:
            self._note_error(f"commit of {txn.kind} {txn.txn_id} failed: {exc}")
            return False
        if ours and (txn.balance_delta_fen or txn.points_delta):
            self._write_purse()
        return True

    def _write_purse(self) -> None:
        """Ask the reader thread to write the ledger's amounts into the card's hint; with the
        card lifted (cash confirmed by staff) that waits until it is back on the reader."""
        flow = self._flow
        found = self.ledger.state.card_account(flow.uid)
        if self.card_writer is None or found is None:
            return
        flow.purse_due = not flow.card_present
        if flow.card_present:
            self.card_writer.request_purse(flow.uid, found[2].balance_fen, found[2].points)

    def _purse_written(self, result: PurseWritten) -> None:
        """The card now holds a higher counter: recorded (whatever the session is doing by now),
        so the copy it was before is refused from here on. A write that failed changes nothing:
        the card kept its old state, which the ledger already knows."""
        if result.problem:
            log.info("purse hint of card %s not written: %s", result.uid, result.problem)
            return
        try:
            txn = self.ledger.purse_written(result.uid, result.counter, self.clock.now())
        except Refused:
            return
        if txn is not None and self._commit(txn) and result.uid == self._flow.uid:
            self._flow.card_counter = result.counter

    def _refuse(self, code: str, **params: Any) -> bool:
        self._flow.message = Message(code, params)
        self.feedback.error()
        self.machine.send("refused")
        return True

    def _hint(self, code: str, **params: Any) -> None:
        """An inline message on the current screen (the state does not change)."""
        self._flow.message = Message(code, params)

    def _end(self, code: str = "") -> None:
        self.machine.send("end")
        self._flow = Flow(message=Message(code) if code else None)
        self.feedback.ready()

    # -- inputs from the reader --------------------------------------------------------------

    def _handle(self, item: SessionInput) -> None:
        if isinstance(item, CardPresented):
            self._card_presented(item.card)
        elif isinstance(item, CardRemoved):
            self._card_removed(item.uid)
        elif isinstance(item, CardIssued):
            self._card_issued(item)
        elif isinstance(item, PurseWritten):
            self._purse_written(item)
        elif isinstance(item, ReaderStatus):
            self._reader_status = "ok" if item.ok else (item.detail or "error")
            if not item.ok:
                self._note_error(f"reader: {item.detail}")

    def _is_staff(self, card: CardRead) -> bool:
        return card.kind is CardKind.STAFF or card.uid in self.settings.staff_uids

    def _card_presented(self, card: CardRead) -> None:
        flow = self._flow
        if self.state == "idle":
            self.feedback.tap()
            self._last_activity = self.clock.now()
            self._start_with(card)
            return
        if card.uid == flow.uid:  # the same card seen again: a double tap or a re-read
            flow.card_present = True
            if flow.purse_due:
                self._write_purse()
            return
        if self.state == "paying":
            if flow.payment is not None and self._is_staff(card) and flow.payment.staff_confirmed(card.uid):
                self.feedback.tap()
                self._poll_payment()
            return  # another member's card must not disturb a payment
        if self.state in ("signup_writing", "staff_menu"):
            return
        # a different card mid-flow: the first card's session ends safely, the new one starts
        self._abort("other_card")
        self.feedback.tap()
        self._start_with(card)

    def _start_with(self, card: CardRead) -> None:
        flow = self._flow
        flow.uid, flow.card_present, flow.message = card.uid, True, None
        flow.card_counter = card.card_counter
        if self._is_staff(card):
            self.machine.send("staff_card")
            return
        known = self.ledger.state.cards.get(card.uid)
        if self.sync is not None and self.sync.is_blocked(card.uid):
            self._record("blocked_card_presented", status="blocked_by_hq", member_id=known.member_id if known else "")
            flow.message = Message("card_blocked")
            self.feedback.error()
            self.machine.send("blocked_card")
        elif known is not None and known.status is not CardStatus.ACTIVE:
            self._record("blocked_card_presented", status=str(known.status), member_id=known.member_id)
            flow.message = Message(f"card_{known.status}")
            self.feedback.error()
            self.machine.send("blocked_card")
        elif card.kind is CardKind.MEMBER and known is not None and _suspect(card, known):
            problem = _suspect(card, known)
            self._record("card_suspect", problem=problem, member_id=known.member_id)
            flow.message = Message("card_refused", {"problem": problem})
            self.feedback.error()
            self.machine.send("foreign_card")
        elif card.kind is CardKind.MEMBER and known is not None:
            self.machine.send("member_card")
            self._enter_home()
        elif card.kind is CardKind.BLANK and known is None:
            self.machine.send("blank_card")
        else:
            code = {
                CardKind.MEMBER: "card_unknown_here",  # ours, but not (yet) in this replica
                CardKind.BLANK: "card_data_missing",  # known UID on a blank card: a copy?
            }.get(card.kind, "card_read_failed" if card.problem == "unreadable" else "card_not_recognised")
            if card.kind is CardKind.BLANK or card.problem in SUSPECT_PROBLEMS:
                self._record("card_suspect", card_kind=str(card.kind), problem=card.problem or "blank_with_known_uid")
            flow.message = Message(code, {"problem": card.problem} if card.problem else {})
            self.feedback.error()
            self.machine.send("foreign_card")

    def _card_removed(self, uid: str) -> None:
        flow = self._flow
        if self.state == "idle" or uid != flow.uid:
            return
        flow.card_present = False
        if self.state == "signup_writing":
            return  # the writer answers either way; that answer decides
        if self.state == "paying" and flow.payment is not None and flow.payment.wants_staff_card:
            return  # the member lifts their card so staff can tap theirs
        self._abort("card_removed")

    def _card_issued(self, result: CardIssued) -> None:
        flow = self._flow
        if self.state != "signup_writing" or result.uid != flow.uid or flow.signup_txn is None:
            if not result.problem:  # a card was written for a session that is gone
                self._note_error(f"card {result.uid} personalised after its session ended")
                self._record("card_issued_late", issued_uid=result.uid)
            return
        if result.problem:
            self._record("card_write_failed", problem=result.problem)
            self._refuse("card_write_failed", problem=result.problem)
            return
        txn = flow.signup_txn
        flow.signup_txn = None
        if txn.seq != self.ledger.state.next_seq(self.ledger.device_id) or not self._commit(txn):
            self._record("card_issued_not_registered", member_id=txn.member_id)
            self._refuse("store_failed")
            return
        self._record("privacy_accepted", member_id=txn.member_id, version=self.settings.privacy_notice_version)
        self._give_gifts()
        referral_points = self._give_referral_rewards(txn.member_id)
        self._refresh_member()
        view = flow.member_view
        flow.message = Message(
            "signup_done",
            {
                "points": view.account.points if view else 0,
                "gifts": [g.kind for g in flow.gifts],
                "referral_points": referral_points,
            },
        )
        self.feedback.ok()
        self.machine.send("card_issued")

    # -- timeouts ----------------------------------------------------------------------------

    def _deadline(self) -> datetime | None:
        state, flow = self.state, self._flow
        if state == "idle":
            return None
        if state == "paying" and flow.payment_started is not None:
            return flow.payment_started + timedelta(seconds=self.settings.payment_timeout_s)
        if state == "signup_writing" and flow.write_started is not None:
            return flow.write_started + timedelta(seconds=self.settings.card_write_timeout_s)
        seconds = self.settings.message_s if state in MESSAGE_STATES else self.settings.inactivity_s
        return self._last_activity + timedelta(seconds=seconds)

    def _check_timeouts(self) -> None:
        deadline = self._deadline()
        if deadline is None or self.clock.now() < deadline:
            return
        if self.state == "paying":
            self._stop_payment("payment_timeout")
            self._refuse("payment_timeout", **self._payment_params())
            self._last_activity = self.clock.now()
            return
        if self.state == "signup_writing":
            self._record("card_write_no_answer")
        self._abort("timeout")

    def _abort(self, reason: str) -> None:
        """End the session from any state; only what was already committed stays."""
        if self.state == "idle":
            return
        if self.state == "paying":
            self._stop_payment(reason)
        self._end(reason)

    # -- member home -------------------------------------------------------------------------

    def _enter_home(self) -> None:
        self._give_gifts()
        card = self.ledger.state.cards.get(self._flow.uid)
        if card is not None:  # a referral reward a power cut left undone after the sign-up
            self._give_referral_rewards(card.member_id)
        self._refresh_member()

    def _give_gifts(self) -> None:
        """Expired points go, then the birthday and new-member gifts due are given (committed)."""
        uid, now, ledger = self._flow.uid, self.clock.now(), self.ledger
        try:
            expiry = ledger.expire_points(uid, now)
            if expiry is not None:
                self._commit(expiry)
            view = ledger.view(uid, now)
        except Refused:
            return
        for due, op in (
            (view.new_member_gift_due, ledger.new_member_gift),
            (view.birthday_gift_due, ledger.birthday_gift),
        ):
            if not due:
                continue
            try:
                txn = op(uid, now)
            except Refused:
                continue
            if self._commit(txn):
                self._flow.gifts.append(GiftGiven(str(txn.kind), txn.points_delta, txn.bonus_fen))

    def _give_referral_rewards(self, member_id: str) -> int:
        """After a sign-up with a referral code: the new member's reward, then the referrer's,
        each committed on its own (the ledger gives the one still due if power was cut between).
        Returns the points the new member got."""
        mine = 0
        for _ in range(2):
            try:
                txn = self.ledger.referral_reward(self._flow.uid, self.clock.now())
            except Refused:
                break
            if txn is None or not self._commit(txn):
                break
            if txn.member_id == member_id:
                mine += txn.points_delta
        return mine

    def _check_in(self) -> bool:
        flow = self._flow
        if self.state != "home":
            return False
        txn = self.ledger.check_in(flow.uid, self.clock.now())  # a refusal becomes a notice
        if not self._commit(txn):
            return self._refuse("store_failed")
        self._refresh_member()
        streak = flow.member_view.account.checkin_streak if flow.member_view else 0
        bonus = txn.points_delta - self.ledger.rules.engagement.checkin_points
        flow.message = Message(
            "checked_in",
            {"points": txn.points_delta, "streak_bonus": max(0, bonus), "streak": streak, "total_points": txn.points_after},
        )
        flow.survey_offered = False
        self.feedback.ok()
        return self._move("checked_in")

    def _rate(self, stars: int, reasons: Sequence[str]) -> bool:
        flow = self._flow
        if self.state != "done" or not flow.survey_offered:
            return False
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            return False
        if isinstance(reasons, str) or not all(isinstance(r, str) for r in reasons):
            return False
        try:
            txn = self.ledger.survey(flow.uid, stars, tuple(reasons), self.clock.now())
        except Refused as exc:
            self._hint(exc.code)  # e.g. a reason the rules no longer list: the offer stays
            return True
        if not self._commit(txn):
            self._hint("store_failed")
            return True
        flow.survey_offered = False
        flow.message = Message("survey_thanks", {"stars": stars})
        self.feedback.ok()
        return True

    def _offer_survey(self) -> None:
        self._flow.survey_offered = bool(self.ledger.rules.engagement.survey_reasons)

    def _refresh_member(self) -> None:
        try:
            self._flow.member_view = self.ledger.view(self._flow.uid, self.clock.now())
        except Refused:
            self._flow.member_view = None

    # -- top-up ------------------------------------------------------------------------------

    def _preview_topup(self, amount_fen: int) -> TopUpOption:
        """What a top-up would give, asked of the ledger itself (raises Refused)."""
        txn = self.ledger.top_up(self._flow.uid, amount_fen, "preview", self.clock.now())
        return TopUpOption(amount_fen, txn.bonus_fen, txn.points_delta)

    def _start_topup(self) -> bool:
        if not self._can("start_topup"):
            return False
        paused = self.sync.money_paused() if self.sync is not None else ""
        if paused:
            self._hint("money_paused", reason=paused)
            return True
        options = []
        for amount in self.ledger.rules.topup.presets_fen:
            try:
                options.append(self._preview_topup(amount))
            except Refused:
                continue
        self._flow.topup_options = tuple(options)
        self._flow.topup_chosen = None
        self._flow.message = None
        return self._move("start_topup")

    def _choose_amount(self, amount_fen: int) -> bool:
        if self.state != "topup_amount" or isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
            return False
        try:
            option = self._preview_topup(amount_fen)
        except Refused as exc:
            self._hint(exc.code, **_range_params(self.ledger.rules))
            return True
        self._flow.topup_chosen = option
        self._flow.message = None
        return self._move("amount_ok")

    def _pay(self, method_name: str) -> bool:
        flow = self._flow
        if self.state != "topup_confirm" or flow.topup_chosen is None or not isinstance(method_name, str):
            return False
        method = self.payments.get(method_name)
        reason = "unknown_method" if method is None else method.unavailable_reason()
        if method is not None and not reason:
            request = PaymentRequest(uuid.uuid4().hex[:16], flow.uid, flow.topup_chosen.amount_fen)
            try:
                method.start(request)
            except PaymentUnavailable as exc:
                reason = exc.reason
        if reason:
            self._hint("payment_unavailable", method=method_name, reason=reason)
            self.feedback.error()
            return True
        flow.payment, flow.request, flow.payment_started = method, request, self.clock.now()
        flow.payment_status = PaymentStatus(PaymentState.PENDING)
        flow.message = None
        return self._move("pay")

    def _payment_params(self) -> dict:
        flow = self._flow
        status = flow.payment_status
        return {
            "method": flow.payment.name if flow.payment else "",
            "requested_fen": flow.request.amount_fen if flow.request else 0,
            "received_fen": status.received_fen if status else 0,
        }

    def _stop_payment(self, reason: str) -> None:
        """Cancel the pending payment; any money already counted is recorded for a refund."""
        flow = self._flow
        if flow.payment is None or flow.request is None:
            return
        detail = {}
        try:
            status = flow.payment.cancel()
        except Exception as exc:  # the adapter is broken: record what it last reported
            log.exception("payment %s could not be cancelled", flow.payment.name)
            status = flow.payment_status or PaymentStatus(PaymentState.PENDING)
            detail["cancel_failed"] = type(exc).__name__
        flow.payment_status = status
        self._record(
            "payment_abandoned",
            reason=reason,
            method=flow.payment.name,
            request_id=flow.request.request_id,
            requested_fen=flow.request.amount_fen,
            received_fen=status.received_fen,
            **detail,
        )
        flow.payment, flow.payment_started = None, None

    def _cancel_payment(self) -> bool:
        if self.state != "paying":
            return False
        params = self._payment_params()
        self._stop_payment("cancelled")
        self._hint("payment_cancelled", **params)
        self.machine.send("back_from_payment")
        return True

    def _poll_payment(self) -> None:
        flow = self._flow
        if self.state != "paying" or flow.payment is None or flow.request is None:
            return
        status = flow.payment.poll()
        flow.payment_status = status
        if status.state is PaymentState.PENDING:
            return
        method, request = flow.payment, flow.request
        flow.payment, flow.payment_started = None, None
        if status.state is PaymentState.FAILED:
            self._record("payment_failed", method=method.name, reason=status.reason, received_fen=status.received_fen)
            self._refuse("payment_failed", reason=status.reason, received_fen=status.received_fen)
            return
        self._credit(method.name, request, status.received_fen, status.payment_ref)

    def _credit(self, method: str, request: PaymentRequest, paid_fen: int, ref: str) -> None:
        """Payment confirmed: the top-up is committed before "done" is shown."""
        flow = self._flow
        problem = ""
        try:
            txn = self.ledger.top_up(flow.uid, paid_fen, ref, self.clock.now())
        except Refused as exc:
            problem = exc.code
        else:
            if not self._commit(txn):
                problem = "store_failed"
        if problem:
            self._record(
                "paid_not_credited", method=method, payment_ref=ref, paid_fen=paid_fen, problem=problem
            )
            self._refuse("paid_not_credited", paid_fen=paid_fen, problem=problem)
            return
        self._refresh_member()
        flow.message = Message(
            "topup_done",
            {
                "amount_fen": txn.amount_fen,
                "bonus_fen": txn.bonus_fen,
                "points": txn.points_delta,
                "balance_fen": txn.balance_after_fen,
            },
        )
        self._offer_survey()
        self.feedback.ok()
        self.machine.send("paid")
        self._last_activity = self.clock.now()

    # -- redeem ------------------------------------------------------------------------------

    def _start_redeem(self) -> bool:
        if not self._can("start_redeem"):
            return False
        now = self.clock.now()
        try:
            rewards = self.ledger.affordable_rewards(self._flow.uid, now)
        except Refused as exc:
            return self._refuse(exc.code)
        stock = self.ledger.state.stock
        self._flow.rewards = tuple(reward_option(r, stock.get(r.id, 0)) for r in rewards)
        self._flow.reward, self._flow.message = None, None
        return self._move("start_redeem")

    def _choose_reward(self, reward_id: str, points: int | None) -> bool:
        flow = self._flow
        if self.state != "redeem_choose":
            return False
        if not isinstance(reward_id, str):
            return False
        option = next((r for r in flow.rewards if r.reward_id == reward_id), None)
        if option is None or (points is not None and (isinstance(points, bool) or not isinstance(points, int))):
            return False
        try:
            self.ledger.redeem(flow.uid, reward_id, self.clock.now(), points=points, pin_verified=True)
        except Refused as exc:
            if exc.code != "pin_locked":  # the lock is dealt with when confirming
                self._hint(exc.code)
                return True
        flow.reward, flow.reward_points, flow.message = option, points, None
        return self._move("reward_ok")

    def _confirm_redeem(self) -> bool:
        flow = self._flow
        if self.state != "redeem_confirm" or flow.reward is None:
            return False
        if not self.ledger.rules.pin.required_for_redemption:
            return self._redeem(pin_verified=False)
        _, member, _ = self.ledger.lookup(flow.uid)
        if is_locked(member, self.clock.now()):
            return self._move("locked")
        flow.pin_digits, flow.pin_purpose, flow.message = "", "redeem", None
        return self._move("need_pin")

    def _redeem(self, pin_verified: bool) -> bool:
        flow = self._flow
        assert flow.reward is not None
        try:
            txn = self.ledger.redeem(
                flow.uid, flow.reward.reward_id, self.clock.now(), points=flow.reward_points, pin_verified=pin_verified
            )
        except Refused as exc:
            return self._refuse(exc.code)
        if not self._commit(txn):
            return self._refuse("store_failed")
        self._refresh_member()
        flow.message = Message(
            "redeem_done",
            {"reward_id": txn.reward_id, "points_used": -txn.points_delta, "points": txn.points_after, "voucher_fen": txn.amount_fen},
        )
        self._offer_survey()
        self.feedback.ok()
        self.machine.send("redeemed")
        return True

    # -- PIN pad -----------------------------------------------------------------------------

    def _pin_digit(self, digit: str) -> bool:
        flow = self._flow
        if self.state not in ("pin_entry", "signup_pin"):
            return False
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789":
            return False
        length = self.ledger.rules.pin.length
        if len(flow.pin_digits) >= length:
            return False
        flow.pin_digits += digit
        flow.message = None
        if len(flow.pin_digits) == length:
            pin, flow.pin_digits = flow.pin_digits, ""
            if self.state == "pin_entry":
                self._check_member_pin(pin)
            else:
                self._signup_pin(pin)
        return True

    def _pin_delete(self) -> bool:
        if self.state not in ("pin_entry", "signup_pin") or not self._flow.pin_digits:
            return False
        self._flow.pin_digits = self._flow.pin_digits[:-1]
        return True

    def _check_member_pin(self, pin: str) -> None:
        flow = self._flow
        try:
            ok, txn = self.ledger.check_pin(flow.uid, pin, self.clock.now())
        except Refused as exc:
            if exc.code == "pin_locked":
                self.machine.send("locked")
            else:
                self._refuse(exc.code)
            return
        if txn is not None and not self._commit(txn):
            self._refuse("store_failed")  # a failure count we could not keep: do not go on
            return
        if ok:
            self._redeem(pin_verified=True)
            return
        self.feedback.error()
        _, member, _ = self.ledger.lookup(flow.uid)
        if is_locked(member, self.clock.now()):
            self.machine.send("locked")
        else:
            self._hint("pin_wrong", attempts_left=self.ledger.pin_attempts_left(member))

    # -- sign-up -----------------------------------------------------------------------------

    def _submit_details(self, phone: str, name: str, birthday: date | None, referral_code: str) -> bool:
        if self.state != "signup_details":
            return False
        if not isinstance(phone, str) or not isinstance(name, str) or not isinstance(referral_code, str):
            return False
        if birthday is not None and (isinstance(birthday, datetime) or not isinstance(birthday, date)):
            return False
        flow = self._flow
        code = referral_code.strip().upper()
        flow.phone, flow.name, flow.birthday, flow.referral_code = phone.strip(), name.strip(), birthday, code
        if code:
            try:
                self.ledger.referrer_of(code)
            except Refused as exc:
                self._hint(exc.code)
                self.feedback.error()
                return True
        flow.message = None
        return self._move("details_ok")

    def _accept_privacy(self) -> bool:
        if self.state != "signup_privacy":
            return False
        flow = self._flow
        flow.privacy_accepted = True
        flow.pin_digits, flow.first_pin, flow.pin_purpose = "", "", "signup_first"
        return self._move("privacy_ok")

    def _signup_pin(self, pin: str) -> None:
        flow = self._flow
        if not flow.first_pin:
            flow.first_pin, flow.pin_purpose = pin, "signup_repeat"
            return
        first, flow.first_pin, flow.pin_purpose = flow.first_pin, "", "signup_first"
        if pin != first:
            self._hint("pin_mismatch")
            return
        if self.card_writer is None:
            self._refuse("card_writer_unavailable")
            return
        try:
            txn = self.ledger.sign_up(
                flow.uid,
                1,
                flow.phone,
                pin,
                self.clock.now(),
                name=flow.name,
                birthday=flow.birthday,
                referral_code=flow.referral_code,
            )
        except Refused as exc:
            if exc.code in _DETAIL_REFUSALS:
                self._hint(exc.code)
                self.machine.send("fix_details")
            elif exc.code in _PIN_FORMAT_REFUSALS:
                self._hint(exc.code, length=self.ledger.rules.pin.length)
            else:
                self._refuse(exc.code)
            return
        flow.signup_txn, flow.write_started = txn, self.clock.now()
        self.machine.send("pin_set")
        self.card_writer.request_issue(flow.uid, txn.member_id, txn.card_seq)

    # -- navigation --------------------------------------------------------------------------

    def _back(self) -> bool:
        if not self._can("back"):
            return False
        flow = self._flow
        flow.pin_digits, flow.message = "", None
        if self.state == "signup_pin":
            flow.first_pin = ""
        self.machine.send("back")
        if self.state == "home":
            self._refresh_member()
        return True

    def _dismiss(self) -> bool:
        state, flow = self.state, self._flow
        if state not in MESSAGE_STATES:
            return False
        flow.survey_offered = False  # leaving the done screen skips the rating
        if state in ("done", "notice") and flow.card_present and flow.member_view is not None:
            flow.message = None
            self._refresh_member()
            self.machine.send("to_home")
        else:
            self._end()
        return True

    # -- staff -------------------------------------------------------------------------------

    def _staff_reload_rules(self) -> bool:
        if self.state != "staff_menu":
            return False
        if self.reload_rules is None:
            self._hint("rules_reload_unavailable")
            return True
        try:
            rules = self.reload_rules()
        except Exception as exc:
            self._note_error(f"rules reload failed: {exc}")
            self._hint("rules_reload_failed", error=str(exc)[:200])
            return True
        self._hint("rules_reloaded", version=rules.version)
        return True

    def _build_view(self) -> SessionView:
        return build_view(
            self.state,
            self._seq,
            self._flow,
            self.ledger,
            self.clock.now(),
            self._deadline(),
            self.payments.values(),
            self._staff_view,
        )

    def _staff_view(self) -> StaffView:
        store = self.store
        depth = store.outbox_depth() if hasattr(store, "outbox_depth") else 0
        contact = self.sync.last_contact() if self.sync is not None else None
        return StaffView(
            device_id=self.ledger.device_id,
            reader=self._reader_status,
            hardware=self.feedback.describe(),
            outbox_depth=depth,
            last_hq_contact=contact.isoformat(timespec="seconds") if contact else "",
            hq_online=self.sync.online() if self.sync is not None else False,
            last_errors=tuple(self._errors),
            rules_version=self.ledger.rules.version,
        )

def _suspect(card: CardRead, known: Card) -> str:
    """Why a card that reads as ours does not match the ledger's record of it ('' if it does):
    another member, an older card of the member, or an older copy of this card (its purse or
    tap counter below the highest the ledger has seen: a clone or a replayed image)."""
    verdict = judge_record(
        card.member_id or None,
        card.card_seq or None,
        card.card_counter,
        last_counter=known.card_counter,
        current_card_seq=known.card_seq,
        member_id=known.member_id,
    )
    return "" if verdict.accepted else str(verdict.reason)


def _range_params(rules: Rules) -> dict:
    return {"min_fen": rules.topup.min_fen, "max_fen": rules.topup.max_fen}
