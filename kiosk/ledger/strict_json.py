"""Strict JSON for everything that comes from outside (MQTT payloads, rules documents).

One loader so every door refuses the same things: invalid UTF-8, NaN/Infinity, duplicate keys
(no silent last-wins) and strings that are not well-formed Unicode. JSON's `\\ud800` escape can
smuggle a lone surrogate past a UTF-8 check, and `\\u0000` a NUL that PostgreSQL cannot store;
such a string would fail later, in SQL, a log or a file (taking other work down with it), so it
is refused here, at the door, with the path of the string that holds it."""

from __future__ import annotations

import json
import re

# A surrogate can only enter through an escape (raw UTF-8 cannot encode one): walk the decoded
# value only when the text holds such an escape, so the common payload costs one regex scan.
_RISKY_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")


class JsonError(ValueError):
    """Text that is not strict JSON. `where` is "line L column C", "byte N" or a value's path
    like tiers[0].id; `path` is that path when the problem is in a value (else "")."""

    def __init__(self, problem: str, where: str = "", path: str = ""):
        self.problem, self.where, self.path = problem, where or path, path
        super().__init__(f"{problem} ({self.where})" if self.where else problem)


def _no_constant(name: str) -> object:
    raise JsonError(f"{name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise JsonError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def well_formed(text: str) -> bool:
    """True when the string holds no lone surrogate (it can be encoded as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(text: str) -> bool:
    return "\x00" not in text and well_formed(text)


def _first_ill_formed(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return None if _storable(value) else (path or "-")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not _storable(key):
                return (path + "." if path else "") + "(a key)"
            found = _first_ill_formed(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_ill_formed(item, f"{path}[{i}]")
            if found:
                return found
    return None


def loads(text: str | bytes) -> object:
    """Decode strict JSON or raise JsonError naming the line and column (or the value's path)."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError("not valid UTF-8", f"byte {exc.start}") from None
    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise JsonError(exc.msg, f"line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JsonError("nested too deeply") from None
    if _RISKY_ESCAPE.search(text):
        path = _first_ill_formed(data, "")
        if path is not None:
            raise JsonError(
                "a string holds a lone surrogate (e.g. \\ud800) or a NUL: text must be well-formed Unicode",
                path=path,
            )
    return data
