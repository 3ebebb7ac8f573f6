"""Logging for the kiosk: structured lines for the journal, and nothing a thief could use.

Under systemd (JOURNAL_STREAM is set) each record is one JSON object on stderr; journald keeps
the line and `journalctl -u kiosk -o cat | jq` reads it. On a terminal the same record is one
readable line. Either way every string passes through ``redact``:

- card UIDs (fields named uid/card_uid, "uid=04A1B2..." in text, and bare tokens shaped like
  a 4/7/10-byte UID in hex with a letter in them) become ``uid#<hmac>``,
  keyed with a per-install salt (``use_install_salt``: the file log-uid-salt in the data dir,
  mode 600, read by `kiosk run` and `kiosk doctor` alike), so a support engineer can follow
  one card through the log, across restarts, without the log holding the UID;
- mobile phone numbers keep their first 3 and last 4 digits (138****5678);
- fields named like secrets (key, secret, password, pin, token, pepper) print as [redacted], and
  so does any value registered with ``register_secret`` (the loaded card master key, say), any
  run of 32 or more hex digits (the shape of a key) and any bytes repr (b'...').
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets as _secrets
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from kiosk.ledger.uid import UID_BYTES

SECRET_FIELDS = re.compile(r"(key|secret|password|passwd|pin|token|pepper)", re.IGNORECASE)
UID_FIELDS = {"uid", "card_uid"}
_UID_TEXT = re.compile(
    r"(?P<label>\b(?:card[_ ]?)?uid\s*[=:]?\s*)(?:0x)?"
    r"(?P<uid>(?:[0-9A-Fa-f]{2}[:\- ]?){4,10})(?![0-9A-Fa-f])",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<!\d)(?P<cc>(?:\+?86[- ]?)?)(?P<head>1[3-9]\d)(?P<mid>\d{4})(?P<tail>\d{4})(?!\d)"
)
_LONG_HEX = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])")
# A bare token shaped like a 4-, 7- or 10-byte UID in hex, with at least one letter A-F (so
# amounts, dates and phone numbers are left alone).
_BARE_UID = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9A-Fa-f]*[A-Fa-f])(?:"
    + "|".join(f"[0-9A-Fa-f]{{{2 * n}}}" for n in sorted(UID_BYTES, reverse=True))
    + r")(?![0-9A-Za-z])"
)
_BYTES_REPR = re.compile(r"\bb'(?:[^'\\]|\\.)*'" + r'|\bb"(?:[^"\\]|\\.)*"')
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_lock = threading.Lock()
_registered: set[str] = set()
_salt: bytes = _secrets.token_bytes(16)


SALT_FILE = "log-uid-salt"  # in the data dir, beside the store
SALT_BYTES = 16
log = logging.getLogger(__name__)


def set_uid_salt(salt: bytes) -> None:
    """Key the UID hash with a per-install secret (so 4-byte UIDs cannot be brute-forced back)."""
    global _salt
    _salt = bytes(salt)


def load_or_create_salt(path: Path) -> bytes:
    """The per-install salt in `path` (mode 600), made on first use, so UID hashes stay the
    same across restarts and between `kiosk run` and `kiosk doctor`. A new file is written
    whole or not at all (a power cut never leaves an empty salt), owned like its directory
    (so a doctor run as root does not take it from the service user); one of the wrong size
    is replaced, with a warning, since nothing but log correlation depends on it."""
    try:
        found = path.read_bytes()
    except FileNotFoundError:
        found = None
    if found is not None and len(found) == SALT_BYTES:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return found
    if found is not None:
        log.warning("%s holds %d bytes, not a %d-byte salt: replaced (UID hashes from before "
                    "will not match)", path, len(found), SALT_BYTES)
    salt = _secrets.token_bytes(SALT_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(salt)
            f.flush()
            os.fsync(f.fileno())
        owner = path.parent.stat()
        if os.geteuid() == 0 and owner.st_uid != 0:
            os.chown(tmp, owner.st_uid, owner.st_gid)
        if found is not None:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # exclusive: a process that made it first wins
            except FileExistsError:
                return load_or_create_salt(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return salt


def use_install_salt(data_dir: Path) -> bool:
    """Key UID hashes with the salt in `data_dir` (what `kiosk run` and `kiosk doctor` call at
    start). False, with a warning and the per-process salt kept, when the directory does not
    exist or the file cannot be read or written: a log problem must not stop the kiosk."""
    try:
        if not data_dir.is_dir():
            raise FileNotFoundError(f"no data dir {data_dir}")
        set_uid_salt(load_or_create_salt(data_dir / SALT_FILE))
    except OSError as exc:
        log.warning("UID hashes in this log are keyed per process (they will not match the "
                    "service's): %s", exc)
        return False
    return True


def register_secret(value: bytes | str) -> None:
    """Never print this value, in any of its usual spellings (text, hex lower/upper)."""
    with _lock:
        if isinstance(value, bytes):
            if value:
                _registered.update({value.hex(), value.hex().upper()})
                try:
                    text = value.decode("utf-8").strip()
                except UnicodeDecodeError:
                    text = ""
                if len(text) >= 6:
                    _registered.add(text)
        elif len(value) >= 6:
            _registered.add(value)


def hash_uid(uid: bytes | str) -> str:
    """The stable, salted stand-in for a card UID in logs."""
    raw = uid if isinstance(uid, bytes) else bytes.fromhex(re.sub(r"[^0-9A-Fa-f]", "", uid))
    return "uid#" + hmac.new(_salt, raw, hashlib.sha256).hexdigest()[:12]


def mask_phone(text: str) -> str:
    return _PHONE.sub(lambda m: f"{m['cc']}{m['head']}****{m['tail']}", text)


def redact(text: str) -> str:
    """Remove card UIDs, phone numbers and secrets from one string."""
    with _lock:
        known = sorted(_registered, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "[redacted]")
    text = _BYTES_REPR.sub("[redacted bytes]", text)
    text = _UID_TEXT.sub(lambda m: m["label"] + hash_uid(m["uid"]), text)
    text = _LONG_HEX.sub("[redacted]", text)
    text = _BARE_UID.sub(lambda m: hash_uid(m[0]), text)
    return mask_phone(text)


def redact_field(name: str, value: Any) -> Any:
    """One structured field, by its name first and then by its content."""
    if SECRET_FIELDS.search(name):
        return "[redacted]"
    if name in UID_FIELDS and isinstance(value, bytes | str) and value:
        try:
            return hash_uid(value)
        except ValueError:
            return "[redacted]"
    if isinstance(value, bytes):
        return "[redacted bytes]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(repr(value))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: redact_field(k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what journald stores and tools can query."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A readable line for a technician at a terminal, redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {redact(record.getMessage())}"
        if extras:
            line += f" [{extras}]"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def under_journal() -> bool:
    """True when stderr is connected to journald (systemd sets JOURNAL_STREAM=dev:inode)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def setup_logging(
    level: int | str = logging.INFO, stream: IO[str] | None = None, json_lines: bool | None = None
) -> logging.Handler:
    """Install the one root handler the kiosk uses; returns it (tests read what it writes)."""
    use_json = under_journal() if json_lines is None else json_lines
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_kiosk", False):
            root.removeHandler(old)
    handler._kiosk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
