"""HQ -> kiosks: what the SQL ledger says, sent over MQTT in the protocol's messages.

SQL is the outbox: a change (a blocked card, new rules, a member kiosks must learn about) is
committed first, then published by whichever process gets there (`kiosk hq serve` polls; an
admin command publishes at once when it can reach the broker). Claims in SQL keep several
receivers from sending the same thing twice; kiosks ignore repeats by version anyway."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from kiosk.hq.broker import publish_message
from kiosk.hq.db import Database
from kiosk.hq.delta_retention import prune_deltas
from kiosk.hq.ledger import load_state
from kiosk.hq.rules_scopes import CHAIN, mark_key, own_stores, scoped_rules
from kiosk.hq.snapshot_retention import FOLLOWS_KEY, prune_snapshots
from kiosk.hq.store_feed import publish_deltas, resend_deltas
from kiosk.ledger.rules import Rules
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, chain_topic, store_topic

log = logging.getLogger(__name__)

PRUNED_KEY = "deltas_pruned_window"  # the PRUNE_EVERY_S window whose pruning a process claimed
PRUNE_EVERY_S = 60


# -- settings --------------------------------------------------------------------------------


def get_setting(db: Database, key: str, default: str = "") -> str:
    row = db.one("SELECT value FROM settings WHERE key = ?", (key,))
    return row[0] if row else default


def put_setting(db: Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def claim_setting(db: Database, key: str, old: str, new: str) -> bool:
    """Compare-and-set: True for the one process that moved `key` from `old` to `new`."""

    def work(db: Database) -> bool:
        db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, old))
        return db.execute("UPDATE settings SET value = ? WHERE key = ? AND value = ?", (new, key, old)).rowcount == 1

    return db.run(work)


# -- blocked cards ---------------------------------------------------------------------------


def blocked_version(db: Database) -> int:
    row = db.one("SELECT MAX(version) FROM blocked_changes")
    return int(row[0] or 0) if row else 0


def blocked_list(db: Database, version: int | None = None) -> tuple[int, frozenset[str]]:
    """The full list at `version` (default: the newest), folded from the changes so the list
    and its version always match."""
    version = blocked_version(db) if version is None else version
    blocked: dict[str, bool] = {}
    for uid, flag in db.all("SELECT uid, blocked FROM blocked_changes WHERE version <= ? ORDER BY version", (version,)):
        blocked[uid] = bool(flag)
    return version, frozenset(uid for uid, on in blocked.items() if on)


def blocked_deltas(db: Database, after: int, upto: int) -> list[m.BlockedDelta]:
    at = datetime.now(UTC)
    rows = db.all(
        "SELECT version, uid, blocked FROM blocked_changes WHERE version > ? AND version <= ? ORDER BY version",
        (after, upto),
    )
    return [m.BlockedDelta(int(v), (u,) if b else (), () if b else (u,), at) for v, u, b in rows]


# -- rules -----------------------------------------------------------------------------------


def rules_in_force(db: Database) -> tuple[dict, Rules] | None:
    """The chain's document (a store may run a newer one of its own: kiosk/hq/rules_scopes.py)."""
    return scoped_rules(db, CHAIN)


# -- the publisher ---------------------------------------------------------------------------


class Publisher:
    """Sends what SQL holds and kiosks have not been sent yet, through a connected paho client."""

    def __init__(self, db: Database, client):
        self.db, self.client = db, client

    def publish_pending(self) -> int:
        """Blocked-list steps, rules and requested snapshots not yet published; returns how many
        messages went out."""
        return self._blocked() + self._rules() + self._snapshots() + self._notes() + publish_deltas(self.db, self.client)

    def prune_deltas(self, now: datetime | None = None) -> int:
        """Once a PRUNE_EVERY_S window, for the one process that claims it: the store deltas and
        the kiosks' store snapshots past their retention go (kiosk/hq/delta_retention.py,
        snapshot_retention.py). Returns how many rows went."""
        now = now or datetime.now(UTC)
        window, done = str(int(now.timestamp()) // PRUNE_EVERY_S), get_setting(self.db, PRUNED_KEY, "")
        if window == done or not claim_setting(self.db, PRUNED_KEY, done, window):
            return 0
        return prune_deltas(self.db, now) + prune_snapshots(self.db, now)

    def publish_all_retained(self) -> None:
        """At start: make the retained chain messages current (a crash may have left them behind)."""
        version, uids = blocked_list(self.db)
        if version:
            publish_message(self.client, chain_topic("blocked"), m.BlockedList(version, uids, datetime.now(UTC)))
        for store in (CHAIN, *own_stores(self.db)):
            found = scoped_rules(self.db, store)
            if found:
                self._send_rules(*found, store)

    def answer_resync(self, store: str, device: str, what: str, have_version: int = 0) -> None:
        topics = DeviceTopics(store, device)
        now = datetime.now(UTC)
        if what == "blocked":
            version, uids = blocked_list(self.db)
            if version == 0:  # nothing was ever blocked: the kiosk's empty list is current
                log.info("resync of blocked from %s: no list yet", device)
                return
            publish_message(self.client, topics.topic("blocked"), m.BlockedList(version, uids, now))
        elif what == "snapshot":
            self.send_snapshot(store, device)
        elif what == "deltas":
            resend_deltas(self.db, self.client, store, device, have_version)
        elif what == "rules":  # the chain's document and the store's own: the kiosk takes the newer
            for scope in (CHAIN, store) if store in own_stores(self.db) else (CHAIN,):
                found = scoped_rules(self.db, scope)
                if found:
                    self._send_rules(*found, scope)
        else:
            log.info("resync of %s from %s: nothing to send (HQ has no remote config)", what, device)

    def send_snapshot(self, store: str, device: str) -> None:
        state = load_state(self.db)
        own = state.last_seq.get(device, 0)
        snapshot_id = time.time_ns() // 1000  # increasing per device, across receivers
        msg = m.Snapshot(snapshot_id, own, state, datetime.now(UTC))
        publish_message(self.client, DeviceTopics(store, device).topic("snapshot"), msg)

    def _blocked(self) -> int:
        newest = blocked_version(self.db)
        sent = int(get_setting(self.db, "published_blocked_version", "0"))
        if newest <= sent or not claim_setting(self.db, "published_blocked_version", str(sent), str(newest)):
            return 0
        deltas = blocked_deltas(self.db, sent, newest)
        for delta in deltas:
            publish_message(self.client, chain_topic("blocked_delta"), delta)
        version, uids = blocked_list(self.db, newest)
        publish_message(self.client, chain_topic("blocked"), m.BlockedList(version, uids, datetime.now(UTC)))
        log.info("published blocked list version %d (%d steps, %d cards)", version, len(deltas), len(uids))
        return len(deltas) + 1

    def _rules(self) -> int:
        """Each scope (the chain, each store with its own document) whose document is newer than
        what its topic last carried."""
        count = 0
        for store in (CHAIN, *own_stores(self.db)):
            found = scoped_rules(self.db, store)
            if not found:
                continue
            key, sent = mark_key(store), get_setting(self.db, mark_key(store), "0")
            if int(sent) >= found[1].version or not claim_setting(self.db, key, sent, str(found[1].version)):
                continue
            self._send_rules(*found, store)
            count += 1
        return count

    def _send_rules(self, doc: dict, rules: Rules, store: str) -> None:
        msg = m.RulesUpdate(doc, rules, datetime.now(UTC))
        topic = store_topic(store, "rules") if store else chain_topic("rules")
        publish_message(self.client, topic, msg)
        log.info("published rules version %d on %s", rules.version, topic)

    def _snapshots(self) -> int:
        wanted = self.db.all("SELECT key FROM settings WHERE key LIKE ?", ("snapshot_due:%",))
        count = 0
        for (key,) in wanted:
            def take(db: Database, key: str = key) -> bool:
                return db.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount == 1

            if not self.db.run(take):
                continue
            device = key.split(":", 1)[1]
            row = self.db.one("SELECT store FROM devices WHERE device_id = ?", (device,))
            if row and not follows_store_feed(self.db, device):
                self.send_snapshot(row[0], device)
                count += 1
        return count


    def _notes(self) -> int:
        """Each store whose members' notes changed gets all of them again, retained on its own
        topic only (the console marks `notes_due:STORE`; kiosk/hq/console/notes.py)."""
        wanted = self.db.all("SELECT key FROM settings WHERE key LIKE ?", ("notes_due:%",))
        if not wanted:
            return 0
        from kiosk.hq.notes_key import NotesKeyError, load_key, open_note

        try:
            key = load_key()
        except NotesKeyError as exc:
            log.warning("member notes wait to be published: %s", exc)
            return 0
        count = 0
        for (due,) in wanted:
            if self.db.run(lambda db, due=due: db.execute("DELETE FROM settings WHERE key = ?", (due,)).rowcount) != 1:
                continue  # another receiver took it
            store = due.split(":", 1)[1]
            rows = self.db.all("SELECT member_id, id, at, author, key_id, sealed FROM member_notes "
                               "WHERE store = ? ORDER BY id", (store,))
            notes = tuple(m.NoteLine(mid, int(nid), at, author, *open_note(key, mid, int(nid), kid, sealed))
                          for mid, nid, at, author, kid, sealed in rows)
            msg = m.StoreNotes(time.time_ns() // 1000, notes, datetime.now(UTC))
            publish_message(self.client, store_topic(store, "member_notes"), msg)
            log.info("published %d member notes to store %s", len(notes), store)
            count += 1
        return count


def follows_store_feed(db: Database, device: str) -> bool:
    """A kiosk that asked for its store's snapshot (protocol v2) gets every change in its store's
    deltas: a whole-chain `snapshot` would replace its replica with the whole chain (a million
    members) after every HQ operation. Its snapshot kept, or pruned (noted in settings)."""
    if db.one("SELECT 1 FROM store_snapshots WHERE device_id = ? LIMIT 1", (device,)) is not None:
        return True
    return db.one("SELECT 1 FROM settings WHERE key = ?", (FOLLOWS_KEY + device,)) is not None


def request_snapshots(db: Database) -> None:
    """Every known kiosk should get a fresh account snapshot (caller's transaction)."""
    for (device,) in db.all("SELECT device_id FROM devices"):
        put_setting(db, f"snapshot_due:{device}", "1")
