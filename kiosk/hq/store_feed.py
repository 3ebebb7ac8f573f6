"""HQ -> the kiosks of each store: account deltas (protocol v2), off the receivers' hot path.

A round (the publisher's poll) compares the devices' applied seqs with those it last published
(`feed_published`, claimed compare-and-set so one process publishes each step). For the events
applied in between it notes where each member was seen (`member_seen`: the store of the kiosk,
home = signed up there), then reads the changed members' rows (after the seqs: the rows hold at
least what `applied` says) and, for each store holding one of them (home, or seen there in the
last `replica_seen_days`), keeps an `account_delta` in `store_deltas` with the store's next seq and
publishes it on the store's topic. A kiosk that missed some asks for them (resync "deltas") and
gets the kept ones again on its own topic (or `deltas_unavailable` when they are past the retention,
kiosk/hq/delta_retention.py). The first round after an upgrade only notes where the
members were seen: the kiosks load a snapshot first anyway."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, datetime

from kiosk.hq.db import Database
from kiosk.hq.delta_retention import kept_run
from kiosk.hq.store_snapshots import rows_body, rows_texts, seen_cutoff, seen_text, split_rows
from kiosk.ledger.txn import Kind
from kiosk.ledger.utc import parse_utc, utc_text
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, store_topic

log = logging.getLogger(__name__)

PUBLISHED_KEY = "feed_published"
DELTA_BUDGET = 512 * 1024  # bytes of rows per delta: the kiosk journals a delta's rows as they come
RESEND_MAX = 500  # deltas sent again for one resync (the kiosk asks again for the rest)


def _advance(db: Database) -> tuple[dict[str, int] | None, dict[str, int], set[str]] | None:
    """For the one process that moves the mark: (published before, applied now, members changed),
    with where they were seen noted in the same transaction (a snapshot reads both or neither)."""

    def work(db: Database):
        db.execute("INSERT INTO settings (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING", (PUBLISHED_KEY,))
        row = db.one(f"SELECT value FROM settings WHERE key = ?{db.for_update()}", (PUBLISHED_KEY,))
        before = json.loads(row[0]) if row[0] else None
        now = {d: int(s) for d, s in db.all("SELECT device_id, applied_seq FROM progress") if s}
        if before == now:
            return None
        changed = note_seen(db, before or {}, now)
        db.execute("UPDATE settings SET value = ? WHERE key = ?", (json.dumps(now, sort_keys=True), PUBLISHED_KEY))
        return before, now, changed

    return db.run(work)


def note_seen(db: Database, before: dict[str, int], now: dict[str, int]) -> set[str]:
    """Record (in the caller's transaction) where the members of the newly applied events were
    seen; returns their ids."""
    stores = dict(db.all("SELECT device_id, store FROM devices"))
    seen: dict[tuple[str, str], list] = {}
    changed: set[str] = set()
    for device, high in now.items():
        low = before.get(device, 0)
        if high <= low:
            continue
        for member_id, kind, at in db.all(
            "SELECT member_id, kind, at FROM events WHERE device_id = ? AND seq > ? AND seq <= ?", (device, low, high)
        ):
            changed.add(member_id)
            store = stores.get(device)
            if store is None:
                continue  # HQ's own operations: seen at no store
            moment = parse_utc(at)  # events.at is isoformat's "+00:00"; member_seen.at is seen_text's
            got = seen.setdefault((member_id, store), [0, moment])
            got[0] |= kind == Kind.SIGN_UP.value
            got[1] = max(got[1], moment)
    greatest = "MAX" if db.dialect == "sqlite" else "GREATEST"
    db.executemany(
        "INSERT INTO member_seen (member_id, store, home, at) VALUES (?, ?, ?, ?) ON CONFLICT (member_id, store) "
        f"DO UPDATE SET home = {greatest}(member_seen.home, excluded.home), at = {greatest}(member_seen.at, excluded.at)",
        [(mid, store, int(home), seen_text(at)) for (mid, store), (home, at) in sorted(seen.items())],
    )
    return changed


def mark_seen(db: Database, member_id: str, store: str, at: datetime) -> None:
    """A member fetched by a kiosk of `store` is held there from now on (its deltas follow)."""
    db.run(lambda db: db.execute(
        "INSERT INTO member_seen (member_id, store, home, at) VALUES (?, ?, 0, ?) ON CONFLICT (member_id, store) "
        "DO UPDATE SET at = excluded.at", (member_id, store, seen_text(at))))


def publish_deltas(db: Database, client, now: datetime | None = None) -> int:
    """One round; returns how many deltas went out."""
    advanced = _advance(db)
    if advanced is None:
        return 0
    before, applied, changed = advanced
    if before is None or not changed:
        return 0
    now = now or datetime.now(UTC)
    ids = sorted(changed)
    holders: dict[str, set[str]] = defaultdict(set)
    cutoff = seen_cutoff(db, now)
    for i in range(0, len(ids), 1000):
        part = ids[i : i + 1000]
        for member_id, store in db.all(
            f"SELECT member_id, store FROM member_seen WHERE member_id IN {db.in_list(part)} AND (home = 1 OR at >= ?)",
            [*part, cutoff],
        ):
            holders[store].add(member_id)
    devices_of: dict[str, list[str]] = defaultdict(list)
    for device, store in db.all("SELECT device_id, store FROM devices"):
        devices_of[store].append(device)
    sent = 0
    for store in sorted(holders):
        texts = rows_texts(db, sorted(holders[store]))
        own = {d: applied.get(d, 0) for d in sorted(devices_of[store])}
        for part in split_rows(texts, DELTA_BUDGET):
            payload = _keep_delta(db, store, own, rows_body(part), now)
            client.publish(store_topic(store, "account_delta"), payload, qos=1)
            sent += 1
    log.info("published %d account deltas (%d members changed, %d stores)", sent, len(changed), len(holders))
    return sent


def _keep_delta(db: Database, store: str, applied: dict[str, int], rows: str, now: datetime) -> bytes:
    def work(db: Database) -> bytes:
        row = db.one("SELECT MAX(seq) FROM store_deltas WHERE store = ?", (store,))
        seq = int(row[0] or 0) + 1 if row else 1
        head = {"type": "account_delta", "v": m.AccountDelta.SPEC.version, "store": store, "seq": seq,
                "applied": applied}
        payload = json.dumps(head, separators=(",", ":"))[:-1] + ',"rows":' + rows + ',"at":"' + utc_text(now) + '"}'
        db.execute("INSERT INTO store_deltas (store, seq, at, body) VALUES (?, ?, ?, ?)", (store, seq, utc_text(now), payload))
        return payload.encode()

    return db.run(work)


def resend_deltas(db: Database, client, store: str, device: str, after: int) -> int:
    """The store's kept deltas after `after`, on the kiosk's own topic (a resync "deltas"); or,
    when HQ no longer keeps the next one (pruned) or never numbered that far (the kiosk is ahead:
    HQ restored from a backup), `deltas_unavailable`, and the kiosk loads a fresh snapshot."""
    topics = DeviceTopics(store, device)
    run = kept_run(db, store)
    reason = "ahead" if after > run.newest else "pruned" if after < run.oldest - 1 else ""
    if reason:
        answer = m.DeltasUnavailable(store, after, run.oldest, run.newest, reason, datetime.now(UTC))
        client.publish(topics.topic("deltas_unavailable"), m.encode(answer), qos=1)
        log.info("deltas after %d for %s not available (%s; HQ keeps %d..%d): a snapshot follows",
                 after, device, reason, run.oldest, run.newest)
        return 0
    rows = db.all("SELECT body FROM store_deltas WHERE store = ? AND seq > ? ORDER BY seq LIMIT ?", (store, after, RESEND_MAX))
    topic = topics.topic("account_delta")
    for (body,) in rows:
        client.publish(topic, body.encode(), qos=1)
    return len(rows)
