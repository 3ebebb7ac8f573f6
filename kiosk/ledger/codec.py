"""JSON codec for ledger values and whole states (snapshots), driven by the dataclass type hints.

Decoding is strict: every field must be present (or have a default) and of its declared type,
so a damaged snapshot or a hostile HQ payload raises CodecError instead of building bad state."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum

from kiosk.ledger.model import Account, Card, Member
from kiosk.ledger.state import LedgerState


class CodecError(ValueError):
    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


def encode(value: object) -> object:
    if is_dataclass(value):
        return {f.name: encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: type, data: object, path: str = "$") -> typing.Any:
    """Build a `cls` dataclass from `data`, checking types on the way."""
    return _decode(cls, data, path)


def _decode(tp: object, data: object, path: str) -> typing.Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        last: CodecError | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, data, path)
            except CodecError as exc:
                last = exc
        raise last or CodecError(path, "no matching type")
    if origin is tuple:
        if not isinstance(data, list):
            raise CodecError(path, "must be a list")
        (item,) = typing.get_args(tp)[:1]
        return tuple(_decode(item, v, f"{path}[{i}]") for i, v in enumerate(data))
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        if not isinstance(data, dict):
            raise CodecError(path, "must be an object")
        return {_decode(key_tp, k, path): _decode(value_tp, v, f"{path}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(data, dict):
            raise CodecError(path, "must be an object")
        hints = _type_hints(tp)
        known = {f.name for f in fields(tp)}
        extra = set(data) - known
        if extra:
            raise CodecError(path, f"unknown fields {sorted(extra)[:3]}")
        values = {}
        for f in fields(tp):
            if f.name in data:
                values[f.name] = _decode(hints[f.name], data[f.name], f"{path}.{f.name}")
            elif f.default is MISSING:
                raise CodecError(f"{path}.{f.name}", "is missing")
        return tp(**values)
    if tp is datetime:
        if not isinstance(data, str):
            raise CodecError(path, "must be a UTC time")
        try:
            parsed = datetime.fromisoformat(data)
        except ValueError:
            raise CodecError(path, "must be a UTC time") from None
        if parsed.tzinfo is None:
            raise CodecError(path, "must carry a time zone")
        return parsed.astimezone(UTC)
    if tp is date:
        try:
            return date.fromisoformat(data) if isinstance(data, str) else _fail(path, "must be a date")
        except ValueError:
            raise CodecError(path, "must be a date YYYY-MM-DD") from None
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError:
            raise CodecError(path, f"unknown value {str(data)[:20]!r}") from None
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise CodecError(path, "must be an integer")
        return data
    if tp in (str, bool):
        if not isinstance(data, tp):
            raise CodecError(path, f"must be {tp.__name__}")
        return data
    raise CodecError(path, f"unsupported type {tp}")


@functools.cache
def _type_hints(cls: type) -> dict:
    """get_type_hints re-evaluates string annotations on every call; a snapshot decodes
    tens of thousands of values of a handful of classes."""
    return typing.get_type_hints(cls)


def _fail(path: str, problem: str) -> typing.NoReturn:
    raise CodecError(path, problem)


def state_to_dict(state: LedgerState) -> dict:
    return {
        "members": [encode(m) for m in state.members.values()],
        "cards": [encode(c) for c in state.cards.values()],
        "accounts": [encode(a) for a in state.accounts.values()],
        "stock": dict(state.stock),
        "last_seq": dict(state.last_seq),
    }


def state_from_dict(data: object) -> LedgerState:
    if not isinstance(data, dict):
        raise CodecError("$", "must be an object")
    for key in ("members", "cards", "accounts", "stock", "last_seq"):
        if key not in data:
            raise CodecError(f"$.{key}", "is missing")
    members = [decode(Member, m, f"$.members[{i}]") for i, m in enumerate(_list(data, "members"))]
    cards = [decode(Card, c, f"$.cards[{i}]") for i, c in enumerate(_list(data, "cards"))]
    accounts = [decode(Account, a, f"$.accounts[{i}]") for i, a in enumerate(_list(data, "accounts"))]
    return LedgerState(
        members={m.member_id: m for m in members},
        cards={c.uid: c for c in cards},
        accounts={a.member_id: a for a in accounts},
        stock=_decode(dict[str, int], data["stock"], "$.stock"),
        last_seq=_decode(dict[str, int], data["last_seq"], "$.last_seq"),
    )


def _list(data: dict, key: str) -> list:
    value = data[key]
    if not isinstance(value, list):
        raise CodecError(f"$.{key}", "must be a list")
    return value
