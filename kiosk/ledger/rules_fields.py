"""How a rules document is read: the error, the ids and text it accepts, and the field reader.

Split from kiosk/ledger/rules.py (which builds the Rules values): every object of the document
is read through `_Fields`, which names the exact path of a problem and refuses unknown keys."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.ledger import strict_json

MAX_FEN = 100_000_000  # one million yuan: far above any kiosk amount, far below overflow worries
# Tier, reward and member ids: printable ASCII only, so no look-alike, zero-width or right-to-left
# character can make two ids that read the same (and NFC questions never arise for ids).
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
SAFE_ID_HINT = "must be 1-64 of A-Z a-z 0-9 _ . : - (starting with a letter or digit)"
# Display text may be any language, but not control characters, bidi overrides/isolates or BOMs
# (they reorder or hide what the member reads on the screen).
_HIDDEN = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\ufeff")
# A reward's picture: a plain file name the kiosk looks up in its image folders (never a path, so a
# rules document cannot point a kiosk at any other file); PNG or JPEG, which every kiosk can draw.
IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}\.(png|jpg|jpeg)\Z")
IMAGE_NAME_HINT = "must be a file name like coffee.png: 1-60 of A-Z a-z 0-9 _ - then .png, .jpg or .jpeg, no folders"
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}\Z")  # IANA names: Asia/Shanghai, Etc/GMT-8
COMMENT = "comment"  # a note for people, allowed in every object and ignored
_TEXT_KEYS = frozenset({"zh_CN", "en"})


class RulesError(ValueError):
    """A rules document that cannot be used, with where and why (field "" for the document as a
    whole, e.g. not JSON)."""

    def __init__(self, source: str, field: str, problem: str):
        self.source, self.field, self.problem = source, field, problem
        super().__init__(f"{source}: {field}: {problem}" if field else f"{source}: {problem}")


@dataclass(frozen=True)
class LocalText:
    zh_CN: str
    en: str

    def get(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh_CN



class _Fields:
    """Reads typed fields out of nested dicts, naming the exact path on error."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, problem: str) -> RulesError:
        return RulesError(self.source, path, problem)

    def table(self, data: dict, key: str, path: str, known: frozenset[str] | None = None) -> dict:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"{path}{key}", "must be an object")
        if known is not None:
            self.only(value, known, f"{path}{key}.")
        return value

    def only(self, data: dict, known: frozenset[str], path: str) -> None:
        """Refuse keys this object does not have: a typo must not fall back to a default."""
        for key in data:
            if key in known or key == COMMENT:
                continue
            near = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(sorted(known))})"
            raise self.fail(f"{path}{str(key)[:40]}", "unknown field" + hint)

    def ident(self, data: dict, key: str, path: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not SAFE_ID.match(value):
            raise self.fail(f"{path}{key}", f"{SAFE_ID_HINT}, got {value!r}")
        return value

    def items(self, data: dict, key: str, path: str) -> list:
        value = data.get(key)
        if not isinstance(value, list):
            raise self.fail(f"{path}{key}", "must be a list")
        return value

    def int(self, data: dict, key: str, path: str, lo: int = 0, hi: int = MAX_FEN, default=...):
        if key not in data:
            if default is ...:
                raise self.fail(f"{path}{key}", "is missing")
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{path}{key}", f"must be an integer, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(f"{path}{key}", f"must be between {lo} and {hi}, got {value}")
        return value

    def bool(self, data: dict, key: str, path: str, default=...):
        if key not in data:
            if default is ...:
                raise self.fail(f"{path}{key}", "is missing")
            return default
        value = data[key]
        if not isinstance(value, bool):
            raise self.fail(f"{path}{key}", f"must be true or false, got {value!r}")
        return value

    def str(self, data: dict, key: str, path: str, default=...):
        if key not in data:
            if default is ...:
                raise self.fail(f"{path}{key}", "is missing")
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{path}{key}", f"must be a non-empty string, got {value!r}")
        if not visible_text(value):
            raise self.fail(f"{path}{key}", "must not hold control, bidi-override or invisible format characters")
        return value

    def image(self, data: dict, key: str, path: str) -> str | None:
        """An optional image file name (IMAGE_NAME); absent or null means the kiosk's default picture."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not IMAGE_NAME.match(value):
            raise self.fail(f"{path}{key}", f"{IMAGE_NAME_HINT}, got {str(value)[:80]!r}")
        return value

    def text(self, data: dict, key: str, path: str) -> LocalText:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            self.str(data, key, path)
            return LocalText(value, value)
        if isinstance(value, dict):
            self.only(value, _TEXT_KEYS, f"{path}{key}.")
            return LocalText(
                self.str(value, "zh_CN", f"{path}{key}."), self.str(value, "en", f"{path}{key}.")
            )
        raise self.fail(f"{path}{key}", "must be a string or {zh_CN, en}")

    def time(self, data: dict, key: str, path: str) -> datetime | None:
        if data.get(key) is None:
            return None
        value = data[key]
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise self.fail(f"{path}{key}", f"must be an ISO 8601 time with a zone, got {value!r}")
        return parsed.astimezone(UTC)


def visible_text(value: str) -> bool:
    """Well-formed text without control characters, bidi overrides/isolates or BOMs."""
    return strict_json.well_formed(value) and not any(
        ch in _HIDDEN or unicodedata.category(ch) == "Cc" for ch in value
    )

