"""What HQ holds and pushes to the kiosks: the rules, an account snapshot, the blocked cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.ledger.codec import CodecError, state_from_dict, state_to_dict
from kiosk.ledger.rules import Rules, RulesError, parse_rules
from kiosk.ledger.state import LedgerState
from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.spec import CHAIN, DEVICE, DOWN, MIB, STORE, Message, MessageSpec, Place, utc_text

MAX_BLOCKED = 500_000  # uids in one full blocked list
MAX_DELTA = 10_000  # uids blocked (or unblocked) in one delta


@dataclass(frozen=True)
class RulesUpdate(
    Message,
    spec=MessageSpec("rules", DOWN, MIB, (Place(STORE, retained=True), Place(CHAIN, retained=True))),
):
    """HQ -> kiosks, retained: the whole rules and catalogue document. Newest version wins."""

    doc: dict
    rules: Rules
    at: datetime

    @property
    def version(self) -> int:
        return self.rules.version

    def body(self) -> dict:
        return {"rules": self.doc, "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> RulesUpdate:
        doc = f.raw("rules")
        try:
            rules = parse_rules(doc, "mqtt")
        except RulesError as exc:
            raise f.fail(f"rules.{exc.field}", exc.problem) from None
        return cls(doc, rules, f.time("at"))


@dataclass(frozen=True)
class Snapshot(Message, spec=MessageSpec("snapshot", DOWN, 64 * MIB, (Place(DEVICE),))):
    """HQ -> one kiosk: HQ's accounts, then the kiosk re-applies its own txns above own_high_water."""

    snapshot_id: int  # increases with every snapshot HQ sends this device
    own_high_water: int  # the highest seq of this device HQ's state includes
    state: LedgerState
    at: datetime

    def body(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "own_high_water": self.own_high_water,
            "state": state_to_dict(self.state),
            "at": utc_text(self.at),
        }

    @classmethod
    def read(cls, f: Fields) -> Snapshot:
        snapshot_id = f.int("snapshot_id", 1, 2**62)
        high = f.int("own_high_water", 0, 2**62)
        try:
            state = state_from_dict(f.raw("state"))
        except CodecError as exc:
            raise f.fail("state" + exc.path.removeprefix("$"), exc.problem) from None
        except (TypeError, ValueError, KeyError) as exc:
            raise f.fail("state", f"does not describe a ledger state ({type(exc).__name__})") from None
        return cls(snapshot_id, high, state, f.time("at"))


@dataclass(frozen=True)
class BlockedList(
    Message,
    spec=MessageSpec("blocked", DOWN, 16 * MIB, (Place(DEVICE), Place(CHAIN, retained=True))),
):
    """HQ -> kiosks: every blocked card uid, at `version` (retained on the chain topic; sent to one
    kiosk on its device topic as the answer to a resync)."""

    version: int
    uids: frozenset[str]
    at: datetime

    def body(self) -> dict:
        return {"version": self.version, "uids": sorted(self.uids), "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> BlockedList:
        version = f.int("version", 1, 2**62)
        uids = f.uids("uids", MAX_BLOCKED)
        return cls(version, frozenset(uids), f.time("at"))


@dataclass(frozen=True)
class BlockedDelta(Message, spec=MessageSpec("blocked_delta", DOWN, MIB, (Place(CHAIN),))):
    """HQ -> kiosks: the change from `version - 1` to `version`."""

    version: int
    block: tuple[str, ...]
    unblock: tuple[str, ...]
    at: datetime

    def body(self) -> dict:
        return {"version": self.version, "block": list(self.block), "unblock": list(self.unblock), "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> BlockedDelta:
        version = f.int("version", 1, 2**62)
        block = f.uids("block", MAX_DELTA)
        unblock = f.uids("unblock", MAX_DELTA)
        if set(block) & set(unblock):
            raise f.fail("unblock", "a uid cannot be blocked and unblocked in one step")
        return cls(version, block, unblock, f.time("at"))
