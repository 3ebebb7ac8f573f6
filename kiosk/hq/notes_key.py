"""The key that seals member notes at HQ (AES-256-GCM, from the `cryptography` package), held
apart from the database: in a file of mode 600 or in an environment variable, never in SQL.

A copy of the database alone (a backup, a replica, a stolen disk) shows no note. Each sealed
note is bound to its row (its id and member) as associated data, so a ciphertext moved to
another member does not open. The key's id (a hash, not the key) is kept with every note, so
a wrong key is named as such instead of failing as "corrupt data"."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEY = "KIOSK_HQ_NOTES_KEY"  # the key itself (base64, 32 bytes)
ENV_KEY_FILE = "KIOSK_HQ_NOTES_KEY_FILE"  # or a file holding it, mode 600
KEY_BYTES = 32
_NONCE = 12


class NotesKeyError(ValueError):
    """No key, a bad key, a key file others may read, or a note sealed under another key: the
    message names the file or variable and the fix."""


@dataclass(frozen=True, repr=False)
class NotesKey:
    """A loaded key; repr never shows it (a key in a traceback or a log is a key given away)."""

    secret: bytes
    source: str  # where it came from, for messages: a path or the variable's name

    def __repr__(self) -> str:
        return f"NotesKey(id={self.key_id}, source={self.source})"

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"kiosk member notes key id:" + self.secret).hexdigest()[:16]

    def seal(self, plaintext: bytes, bound_to: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.secret).encrypt(nonce, plaintext, bound_to.encode())
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, bound_to: str, key_id: str) -> bytes:
        if key_id != self.key_id:
            raise NotesKeyError(
                f"member notes: these notes were sealed with key {key_id}, but the key in {self.source} is "
                f"{self.key_id}: give HQ the key the notes were written with (after `kiosk hq notes rotate-key`, "
                "the new key file)"
            )
        raw = base64.b64decode(sealed)
        try:
            return AESGCM(self.secret).decrypt(raw[:_NONCE], raw[_NONCE:], bound_to.encode())
        except InvalidTag:
            raise NotesKeyError(f"member notes: a note for {bound_to} does not open with the key in {self.source}: "
                                "it was altered or moved in the database") from None


def bound_to(member_id: str, note_id: int) -> str:
    """What a note's seal is bound to: its row (a ciphertext moved to another row does not open)."""
    return f"member_notes:{note_id}:{member_id}"


def seal_note(key: NotesKey, member_id: str, note_id: int, text: str, tags: tuple[str, ...]) -> str:
    plain = json.dumps({"text": text, "tags": list(tags)}, ensure_ascii=False).encode()
    return key.seal(plain, bound_to(member_id, note_id))


def open_note(key: NotesKey, member_id: str, note_id: int, key_id: str, sealed: str) -> tuple[str, tuple[str, ...]]:
    """(text, tags) of a sealed note row."""
    plain = json.loads(key.open(sealed, bound_to(member_id, note_id), key_id))
    return plain["text"], tuple(plain["tags"])


def parse_key(text: str, source: str) -> NotesKey:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise NotesKeyError(
            f"{source}: not a member-notes key (base64 of {KEY_BYTES} bytes); make one with "
            "`kiosk hq notes new-key FILE`"
        )
    return NotesKey(secret, source)


def read_key_file(path: Path) -> NotesKey:
    """The key in `path`, refusing a file that anyone but its owner may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise NotesKeyError(f"{path}: no such key file; make one with `kiosk hq notes new-key {path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotesKeyError(f"{path}: cannot read the member-notes key ({exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NotesKeyError(f"{path}: the member-notes key may be read by others (mode {stat.S_IMODE(mode):o}); "
                            f"fix: chmod 600 {path}")
    return parse_key(text, str(path))


def load_key(key_file: Path | None = None, environ: dict | None = None) -> NotesKey:
    """The key from `key_file`, else $KIOSK_HQ_NOTES_KEY_FILE, else $KIOSK_HQ_NOTES_KEY."""
    env = os.environ if environ is None else environ
    if key_file is None and env.get(ENV_KEY_FILE):
        key_file = Path(env[ENV_KEY_FILE])
    if key_file is not None:
        return read_key_file(key_file)
    if env.get(ENV_KEY):
        return parse_key(env[ENV_KEY], f"${ENV_KEY}")
    raise NotesKeyError(
        f"member notes: no key; set {ENV_KEY_FILE} to a key file of mode 600 (make one with "
        f"`kiosk hq notes new-key FILE`) or {ENV_KEY} to the key itself"
    )


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n"


def write_key_file(path: Path, text: str) -> None:
    """Create `path` with mode 600 from the first byte (never a moment readable by others), fsync'd."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
