"""What each message type declares about itself, once: the base class every message derives from.

A message class says its type name, the schema versions it reads, its size limit, which way it
travels, where it is published (device, store or chain topics, retained or not) and its QoS:

    @dataclass(frozen=True)
    class Ack(Message, spec=MessageSpec("ack", DOWN, 64 * KIB, (Place(DEVICE),))): ...

and how it is written (`body`) and read (`read`). The registry (registry.py) builds the encoder,
the decoder, the topic layout (kiosk/sync/topics.py) and both dispatchers from these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Self

if TYPE_CHECKING:
    from kiosk.sync.messages.fields import Fields

KIB = 1024
MIB = 1024 * 1024

UP = "up"  # kiosk -> HQ
DOWN = "down"  # HQ -> kiosk(s)
DEVICE = "device"  # kiosk/v1/{store}/{device}/{type}
STORE = "store"  # kiosk/v1/{store}/_store/{type}
CHAIN = "chain"  # kiosk/v1/_chain/{type}
SCOPES = (DEVICE, STORE, CHAIN)


@dataclass(frozen=True)
class Place:
    """One topic a message type is published on; its topic name is the message type."""

    scope: str
    retained: bool = False


@dataclass(frozen=True)
class MessageSpec:
    type: str
    direction: str  # UP or DOWN
    max_bytes: int  # larger payloads are rejected unread
    places: tuple[Place, ...]
    versions: tuple[int, ...] = (1,)  # read; the highest is written
    qos: int = 1

    def __post_init__(self) -> None:
        if self.direction not in (UP, DOWN):
            raise ValueError(f"{self.type}: direction must be {UP!r} or {DOWN!r}")
        if not self.places or any(p.scope not in SCOPES for p in self.places):
            raise ValueError(f"{self.type}: places must name scopes among {SCOPES}")
        if self.direction == UP and any(p.scope != DEVICE for p in self.places):
            raise ValueError(f"{self.type}: a kiosk publishes only on its own device topics")
        if not self.versions or self.max_bytes <= 0 or self.qos not in (0, 1, 2):
            raise ValueError(f"{self.type}: needs versions, a positive max_bytes and a QoS of 0-2")

    @property
    def version(self) -> int:
        """The schema version this code writes."""
        return max(self.versions)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(p.scope for p in self.places)

    def retained(self, scope: str) -> bool:
        """Whether the message is published retained on its topic of this scope."""
        return any(p.scope == scope and p.retained for p in self.places)


class Message:
    """Base of every message value (frozen dataclasses). Subclasses pass `spec=MessageSpec(...)`."""

    SPEC: ClassVar[MessageSpec]
    TYPE: ClassVar[str]

    def __init_subclass__(cls, spec: MessageSpec | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if spec is None:
            raise TypeError(f"{cls.__name__} must declare spec=MessageSpec(...)")
        cls.SPEC, cls.TYPE = spec, spec.type

    def body(self) -> dict:
        """The message's own JSON fields (the registry adds type and v)."""
        raise NotImplementedError

    @classmethod
    def read(cls, f: Fields) -> Self:
        """Build the message from checked fields; MessageError (via f.fail) when one is wrong."""
        raise NotImplementedError


def utc_text(value: datetime) -> str:
    """A timezone-aware time as ISO 8601 UTC ending in Z (the wire format of every time)."""
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
