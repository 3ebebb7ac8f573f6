"""The session's settings and their [session] table in kiosk.toml, checked field by field.

Staff cards are listed by UID here (staff_cards): any card the store has can be made a staff
card, and withdrawn, without writing to it. A staff card named in staff_members also says whose
it is (card UID -> the staff id HQ knows, `kiosk hq staff add`), so a sale can be credited to them."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.app.config_error import ConfigError
from kiosk.ledger.rules_fields import SAFE_ID, SAFE_ID_HINT
from kiosk.ledger.uid import is_card_uid

_LIMITS = {
    "inactivity_s": (5, 600),
    "message_s": (2, 120),
    "payment_timeout_s": (10, 1800),
    "card_write_timeout_s": (2, 120),
}


@dataclass(frozen=True)
class SessionSettings:
    inactivity_s: int = 30  # any screen but idle returns to idle after this long untouched
    message_s: int = 10  # done / notice / blocked / not-recognised screens stay this long
    payment_timeout_s: int = 120  # waiting for a payment gives up after this long
    card_write_timeout_s: int = 15  # no answer from the card writer: give up (recorded)
    staff_uids: frozenset[str] = frozenset()  # staff cards by UID (upper hex)
    privacy_notice_version: str = "2"  # 2: the line on member notes (issue 15)
    staff_ids: dict[str, str] = field(default_factory=dict)  # staff card UID -> staff id (HQ's staff table)


def parse_session(table: dict, source: str = "<memory>") -> SessionSettings:
    if not isinstance(table, dict):
        raise ConfigError(source, "session", "must be a table ([session])")
    known = set(_LIMITS) | {"staff_cards", "privacy_notice_version", "staff_members"}
    for key in table:
        if key not in known:
            raise ConfigError(source, f"session.{key}", f"unknown setting (expected one of {sorted(known)})")
    values: dict = {}
    for key, (lo, hi) in _LIMITS.items():
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(source, f"session.{key}", f"must be an integer {lo}..{hi} (seconds)")
            values[key] = value
    staff = table.get("staff_cards", [])
    if not isinstance(staff, list) or not all(isinstance(u, str) for u in staff):
        raise ConfigError(source, "session.staff_cards", "must be a list of card UIDs (hex strings)")
    uids = frozenset(u.strip().upper().replace(":", "") for u in staff)
    for uid in uids:
        if not is_card_uid(uid):
            raise ConfigError(source, "session.staff_cards", f"{uid!r} is not a 4, 7 or 10-byte UID in hex")
    values["staff_ids"] = _staff_members(table.get("staff_members", {}), source)
    values["staff_uids"] = uids | frozenset(values["staff_ids"])
    if "privacy_notice_version" in table:
        version = table["privacy_notice_version"]
        if not isinstance(version, str) or not 1 <= len(version) <= 32:
            raise ConfigError(source, "session.privacy_notice_version", "must be a string of 1-32 characters")
        values["privacy_notice_version"] = version
    return SessionSettings(**values)


def _staff_members(table: object, source: str) -> dict[str, str]:
    """[session.staff_members]: "04A1B2C3" = "S-0012", card UID to staff id."""
    where = "session.staff_members"
    if not isinstance(table, dict):
        raise ConfigError(source, where, 'must be a table of card UID = "staff id"')
    out = {}
    for raw_uid, staff_id in table.items():
        uid = str(raw_uid).strip().upper().replace(":", "")
        if not is_card_uid(uid):
            raise ConfigError(source, where, f"{str(raw_uid)[:40]!r} is not a 4, 7 or 10-byte UID in hex")
        if not isinstance(staff_id, str) or not SAFE_ID.match(staff_id):
            raise ConfigError(source, f"{where}.{uid}", f"the staff id {SAFE_ID_HINT}")
        out[uid] = staff_id
    return out
