"""Which outbox transactions to publish now, and which to forget on HQ's ack: a plain state machine.

No MQTT, no store, no threads: the sync client hands it the head of the outbox and HQ's acks,
and it answers with batches to publish and seqs to forget. Time comes from an injected clock
(seconds, monotonic), so tests drive ack timeouts without waiting.

The promise it keeps: every transaction is sent, and sent again, until HQ acknowledges it, and it
is forgotten only when an ack from HQ names it (never on the broker's PUBACK). At most a window of
batches is in flight; without progress for `ack_timeout_s`, or after a reconnect, sending starts
again from the lowest unacknowledged seq (HQ applies each seq once, so repeats are harmless)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kiosk.ledger.txn import Txn


def consecutive_batches(txns: Sequence[Txn], size: int) -> list[tuple[Txn, ...]]:
    """Split seq-ordered txns into batches of at most `size` consecutive seqs (acks can leave holes)."""
    out: list[list[Txn]] = []
    for txn in txns:
        if out and len(out[-1]) < size and out[-1][-1].seq + 1 == txn.seq:
            out[-1].append(txn)
        else:
            out.append([txn])
    return [tuple(b) for b in out]


@dataclass(frozen=True)
class AckVerdict:
    """What to do with one ack: forget these seqs, or refuse the ack whole (`problem`)."""

    forget: tuple[int, ...] = ()
    problem: str = ""


class OutboxSender:
    def __init__(
        self,
        clock: Callable[[], float],
        batch_size: int,
        window_batches: int,
        ack_timeout_s: float,
        on_resend: Callable[[str], None] = lambda why: None,
    ):
        self.clock, self.batch_size, self.window_batches = clock, batch_size, window_batches
        self.ack_timeout_s = ack_timeout_s
        self.on_resend = on_resend
        self.sent_through = 0  # highest seq published since the last rewind (0: none)
        self.last_progress = clock()

    @property
    def window(self) -> int:
        """How many of the outbox's oldest transactions may be in flight at once."""
        return self.batch_size * self.window_batches

    def rewind(self, why: str) -> None:
        """Send everything unacknowledged again, from the lowest seq (after a reconnect, a timeout)."""
        if self.sent_through:
            self.on_resend(why)
        self.sent_through = 0
        self.last_progress = self.clock()

    def due(self, pending: Sequence[Txn]) -> list[tuple[Txn, ...]]:
        """The batches to publish now, given the outbox's oldest `window` txns in seq order.
        Call `published(batch)` for each one that went out; stop at the first that did not."""
        now = self.clock()
        if not pending:
            self.last_progress = now
            return []
        lowest = pending[0].seq
        if self.sent_through >= lowest and now - self.last_progress > self.ack_timeout_s:
            self.rewind(f"no ack for {self.ack_timeout_s:g} s")
        unsent = [t for t in pending if t.seq > self.sent_through]
        if not unsent:
            return []
        if self.sent_through < lowest:  # nothing of the outbox is in flight: the timeout runs from now
            self.last_progress = now
        return consecutive_batches(unsent, self.batch_size)

    def published(self, batch: tuple[Txn, ...]) -> None:
        self.sent_through = batch[-1].seq

    def judge_ack(self, ranges: Sequence[tuple[int, int]], own_last: int, floor: int) -> AckVerdict:
        """Which seqs an ack lets the kiosk forget. `own_last` is the last seq this kiosk committed,
        `floor` its lowest unacknowledged one (seqs below it are forgotten already). An ack naming a
        seq the kiosk never committed is refused whole: HQ cannot have committed it."""
        if ranges and ranges[-1][1] > own_last:
            return AckVerdict(problem=f"acks seq {ranges[-1][1]} beyond the last committed {own_last}")
        return AckVerdict(forget=tuple(s for lo, hi in ranges for s in range(max(lo, floor), hi + 1)))

    def progressed(self) -> None:
        """An ack made the store forget something: the ack timeout runs from now."""
        self.last_progress = self.clock()
