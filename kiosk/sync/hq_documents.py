"""What HQ sends the kiosk to keep, whole and versioned: the rules, the lost-card list, the
whole-chain account snapshot (protocol v1) and the home store's member notes.

Runs inside SyncClient.poll (the store's owner thread). Each document only moves forward: an
older version is refused as out of date, a gap in the lost-card deltas asks HQ to send it again."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kiosk.ledger.rules import RulesError
from kiosk.store.errors import ImpossibleSnapshot, StaleSnapshot
from kiosk.sync import messages as m
from kiosk.sync.blocked import META_KEY as BLOCKED_KEY
from kiosk.sync.blocked import BlockedCards

log = logging.getLogger("kiosk.sync")

SNAPSHOT_KEY = "sync.snapshot_id"


class HqDocuments:
    """A part of the SyncClient (`client`): its store, rejections and resync requests."""

    def __init__(self, client: Any, now: datetime) -> None:
        self.client = client
        self.store = client.store
        self.blocked = BlockedCards.from_json(self.store.meta_get(BLOCKED_KEY))
        self.notes = m.StoreNotes(1, (), now)  # in memory only: the retained message brings them back

    def handlers(self) -> dict:
        return {
            m.RulesUpdate: self._on_rules,
            m.BlockedList: lambda msg, topic: self._on_blocked(self.blocked.apply_full(msg), topic),
            m.BlockedDelta: lambda msg, topic: self._on_blocked(self.blocked.apply_delta(msg), topic),
            m.Snapshot: self._on_snapshot,
            m.StoreNotes: self._on_notes,
        }

    def _on_rules(self, msg: m.RulesUpdate, topic: str) -> None:
        current = self.store.ledger.rules.version
        if msg.version <= current:
            if msg.version < current:
                self.client.reject(topic, m.OUT_OF_DATE, "rules.version", f"v{msg.version}, v{current} in force")
            return
        try:
            self.store.put_rules(msg.doc)
        except RulesError as exc:
            self.client.reject(topic, m.MALFORMED, f"rules.{exc.field}", exc.problem)
            return
        log.info("rules v%s in force (was v%s)", msg.version, current)
        self.client.status_due = True

    def _on_notes(self, msg: m.StoreNotes, topic: str) -> None:
        """The home store's member notes for the staff menu: the newest version, replaced whole."""
        if msg.version > self.notes.version:
            self.notes = msg

    def _on_blocked(self, outcome, topic: str) -> None:
        if outcome.applied:
            self.store.meta_put(BLOCKED_KEY, self.blocked.to_json())
            self.client.status_due = True
            return
        if outcome.reason:
            self.client.reject(topic, m.OUT_OF_DATE, "version", outcome.reason)
        if outcome.gap:
            self.client.publish_resync("blocked", self.blocked.version, outcome.reason)

    def _on_snapshot(self, msg: m.Snapshot, topic: str) -> None:
        last = self.store.meta_get(SNAPSHOT_KEY) or 0
        if msg.snapshot_id <= last:
            self.client.reject(topic, m.OUT_OF_DATE, "snapshot_id", f"{msg.snapshot_id} not after {last}")
            return
        try:
            self.store.replace_state_from_hq(msg.state, msg.own_high_water)
        except StaleSnapshot as exc:
            self.client.reject(topic, m.OUT_OF_DATE, "own_high_water", str(exc))
            self.client.publish_resync("snapshot", last, "snapshot misses transactions this kiosk no longer holds")
            return
        except ImpossibleSnapshot as exc:
            self.client.reject(topic, m.MALFORMED, "own_high_water", str(exc))
            return
        self.store.meta_put(SNAPSHOT_KEY, msg.snapshot_id)
        log.info("account snapshot %s applied", msg.snapshot_id)
