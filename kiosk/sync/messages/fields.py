"""Reads one message's JSON object field by field, naming the exact path of the first problem.

Every message's `read` uses it; unknown keys are refused by `done()`. Nothing is built from a
payload until every field it needs has passed."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.ledger.uid import is_card_uid
from kiosk.sync.ids import ID_PATTERN
from kiosk.sync.messages.errors import MessageError

MAX_TEXT = 200


class Fields:
    """Reads one JSON object's fields, naming the exact path on error; refuses unknown keys."""

    def __init__(self, msg_type: str, data: object, path: str = ""):
        if not isinstance(data, dict):
            raise MessageError(msg_type, path or "-", "must be an object")
        self.msg_type, self.data, self.path, self.seen = msg_type, data, path, set()

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> MessageError:
        return MessageError(self.msg_type, self._name(key), problem)

    def raw(self, key: str, default: object = ...) -> object:
        self.seen.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        return self.data[key]

    def int(self, key: str, lo: int, hi: int, default: object = ...) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, f"must be an integer in {lo}..{hi}")
        return value

    def str(self, key: str, max_len: int = MAX_TEXT, default: object = ..., choices: tuple = ()) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or len(value) > max_len:
            raise self.fail(key, f"must be a string of at most {max_len} characters")
        if choices and value not in choices:
            raise self.fail(key, f"must be one of {list(choices)}")
        return value

    def ident(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise self.fail(key, "must be 1-64 letters, digits, '-' or '_'")
        return value

    def time(self, key: str, default: object = ...) -> datetime | None:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or len(value) > 40:
            raise self.fail(key, "must be an ISO 8601 UTC time")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(key, "must be an ISO 8601 UTC time") from None
        if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
            raise self.fail(key, "must be a UTC time (ending in Z or +00:00)")
        return parsed.astimezone(UTC)

    def list(self, key: str, max_len: int) -> list:
        value = self.raw(key)
        if not isinstance(value, list) or len(value) > max_len:
            raise self.fail(key, f"must be a list of at most {max_len} items")
        return value

    def uids(self, key: str, max_len: int) -> tuple[str, ...]:
        values = self.list(key, max_len)
        for i, uid in enumerate(values):
            if not is_uid(uid):
                raise self.fail(f"{key}[{i}]", "must be a 4, 7 or 10 byte UID in upper-case hex")
        return tuple(values)

    def done(self) -> None:
        for key in self.data:
            if key not in self.seen:
                raise self.fail(str(key)[:40], "unknown field")


def is_uid(value: object) -> bool:
    return is_card_uid(value)
