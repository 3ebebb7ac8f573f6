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
from kiosk.ledger.utc import utc_text


class CodecError(ValueError):
    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


def encode(value: object) -> object:
    return _encoder(type(value))(value)


@functools.cache
def _encoder(tp: type) -> typing.Callable[[object], object]:
    """An encoding function per type, built once: HQ encodes every account it writes back, and
    looking fields up on each value was a third of its CPU per transaction."""
    if is_dataclass(tp):
        names = tuple(f.name for f in fields(tp))

        def encode_fields(value: object) -> dict:
            out = {}
            for name in names:
                v = getattr(value, name)
                out[name] = v if type(v) in _PLAIN else _encoder(type(v))(v)
            return out

        return encode_fields
    if issubclass(tp, Enum):
        return lambda value: value.value
    if issubclass(tp, datetime):
        return utc_text
    if issubclass(tp, date):
        return date.isoformat
    if issubclass(tp, tuple | list):
        return lambda value: [v if type(v) in _PLAIN else _encoder(type(v))(v) for v in value]
    if issubclass(tp, dict):
        return lambda value: {str(k): encode(v) for k, v in value.items()}
    return _same


_PLAIN = frozenset({int, str, bool, float, type(None)})


def _same(value: object) -> object:
    return value


def decode(cls: type, data: object, path: str = "$") -> typing.Any:
    """Build a `cls` dataclass from `data`, checking types on the way."""
    return _decode(cls, data, path)


def _decode(tp: object, data: object, path: str) -> typing.Any:
    try:
        return _decoder(tp)(data)
    except _Bad as bad:
        raise CodecError(path + "".join(reversed(bad.steps)), bad.problem) from None


class _Bad(Exception):
    """A decoding failure on its way out; each container on the way adds its step to the path,
    so the path is only built when something is wrong."""

    def __init__(self, problem: str, step: str = ""):
        self.problem = problem
        self.steps = [step] if step else []


@functools.cache
def _decoder(tp: object) -> typing.Callable[[object], typing.Any]:
    """A decoding function for `tp`, built once per type from its type hints: a snapshot decodes
    tens of thousands of values of a handful of types."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(typing.get_args(tp))
    if origin is tuple:
        return _tuple_decoder(_decoder(typing.get_args(tp)[0]))
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        return _dict_decoder(_decoder(key_tp), _decoder(value_tp))
    if isinstance(tp, type) and is_dataclass(tp):
        return _dataclass_decoder(tp)
    if tp is datetime:
        return _datetime
    if tp is date:
        return _date
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _enum_decoder(tp)
    if tp is int:
        return _int
    if tp in (str, bool):
        return _instance_decoder(tp)
    return _unsupported_decoder(tp)


def _union_decoder(options: tuple) -> typing.Callable:
    nullable = type(None) in options
    decoders = [_decoder(option) for option in options if option is not type(None)]

    def decode_union(data: object) -> typing.Any:
        if data is None and nullable:
            return None
        last: _Bad | None = None
        for decoder in decoders:
            try:
                return decoder(data)
            except _Bad as bad:
                last = bad
        raise last or _Bad("no matching type")

    return decode_union


def _tuple_decoder(item: typing.Callable) -> typing.Callable:
    def decode_tuple(data: object) -> tuple:
        if not isinstance(data, list):
            raise _Bad("must be a list")
        out = []
        for i, value in enumerate(data):
            try:
                out.append(item(value))
            except _Bad as bad:
                bad.steps.append(f"[{i}]")
                raise
        return tuple(out)

    return decode_tuple


def _dict_decoder(key: typing.Callable, value: typing.Callable) -> typing.Callable:
    def decode_dict(data: object) -> dict:
        if not isinstance(data, dict):
            raise _Bad("must be an object")
        out = {}
        for k, v in data.items():
            decoded_key = key(k)
            try:
                out[decoded_key] = value(v)
            except _Bad as bad:
                bad.steps.append(f".{k}")
                raise
        return out

    return decode_dict


def _dataclass_decoder(cls: type) -> typing.Callable:
    hints = typing.get_type_hints(cls)
    plan = [(f.name, f.default is MISSING) for f in fields(cls)]
    known = frozenset(name for name, _ in plan)
    decoders: dict[str, typing.Callable] = {}

    def decode_dataclass(data: object) -> typing.Any:
        if not isinstance(data, dict):
            raise _Bad("must be an object")
        if not known.issuperset(data):
            raise _Bad(f"unknown fields {sorted(set(data) - known)[:3]}")
        if not decoders:  # built on first use: a dataclass may refer to itself or to later ones
            decoders.update((name, _decoder(hints[name])) for name, _ in plan)
        values = {}
        for name, required in plan:
            if name in data:
                try:
                    values[name] = decoders[name](data[name])
                except _Bad as bad:
                    bad.steps.append(f".{name}")
                    raise
            elif required:
                raise _Bad("is missing", f".{name}")
        return cls(**values)

    return decode_dataclass


def _datetime(data: object) -> datetime:
    if not isinstance(data, str):
        raise _Bad("must be a UTC time")
    try:
        parsed = datetime.fromisoformat(data)
    except ValueError:
        raise _Bad("must be a UTC time") from None
    if parsed.tzinfo is None:
        raise _Bad("must carry a time zone")
    return parsed.astimezone(UTC)


def _date(data: object) -> date:
    if not isinstance(data, str):
        raise _Bad("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(data)
    except ValueError:
        raise _Bad("must be a date YYYY-MM-DD") from None


def _enum_decoder(cls: type[Enum]) -> typing.Callable:
    def decode_enum(data: object) -> Enum:
        try:
            return cls(data)
        except ValueError:
            raise _Bad(f"unknown value {str(data)[:20]!r}") from None

    return decode_enum


def _int(data: object) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise _Bad("must be an integer")
    return data


def _instance_decoder(tp: type) -> typing.Callable:
    def decode_instance(data: object) -> typing.Any:
        if not isinstance(data, tp):
            raise _Bad(f"must be {tp.__name__}")
        return data

    return decode_instance


def _unsupported_decoder(tp: object) -> typing.Callable:
    def decode_unsupported(data: object) -> typing.NoReturn:
        raise _Bad(f"unsupported type {tp}")

    return decode_unsupported


def state_to_dict(state: LedgerState) -> dict:
    return {
        "members": [encode(state.members[k]) for k in sorted(state.members)],
        "cards": [encode(state.cards[k]) for k in sorted(state.cards)],
        "accounts": [encode(state.accounts[k]) for k in sorted(state.accounts)],
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
