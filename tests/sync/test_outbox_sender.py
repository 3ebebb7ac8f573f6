"""The outbox sender as a plain state machine, without a broker: a clock the test moves, an
outbox, a lossy network both ways and an HQ that commits what reaches it and acks exactly that.

Over any sequence of drains, drops, duplicates, reorderings, timeouts, reconnects and new commits:
a transaction is forgotten only when an ack from HQ names it, never more than the window is sent
ahead, a transaction is sent again only after a rewind, and once the network behaves every
transaction reaches HQ and the outbox empties."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.sync.messages import ranges_of
from kiosk.sync.outbox_sender import OutboxSender
from tests.sync.support import make_txns

TXNS = make_txns("D1", 80)
ACK_TIMEOUT = 10.0


@dataclass
class World:
    batch: int
    window_batches: int
    committed: int  # the kiosk's last seq
    now: float = 0.0
    outbox: list[int] = field(default_factory=list)  # unacknowledged seqs, ascending
    up: list[tuple[int, ...]] = field(default_factory=list)  # events messages in the network
    down: list[tuple[tuple[int, int], ...]] = field(default_factory=list)  # acks in the network
    at_hq: set[int] = field(default_factory=set)
    sends: dict[int, int] = field(default_factory=dict)
    resends: int = 0

    def __post_init__(self) -> None:
        self.outbox = list(range(1, self.committed + 1))
        self.sender = OutboxSender(lambda: self.now, self.batch, self.window_batches, ACK_TIMEOUT,
                                   on_resend=self._resent)

    def _resent(self, why: str) -> None:
        self.resends += 1

    def drain(self, fail_after: int | None = None) -> None:
        pending = [TXNS[s - 1] for s in self.outbox[: self.sender.window]]
        batches = self.sender.due(pending)
        assert sum(len(b) for b in batches) <= len(pending) <= self.sender.window
        for i, batch in enumerate(batches):
            if fail_after is not None and i >= fail_after:
                return  # the publish failed: the rest waits
            self.sender.published(batch)
            seqs = tuple(t.seq for t in batch)
            assert seqs == tuple(range(seqs[0], seqs[-1] + 1))
            for s in seqs:
                self.sends[s] = self.sends.get(s, 0) + 1
            self.up.append(seqs)

    def hq_receives(self, pick: int, fate: str) -> None:
        if not self.up:
            return
        seqs = self.up.pop(pick % len(self.up))
        if fate == "drop":
            return
        if fate == "dup":
            self.up.append(seqs)
        self.at_hq.update(seqs)  # HQ commits, then acks exactly what this message held
        self.down.append(ranges_of(list(seqs)))

    def kiosk_receives(self, pick: int, fate: str) -> None:
        if not self.down:
            return
        ranges = self.down.pop(pick % len(self.down))
        if fate == "drop":
            return
        if fate == "dup":
            self.down.append(ranges)
        floor = self.outbox[0] if self.outbox else self.committed + 1
        verdict = self.sender.judge_ack(ranges, self.committed, floor)
        assert not verdict.problem  # a real HQ never acks what the kiosk did not commit
        forget = set(verdict.forget) & set(self.outbox)
        assert forget <= self.at_hq, "forgotten without HQ's ack"
        if forget:
            self.outbox = [s for s in self.outbox if s not in forget]
            self.sender.progressed()

    def check(self) -> None:
        assert set(range(1, self.committed + 1)) - self.at_hq <= set(self.outbox)
        assert all(n <= 1 + self.resends for n in self.sends.values()), "sent again without a rewind"


ACTIONS = st.one_of(
    st.tuples(st.just("drain"), st.none() | st.integers(0, 3)),
    st.tuples(st.just("hq"), st.integers(0, 50), st.sampled_from(["deliver", "deliver", "drop", "dup"])),
    st.tuples(st.just("kiosk"), st.integers(0, 50), st.sampled_from(["deliver", "deliver", "drop", "dup"])),
    st.tuples(st.just("tick"), st.floats(0, 2 * ACK_TIMEOUT)),
    st.tuples(st.just("reconnect"), st.booleans()),
    st.tuples(st.just("commit"), st.integers(1, 5)),
)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 7), st.integers(1, 4), st.integers(0, 40), st.lists(ACTIONS, max_size=60))
def test_any_network_forgets_only_on_ack_and_delivers_everything_once_it_behaves(batch, window, n, actions):
    w = World(batch, window, n)
    for action in actions:
        kind = action[0]
        if kind == "drain":
            w.drain(action[1])
        elif kind == "hq":
            w.hq_receives(action[1], action[2])
        elif kind == "kiosk":
            w.kiosk_receives(action[1], action[2])
        elif kind == "tick":
            w.now += action[1]
        elif kind == "reconnect":
            if action[1]:  # the broker lost what it held
                w.up.clear()
                w.down.clear()
            w.sender.rewind("reconnected")
        elif kind == "commit":
            added = range(w.committed + 1, min(len(TXNS), w.committed + action[1]) + 1)
            w.outbox.extend(added)
            w.committed = max(w.committed, *added) if added else w.committed
        w.check()
    # the network behaves from now on: every transaction reaches HQ and is forgotten
    rounds = 0
    while w.outbox:
        rounds += 1
        assert rounds <= 3 + len(TXNS) // (batch * window) * 2, f"stuck with {w.outbox[:5]}..."
        w.now += ACK_TIMEOUT + 1
        w.drain()
        while w.up or w.down:
            w.hq_receives(0, "deliver")
            w.kiosk_receives(0, "deliver")
        w.check()
    assert w.at_hq >= set(range(1, w.committed + 1))


def test_no_resend_before_the_ack_timeout_and_a_resend_after_it():
    now = [0.0]
    resent: list[str] = []
    sender = OutboxSender(lambda: now[0], 5, 2, ACK_TIMEOUT, on_resend=resent.append)
    pending = TXNS[:20]
    first = sender.due(pending)
    assert [len(b) for b in first] == [5, 5, 5, 5]
    for b in first:
        sender.published(b)
    now[0] += ACK_TIMEOUT  # exactly the timeout: not yet
    assert sender.due(pending) == [] and resent == []
    now[0] += 0.01
    again = sender.due(pending)
    assert [t.seq for b in again for t in b] == list(range(1, 21)) and resent == ["no ack for 10 s"]


def test_an_ack_beyond_the_last_commit_is_refused_whole():
    sender = OutboxSender(lambda: 0.0, 5, 2, ACK_TIMEOUT)
    verdict = sender.judge_ack(((1, 3), (9, 12)), own_last=10, floor=1)
    assert verdict.forget == () and "12" in verdict.problem
    assert sender.judge_ack(((1, 3), (9, 10)), own_last=10, floor=2).forget == (2, 3, 9, 10)
