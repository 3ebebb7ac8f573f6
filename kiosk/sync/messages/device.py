"""How one kiosk is and what it asks for: `status` and `resync` up, its remote `config` down."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kiosk.sync.messages.fields import Fields
from kiosk.sync.messages.spec import DEVICE, DOWN, KIB, UP, Message, MessageSpec, Place, utc_text
from kiosk.sync.messages.transactions import MAX_BATCH

STATES = ("online", "offline")
RESYNC_WHAT = ("blocked", "snapshot", "rules", "config", "deltas")  # deltas: protocol v2
CONFIG_LIMITS = {"heartbeat_s": (5, 3600), "batch_size": (1, MAX_BATCH), "ack_timeout_s": (2, 600)}


@dataclass(frozen=True)
class Status(Message, spec=MessageSpec("status", UP, 16 * KIB, (Place(DEVICE, retained=True),))):
    """Kiosk -> HQ, retained: how the kiosk is. The last will carries state "offline"."""

    device: str
    store: str
    state: str  # "online" | "offline"
    software: str
    outbox_depth: int
    at: datetime
    last_error: str = ""
    money_paused: str = ""  # why new money transactions are refused ("" when they are not)
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> messages rejected since start
    rules_version: int = 0
    blocked_version: int = 0
    last_ack_at: datetime | None = None
    reader: str = ""  # "ok", or what is wrong with the card reader ("" from kiosks before this field)
    printer: str = ""  # the receipt printer's one-line state (which, printed, failed), "" unknown

    def body(self) -> dict:
        # reader and printer only when known: an HQ older than these fields refuses unknown keys
        devices = {k: v for k, v in (("reader", self.reader), ("printer", self.printer)) if v}
        return devices | {
            "device": self.device,
            "store": self.store,
            "state": self.state,
            "software": self.software,
            "outbox_depth": self.outbox_depth,
            "at": utc_text(self.at),
            "last_error": self.last_error,
            "money_paused": self.money_paused,
            "rejected": dict(self.rejected),
            "rules_version": self.rules_version,
            "blocked_version": self.blocked_version,
            "last_ack_at": utc_text(self.last_ack_at) if self.last_ack_at else None,
        }

    @classmethod
    def read(cls, f: Fields) -> Status:
        rejected_raw = f.raw("rejected", {})
        if not isinstance(rejected_raw, dict) or len(rejected_raw) > 20:
            raise f.fail("rejected", "must be an object of at most 20 counters")
        rejected = {}
        for key, count in rejected_raw.items():
            if not isinstance(key, str) or len(key) > 40:
                raise f.fail("rejected", "keys must be short strings")
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 2**62:
                raise f.fail(f"rejected.{key}", "must be a count")
            rejected[key] = count
        return cls(
            device=f.ident("device"),
            store=f.ident("store"),
            state=f.str("state", choices=STATES),
            software=f.str("software", 64),
            outbox_depth=f.int("outbox_depth", 0, 2**62),
            at=f.time("at"),
            last_error=f.str("last_error", default=""),
            money_paused=f.str("money_paused", default=""),
            rejected=rejected,
            rules_version=f.int("rules_version", 0, 2**31, 0),
            blocked_version=f.int("blocked_version", 0, 2**62, 0),
            last_ack_at=f.time("last_ack_at", None),
            reader=f.str("reader", 120, default=""),
            printer=f.str("printer", 120, default=""),
        )


@dataclass(frozen=True)
class Resync(Message, spec=MessageSpec("resync", UP, 4 * KIB, (Place(DEVICE),))):
    """Kiosk -> HQ: please send the full `what` again (after a gap or a rejected update)."""

    device: str
    what: str  # "blocked" | "snapshot" | "rules" | "config"
    have_version: int
    reason: str
    at: datetime

    def body(self) -> dict:
        return {
            "device": self.device,
            "what": self.what,
            "have_version": self.have_version,
            "reason": self.reason,
            "at": utc_text(self.at),
        }

    @classmethod
    def read(cls, f: Fields) -> Resync:
        return cls(
            device=f.ident("device"),
            what=f.str("what", choices=RESYNC_WHAT),
            have_version=f.int("have_version", 0, 2**62),
            reason=f.str("reason"),
            at=f.time("at"),
        )


@dataclass(frozen=True)
class ConfigUpdate(Message, spec=MessageSpec("config", DOWN, 4 * KIB, (Place(DEVICE, retained=True),))):
    """HQ -> one kiosk, retained: the few sync settings HQ may change remotely."""

    version: int
    heartbeat_s: int
    batch_size: int
    ack_timeout_s: int
    at: datetime

    def body(self) -> dict:
        return {
            "version": self.version,
            "heartbeat_s": self.heartbeat_s,
            "batch_size": self.batch_size,
            "ack_timeout_s": self.ack_timeout_s,
            "at": utc_text(self.at),
        }

    @classmethod
    def read(cls, f: Fields) -> ConfigUpdate:
        version = f.int("version", 1, 2**62)
        values = {key: f.int(key, lo, hi) for key, (lo, hi) in CONFIG_LIMITS.items()}
        return cls(version=version, at=f.time("at"), **values)
