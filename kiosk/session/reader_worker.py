"""The reader's own thread: waits for cards, has the card layer read them, reports to the session.

Only this thread touches the reader, so card writes the session asks for (personalising a
blank card at sign-up or a card made at HQ's counter, the purse hint after a transaction) are queued here and run between
polls; the result is posted back. Of several purse writes queued for one card only the newest
runs: the hint is a state, not a delta."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kiosk.reader.base import CardGone, CardInfo, Reader, ReaderError, ReaderGone
from kiosk.session.inputs import (
    CardIssued,
    CardKind,
    CardPresented,
    CardRead,
    CardRemoved,
    PurseWritten,
    ReaderStatus,
)

log = logging.getLogger(__name__)


class CardAccess(Protocol):
    """The card layer as the session needs it (kiosk/reader/card*: format, keys, signatures)."""

    def read(self, reader: Reader, info: CardInfo) -> CardRead:
        """Classify the card in the field; raises ReaderError if it cannot be read."""
        ...

    def issue(self, reader: Reader, info: CardInfo, member_id: str, card_seq: int, replacing: str = "") -> None:
        """Personalise a blank card for this member (or a pre-issued one carrying the reserved
        member id `replacing`); raises (ReaderError, CardFormatError) on failure."""
        ...

    def write_purse(self, reader: Reader, info: CardInfo, balance_fen: int, points: int) -> int:
        """Write the purse hint; returns the card's new purse counter (0: the card has no purse)."""
        ...


@dataclass(frozen=True)
class _IssueJob:
    uid: str
    member_id: str
    card_seq: int
    replacing: str = ""  # a pre-issued card's reserved member id, written over


@dataclass(frozen=True)
class _PurseJob:
    uid: str
    balance_fen: int
    points: int


def uid_hex(info: CardInfo) -> str:
    return info.uid.hex().upper()


class ReaderWorker:
    def __init__(
        self,
        reader: Reader,
        cards: CardAccess,
        post: Callable[[object], None],
        poll_s: float = 0.1,
        retry_s: float = 1.0,
        heartbeat: Callable[[], None] = lambda: None,
    ):
        self.reader, self.cards, self.post, self.poll_s = reader, cards, post, poll_s
        self.heartbeat = heartbeat  # called on every turn of the loop: systemd's watchdog source "reader"
        self.retry_s = retry_s  # wait before trying a vanished reader again
        self._jobs: queue.SimpleQueue[_IssueJob | _PurseJob] = queue.SimpleQueue()
        self._current: CardInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._healthy: bool | None = None

    # the session's CardWriter
    def request_issue(self, uid: str, member_id: str, card_seq: int, replacing: str = "") -> None:
        self._jobs.put(_IssueJob(uid, member_id, card_seq, replacing))

    def request_purse(self, uid: str, balance_fen: int, points: int) -> None:
        self._jobs.put(_PurseJob(uid, balance_fen, points))

    def step(self) -> None:
        """One round: look for a card, or run queued writes and watch for its removal."""
        self._step()
        self._report(True)

    def _step(self) -> None:
        if self._current is None:
            self._fail_jobs("card_gone")
            info = self.reader.wait_for_card(self.poll_s)
            if info is None:
                return
            self._current = info
            try:
                read = self.cards.read(self.reader, info)
            except CardGone:
                self._current = None
                return
            except ReaderGone:
                self._current = None
                raise
            except Exception as exc:  # a card that breaks the card layer is simply not ours
                log.info("card %s could not be read: %s", uid_hex(info), type(exc).__name__)
                read = CardRead(uid_hex(info), CardKind.FOREIGN, "unreadable")
            self.post(CardPresented(read))
            return
        self._run_jobs()
        if self.reader.wait_for_removal(self.poll_s):
            uid = uid_hex(self._current)
            self._current = None
            self.post(CardRemoved(uid))

    def _take_jobs(self) -> list[_IssueJob | _PurseJob]:
        jobs: list[_IssueJob | _PurseJob] = []
        while True:
            try:
                jobs.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        newest_purse = {job.uid: job for job in jobs if isinstance(job, _PurseJob)}
        return [job for job in jobs if not isinstance(job, _PurseJob) or newest_purse[job.uid] is job]

    def _run_jobs(self) -> None:
        assert self._current is not None
        jobs = self._take_jobs()
        for i, job in enumerate(jobs):
            if job.uid != uid_hex(self._current):
                self.post(_answer(job, "card_gone"))
                continue
            try:
                self.post(self._run(job, self._current))
            except ReaderGone:
                for unanswered in jobs[i:]:
                    self.post(_answer(unanswered, "ReaderGone"))
                raise
            except Exception as exc:  # CardGone, CardFormatError...: a torn write left old or new
                log.info("card %s: %s failed: %s", job.uid, type(job).__name__, type(exc).__name__)
                self.post(_answer(job, type(exc).__name__))

    def _run(self, job: _IssueJob | _PurseJob, info: CardInfo) -> CardIssued | PurseWritten:
        if isinstance(job, _IssueJob):
            self.cards.issue(self.reader, info, job.member_id, job.card_seq, replacing=job.replacing)
            return CardIssued(job.uid)
        return PurseWritten(job.uid, self.cards.write_purse(self.reader, info, job.balance_fen, job.points))

    def _fail_jobs(self, problem: str) -> None:
        for job in self._take_jobs():
            self.post(_answer(job, problem))

    def _report(self, healthy: bool, detail: str = "") -> None:
        if healthy != self._healthy:
            self._healthy = healthy
            self.post(ReaderStatus(healthy, detail))

    def run(self) -> None:
        """The thread's loop; a vanished reader is reported and retried, never fatal."""
        while not self._stop.is_set():
            self.heartbeat()
            try:
                self.step()
            except ReaderGone as exc:
                self._current = None
                self._report(False, f"reader gone: {exc}")
                self._stop.wait(self.retry_s)
            except ReaderError as exc:
                self._report(False, f"{type(exc).__name__}: {exc}")
                self._stop.wait(min(self.retry_s, 0.2))

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _answer(job: _IssueJob | _PurseJob, problem: str) -> CardIssued | PurseWritten:
    if isinstance(job, _IssueJob):
        return CardIssued(job.uid, problem)
    return PurseWritten(job.uid, problem=problem)
