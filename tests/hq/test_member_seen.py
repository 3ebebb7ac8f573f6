"""`member_seen.at` is written by two paths — the delta feed noting where the members of applied
events were seen (from `events.at`, which HQ keeps in isoformat's "+00:00" spelling) and a member
fetched by a kiosk (`mark_seen`) — and compared in SQL with the cutoff of `replica_seen_days`. Both
paths must write the one spelling (seen_text: utc_text to the microsecond), or text order stops
being time order: "…02:00:00+00:00" sorts before "…02:00:00Z" although they are the same moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.hq.devices import touch
from kiosk.hq.ledger import now_text, store_events
from kiosk.hq.store_feed import mark_seen, note_seen
from kiosk.hq.store_snapshots import SEEN, seen_text
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.ledger.utc import parse_utc

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # a whole second: utc_text writes no fraction for it
MICRO = timedelta(microseconds=1)


def _visits(moments: list[datetime]) -> tuple[list, list[str]]:
    """Members signed up at store S9's kiosk D9 (their home), each then topping up at S1's D1 at
    one of `moments` (seen at S1, not home there)."""
    state = LedgerState()
    home = Ledger(state, default_rules(), "D9", pin_params=FAST_FOR_TESTS)
    visited = Ledger(state, default_rules(), "D1", pin_params=FAST_FOR_TESTS)
    txns = []
    for i, at in enumerate(moments):
        uid = f"04AB{i:04X}"
        txns.append(home.sign_up(uid, 1, f"1390000{i:04d}", "246810", T0 - timedelta(days=30)))
        state.apply(txns[-1])
        txns.append(visited.top_up(uid, 1000, f"P{i}", at))
        state.apply(txns[-1])
    return txns, [t.member_id for t in txns[::2]]


def _kiosks(db) -> None:
    db.run(lambda db: touch(db, "D1", "S1", now_text()))
    db.run(lambda db: touch(db, "D9", "S9", now_text()))


def _feed(db, txns) -> None:
    """The delta feed's path: the events stored, then where their members were seen noted."""
    store_events(db, txns)
    db.run(lambda db: note_seen(db, {}, {"D1": sum(t.device_id == "D1" for t in txns), "D9": len(txns) // 2}))


def test_both_writers_use_one_spelling_and_the_cutoff_holds_at_its_boundary(hq_db):
    db = hq_db
    _kiosks(db)
    txns, (at_t0, at_half) = _visits([T0, T0 + timedelta(milliseconds=500)])
    _feed(db, txns)
    fetched = "M-fetched-1"
    mark_seen(db, fetched, "S1", T0 + timedelta(milliseconds=250))  # a member fetched at a tap

    rows = dict(db.all("SELECT member_id, at FROM member_seen WHERE store = ?", ("S1",)))
    assert sorted(rows) == sorted([at_t0, at_half, fetched])
    assert {member: seen_text(parse_utc(at)) for member, at in rows.items()} == rows  # one spelling
    assert parse_utc(rows[at_t0]) == T0 and parse_utc(rows[fetched]) == T0 + timedelta(milliseconds=250)

    def seen_since(cutoff: datetime) -> set[str]:
        return {r[0] for r in db.all(SEEN, ("S1", seen_text(cutoff)))}

    assert seen_since(T0) == {at_t0, at_half, fetched}  # seen exactly at the cutoff: still counts
    assert seen_since(T0 + MICRO) == {at_half, fetched}
    assert seen_since(T0 + timedelta(milliseconds=250)) == {at_half, fetched}
    assert seen_since(T0 + timedelta(milliseconds=250) + MICRO) == {at_half}
    assert seen_since(T0 + timedelta(milliseconds=500) + MICRO) == set()


def test_seen_again_later_keeps_the_later_time_whichever_path_wrote_it(hq_db):
    db = hq_db
    _kiosks(db)
    txns, (member,) = _visits([T0 + timedelta(seconds=1)])
    mark_seen(db, member, "S1", T0 + timedelta(microseconds=999_999))  # fetched just before its top-up
    _feed(db, txns)
    (at,) = db.one("SELECT at FROM member_seen WHERE member_id = ? AND store = 'S1'", (member,))
    assert at == seen_text(T0 + timedelta(seconds=1))
