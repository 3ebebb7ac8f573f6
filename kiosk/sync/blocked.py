"""The kiosk's copy of HQ's blocked (lost) card list: a version plus a set of uids.

HQ sends the full list now and then and one-step deltas in between. A delta that does not
follow the version held is a gap: the list is left as it is and HQ is asked for the full list."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kiosk.sync.messages import BlockedDelta, BlockedList

META_KEY = "sync.blocked"


@dataclass(frozen=True)
class BlockedOutcome:
    applied: bool
    gap: bool = False  # a resync of the full list is needed
    reason: str = ""  # why it was rejected ("" when applied or simply already held)


class BlockedCards:
    """Thread-safe reads (the session asks `is_blocked` while sync updates the list)."""

    def __init__(self, version: int = 0, uids: frozenset[str] = frozenset()):
        self._lock = threading.Lock()
        self._version, self._uids = version, frozenset(uids)

    @property
    def version(self) -> int:
        return self._version

    def is_blocked(self, uid: str) -> bool:
        return uid.upper() in self._uids

    def __len__(self) -> int:
        return len(self._uids)

    def apply_full(self, msg: BlockedList) -> BlockedOutcome:
        with self._lock:
            if msg.version == self._version:
                return BlockedOutcome(False)  # the retained list again, after a reconnect: nothing to say
            if msg.version < self._version:
                return BlockedOutcome(False, reason=f"full list v{msg.version} is older than v{self._version}")
            self._version, self._uids = msg.version, msg.uids
            return BlockedOutcome(True)

    def apply_delta(self, msg: BlockedDelta) -> BlockedOutcome:
        with self._lock:
            if msg.version <= self._version:
                return BlockedOutcome(False, reason=f"delta v{msg.version} already held (v{self._version})")
            if msg.version != self._version + 1:
                return BlockedOutcome(
                    False, gap=True, reason=f"delta v{msg.version} after v{self._version}: versions missing"
                )
            self._uids = (self._uids | frozenset(msg.block)) - frozenset(msg.unblock)
            self._version = msg.version
            return BlockedOutcome(True)

    def to_json(self) -> dict:
        return {"version": self._version, "uids": sorted(self._uids)}

    @classmethod
    def from_json(cls, data: object) -> BlockedCards:
        """From the store's meta value; anything unexpected gives an empty list at version 0,
        so the next full list from HQ is taken."""
        if not isinstance(data, dict):
            return cls()
        version, uids = data.get("version"), data.get("uids")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0 or not isinstance(uids, list):
            return cls()
        if not all(isinstance(u, str) for u in uids):
            return cls()
        return cls(version, frozenset(uids))
