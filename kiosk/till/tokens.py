"""Per-till API tokens: `kiosk tills add NAME` makes one, shows it once and keeps only its
SHA-256 (a 256-bit random token needs no slow hash: there is nothing to guess). The file is
mode 600, written whole and renamed into place. A token is never logged, not even in part."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TILL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}\Z")
TILL_NAME_HINT = "1-32 letters, digits, '-' or '_', starting with a letter or digit (like till-1)"
PREFIX = "kt_"


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class TillEntry:
    name: str
    token_sha256: str
    created: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TillTokens:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, TillEntry] = {}

    @classmethod
    def load(cls, path: Path) -> TillTokens:
        """The tills in `path` (none when it does not exist yet)."""
        tokens = cls(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return tokens
        except PermissionError:
            raise TokenFileError(f"{path}: permission denied (is the service user in its group?)") from None
        try:
            data = json.loads(raw)
            tills = data["tills"]
            for name, entry in tills.items():
                if not TILL_NAME.match(name) or not re.fullmatch(r"[0-9a-f]{64}", entry["token_sha256"]):
                    raise ValueError(name)
                tokens.entries[name] = TillEntry(name, entry["token_sha256"], str(entry.get("created", "")))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TokenFileError(f"{path}: not a till tokens file (re-create it with `kiosk tills add NAME`)") from None
        return tokens

    def add(self, name: str) -> str:
        """A new token for till `name` (replacing its old one), saved; returns it to show once."""
        if not TILL_NAME.match(name):
            raise TokenFileError(f"till name {name!r}: must be {TILL_NAME_HINT}")
        token = PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.entries[name] = TillEntry(name, _digest(token), created)
        self.save()
        return token

    def remove(self, name: str) -> bool:
        if self.entries.pop(name, None) is None:
            return False
        self.save()
        return True

    def till_for(self, token: str) -> str | None:
        """The till a token belongs to (None: unknown). Every entry is compared, in constant time."""
        if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
            return None
        digest = _digest(token)
        found = None
        for entry in self.entries.values():
            if hmac.compare_digest(entry.token_sha256, digest):
                found = entry.name
        return found

    def save(self) -> None:
        data = {
            "tills": {
                e.name: {"token_sha256": e.token_sha256, "created": e.created} for e in self.entries.values()
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
