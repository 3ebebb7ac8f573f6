"""Console accounts, roles, sessions and the login lockout.

Passwords are argon2id hashes (argon2-cffi). A session is a random token in an HttpOnly,
SameSite=Strict cookie (Secure when served over https); SQL keeps only its SHA-256, so a copy of
the database signs nobody in. Each session has its own CSRF token, sent with every form.
After MAX_FAILURES wrong passwords in a row an account is locked for LOCK_MINUTES (the right
password is refused too until then); a per-address limiter slows guessing across accounts."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kiosk.hq.console import audit
from kiosk.hq.db import Database
from kiosk.ledger.utc import utc_text

ROLES = ("admin", "programme-manager", "store-manager", "finance", "auditor")
MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_HOURS = 12
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
_STORE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

# What each role may do. Store managers' member, card, fleet and report rights are further
# limited to their own stores (checked where the member or kiosk is known).
PERMISSIONS: dict[str, frozenset[str]] = {
    "members.view": frozenset({"admin", "store-manager", "finance", "auditor"}),
    "cards.block": frozenset({"admin", "store-manager"}),
    "cards.replace": frozenset({"admin", "store-manager"}),
    "cards.return": frozenset({"admin", "store-manager", "finance"}),
    "members.adjust": frozenset({"admin", "finance"}),
    "cards.pin_reset": frozenset({"admin", "store-manager"}),
    "approvals.view": frozenset({"admin", "finance", "auditor"}),
    "approvals.decide": frozenset({"admin", "finance"}),  # a return: finance only (console/approvals.py)
    "approvals.settings": frozenset({"admin"}),
    "fleet.view": frozenset({"admin", "programme-manager", "store-manager", "auditor"}),
    "fleet.settings": frozenset({"admin"}),
    "conflicts.view": frozenset({"admin", "finance", "auditor"}),
    "conflicts.resolve": frozenset({"admin", "finance"}),
    "audit.view": frozenset({"admin", "auditor"}),
    "users.manage": frozenset({"admin"}),
    "rules.view": frozenset({"admin", "programme-manager", "auditor"}),
    "rules.publish": frozenset({"admin", "programme-manager"}),
    # voucher campaigns to a segment: the programme's business; store managers have none (a
    # segment is the chain's), the auditor sees them and their counts
    "campaigns.view": frozenset({"admin", "programme-manager", "auditor"}),
    "campaigns.issue": frozenset({"admin", "programme-manager"}),
    "reports.view": frozenset({"admin", "programme-manager", "store-manager", "finance", "auditor"}),
    "followups.view": frozenset({"admin", "programme-manager", "store-manager", "auditor"}),
    "followups.record": frozenset({"admin", "programme-manager", "store-manager"}),
    # member notes: an auditor sees that notes exist, who wrote them and when, never their words
    "notes.view": frozenset({"admin", "store-manager", "auditor"}),
    "notes.read": frozenset({"admin", "store-manager"}),
    "notes.write": frozenset({"admin", "store-manager"}),
}

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class AccountError(ValueError):
    """A bad username, role, store list or password; the message names the field."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    stores: tuple[str, ...]

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def sees_store(self, store: str) -> bool:
        """Store managers see their own stores only; every other role sees the chain."""
        return self.role != "store-manager" or store in self.stores


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return utc_text(at)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_account(username: str, role: str, stores: tuple[str, ...], password: str) -> None:
    if not _NAME.match(username):
        raise AccountError("username: 1-40 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError(f"role: one of {', '.join(ROLES)} (got {role!r})")
    if role == "store-manager" and not stores:
        raise AccountError("stores: a store manager needs at least one store (--store S1)")
    if role != "store-manager" and stores:
        raise AccountError("stores: only a store manager is limited to stores")
    for store in stores:
        if not _STORE.match(store):
            raise AccountError(f"stores: {store!r} is not a store id (letters, digits, '_' or '-')")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")


def add_user(db: Database, username: str, role: str, password: str, stores: tuple[str, ...] = (), by: str = "") -> User:
    """Create an account (audited as `by`, or "cli" from the command line)."""
    stores = tuple(sorted(set(stores)))
    check_account(username, role, stores, password)
    hashed = _HASHER.hash(password)

    def work(db: Database) -> User:
        if db.one("SELECT 1 FROM console_users WHERE username = ?", (username,)):
            raise AccountError(f"username: {username!r} already exists")
        db.execute(
            "INSERT INTO console_users (username, password_hash, role, stores, failures, locked_until, created_at) "
            "VALUES (?, ?, ?, ?, 0, NULL, ?)",
            (username, hashed, role, ",".join(stores), _iso(_now())),
        )
        audit.record(db, by or "cli", "user.add", f"user:{username}", {}, {"role": role, "stores": list(stores)})
        return User(username, role, stores)

    return db.run(work)


def list_users(db: Database) -> list[tuple[User, int, str]]:
    """(user, failures in a row, locked until or "")."""
    rows = db.all("SELECT username, role, stores, failures, locked_until FROM console_users ORDER BY username")
    return [(User(r[0], r[1], _stores(r[2])), int(r[3]), r[4] or "") for r in rows]


def _stores(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split(",") if s)


class LoginRefused(Exception):
    """Wrong name or password, or the account is locked; `code` says which (for the page)."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


def login(db: Database, username: str, password: str) -> tuple[str, Session]:
    """Check the password; returns (cookie token, session). Failures count towards the lockout
    and are audited; the same message is shown for an unknown name and a wrong password."""
    now = _now()
    row = db.one(
        "SELECT username, password_hash, role, stores, failures, locked_until FROM console_users WHERE username = ?",
        (username,),
    )
    if row is None:
        _verify(_DUMMY_HASH, password)  # the same time as for a real account
        raise LoginRefused("bad_login")
    locked_until = row[5]
    if locked_until and _parse(locked_until) > now:
        raise LoginRefused("locked")
    if not _verify(row[1], password):
        def failed(db: Database) -> None:
            failures = int(db.one("SELECT failures FROM console_users WHERE username = ?", (username,))[0]) + 1
            until = _iso(now + timedelta(minutes=LOCK_MINUTES)) if failures >= MAX_FAILURES else None
            db.execute(
                "UPDATE console_users SET failures = ?, locked_until = ? WHERE username = ?",
                (0 if until else failures, until, username),
            )
            audit.record(db, username, "login.failed", f"user:{username}", {}, {"locked_until": until} if until else {})

        db.run(failed)
        raise LoginRefused("bad_login")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    def opened(db: Database) -> None:
        db.execute("UPDATE console_users SET failures = 0, locked_until = NULL WHERE username = ?", (username,))
        db.execute("DELETE FROM console_sessions WHERE expires_at < ?", (_iso(now),))
        db.execute(
            "INSERT INTO console_sessions (token_hash, username, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (_digest(token), username, csrf, _iso(now), _iso(now + timedelta(hours=SESSION_HOURS))),
        )
        audit.record(db, username, "login", f"user:{username}", {}, {})

    db.run(opened)
    return token, Session(User(row[0], row[2], _stores(row[3])), csrf)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_for(db: Database, token: str) -> Session | None:
    if not token:
        return None
    row = db.one(
        "SELECT u.username, u.role, u.stores, s.csrf, s.expires_at FROM console_sessions s "
        "JOIN console_users u ON u.username = s.username WHERE s.token_hash = ?",
        (_digest(token),),
    )
    if row is None or _parse(row[4]) <= _now():
        return None
    return Session(User(row[0], row[1], _stores(row[2])), row[3])


def logout(db: Database, token: str) -> None:
    db.run(lambda db: db.execute("DELETE FROM console_sessions WHERE token_hash = ?", (_digest(token),)))


def same_token(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


class AddressLimiter:
    """At most `limit` login attempts per address in `window_s`: slows guessing across many
    accounts (the per-account lockout stops guessing one). In memory: one console process."""

    def __init__(self, limit: int = 20, window_s: float = 300.0):
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(address, deque())
            while seen and seen[0] < now - self.window_s:
                seen.popleft()
            if len(seen) >= self.limit:
                return False
            seen.append(now)
            return True
