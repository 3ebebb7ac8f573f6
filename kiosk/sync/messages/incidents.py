"""The kiosk's incident log to HQ: `incidents` up (by byte offset), `incidents_ack` down."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kiosk.sync.messages.fields import MAX_TEXT, Fields
from kiosk.sync.messages.spec import DEVICE, DOWN, KIB, UP, Message, MessageSpec, Place, utc_text

MAX_INCIDENTS = 200  # items in one incidents message
MAX_DETAIL_KEYS = 20


@dataclass(frozen=True)
class Incident:
    """One line of the kiosk's incident log (kiosk/session/incidents.py): not money, but HQ must know."""

    offset: int  # byte offset of the line in the kiosk's log: the id HQ dedupes by, with the device
    at: datetime
    kind: str  # blocked_card_presented, payment_abandoned, paid_not_credited, card_suspect, ...
    card_uid: str = ""
    detail: dict = field(default_factory=dict)  # flat: str / int / bool / null values only

    def body(self) -> dict:
        return {"offset": self.offset, "at": utc_text(self.at), "kind": self.kind, "card_uid": self.card_uid,
                "detail": self.detail}


def decode_incident(data: object, path: str = "", msg_type: str = "incidents") -> Incident:
    """One incident (also used by the kiosk to read its own log lines, with offset added)."""
    f = Fields(msg_type, data, path)
    offset = f.int("offset", 0, 2**62)
    at = f.time("at")
    kind = f.str("kind", 40)
    if not kind:
        raise f.fail("kind", "must not be empty")
    card_uid = f.str("card_uid", 20, default="")
    detail = f.raw("detail", {})
    if not isinstance(detail, dict) or len(detail) > MAX_DETAIL_KEYS:
        raise f.fail("detail", f"must be an object of at most {MAX_DETAIL_KEYS} fields")
    for key, value in detail.items():
        if len(key) > 40:
            raise f.fail("detail", "keys must be at most 40 characters")
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise f.fail(f"detail.{key}", f"must be at most {MAX_TEXT} characters")
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > 2**62:
                raise f.fail(f"detail.{key}", "integer out of range")
        elif value is not None and not isinstance(value, bool):
            raise f.fail(f"detail.{key}", "must be a string, integer, boolean or null")
    f.done()
    return Incident(offset, at, kind, card_uid, dict(detail))


@dataclass(frozen=True)
class Incidents(Message, spec=MessageSpec("incidents", UP, 512 * KIB, (Place(DEVICE),))):
    """Kiosk -> HQ: incidents in log order; `next_offset` is where the log continues after them."""

    device: str
    items: tuple[Incident, ...]
    next_offset: int
    at: datetime

    def body(self) -> dict:
        return {
            "device": self.device,
            "items": [i.body() for i in self.items],
            "next_offset": self.next_offset,
            "at": utc_text(self.at),
        }

    @classmethod
    def read(cls, f: Fields) -> Incidents:
        device = f.ident("device")
        raw = f.list("items", MAX_INCIDENTS)
        items = tuple(decode_incident(item, f"items[{i}]") for i, item in enumerate(raw))
        for i in range(1, len(items)):
            if items[i].offset <= items[i - 1].offset:
                raise f.fail(f"items[{i}].offset", "must increase")
        next_offset = f.int("next_offset", 0, 2**62)
        if items and next_offset <= items[-1].offset:
            raise f.fail("next_offset", "must be after the last item's offset")
        return cls(device, items, next_offset, f.time("at"))


@dataclass(frozen=True)
class IncidentsAck(Message, spec=MessageSpec("incidents_ack", DOWN, 4 * KIB, (Place(DEVICE),))):
    """HQ -> kiosk: HQ has committed every incident before byte offset `through`."""

    device: str
    through: int
    at: datetime

    def body(self) -> dict:
        return {"device": self.device, "through": self.through, "at": utc_text(self.at)}

    @classmethod
    def read(cls, f: Fields) -> IncidentsAck:
        return cls(f.ident("device"), f.int("through", 0, 2**62), f.time("at"))
