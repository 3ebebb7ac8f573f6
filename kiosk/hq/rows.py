"""The ledger rows a run of transactions touches: read them into a small LedgerState, work out
what changed, write that back.

Split in three so a receiver holds no lock while Python works: `load_rows` reads (with or
without row locks), `plan_writes` encodes the changed rows (pure Python), and `Writes.execute`
sends them. A reader that did not lock re-reads its rows under lock with `unchanged` before it
writes: equal texts mean what it computed from is still the ledger, anything else means another
receiver wrote first and the run is computed again."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from kiosk.hq.db import Database
from kiosk.ledger.codec import decode, encode
from kiosk.ledger.model import Account, Card, CardStatus, Member
from kiosk.ledger.state import LedgerState


def dump(value: object) -> str:
    """A ledger value as its row text (exactly json.dumps of codec.encode, compact), remembered
    so reading it back costs no decoding. msgspec encodes the dataclass in C (fields in order,
    enums by value, dates and UTC times as the codec writes them, strings escaped as json.dumps
    does): a tenth of the codec's time for an account of a few dozen items. A time not in UTC
    (naive, or another offset) would come out otherwise than the codec writes it (converted to
    Z, or refused), so any text that may hold one goes through the codec."""
    raw = _ENCODE(value)
    text = _codec_text(value) if _MAYBE_NOT_UTC.search(raw) else raw.decode()
    ROWS.put(text, value)
    return text


def _codec_text(value: object) -> str:
    return json.dumps(encode(value), separators=(",", ":"), ensure_ascii=False)


_ENCODE = msgspec.json.Encoder().encode
# a time's seconds (and fraction) followed by anything but Z: the closing quote (naive) or an
# offset. Only a text that holds one (or looks like it: a name "T12:30:45-x") pays for the codec.
_MAYBE_NOT_UTC = re.compile(rb"T\d\d:\d\d:\d\d(?:\.\d+)?[^Z.\d]")


class _RowCache:
    """Decoded rows by their JSON text: a row this process wrote or read before, unchanged in
    SQL since, is not decoded again (decoding is most of the cost of applying). Keyed by the
    exact text, so a row another receiver changed is simply a miss."""

    def __init__(self, limit: int = 50_000):
        self.limit, self.rows = limit, {}

    def get(self, cls: type, text: str):
        found = self.rows.get(text)
        if found is None or type(found) is not cls:
            found = decode(cls, json.loads(text))
            self.put(text, found)
        return found

    def put(self, text: str, value: object) -> None:
        if len(self.rows) >= self.limit:
            self.rows.clear()
        self.rows[text] = value


ROWS = _RowCache()


@dataclass
class Loaded:
    """A LedgerState holding just the rows some transactions touch, plus what it started as
    (the values, and the exact texts read, to tell later whether anyone changed them)."""

    state: LedgerState
    members: dict[str, Member]
    cards: dict[str, Card]
    accounts: dict[str, Account]
    stock: dict[str, int]
    keys: tuple[list[str], list[str]] = ([], [])  # (member ids, card uids) asked for
    texts: tuple = ()  # what the reads returned, as compared by `unchanged`


def _read(db: Database, members_wanted: list[str], uids_wanted: list[str], lock: bool) -> tuple:
    """The raw rows of the wanted members, their accounts and cards, and the stock (texts only),
    asked for together (one round trip on PostgreSQL: a receiver does this twice per run)."""
    how = db.for_update() if lock else ""
    marks = db.in_list(members_wanted)
    wanted = [  # (asked for, query, params): an empty IN () is no SQL, and would find nothing
        (bool(uids_wanted), f"SELECT uid, body FROM cards WHERE uid IN {db.in_list(uids_wanted)} ORDER BY uid{how}", uids_wanted),
        (bool(members_wanted), f"SELECT member_id, body FROM members WHERE member_id IN {marks} ORDER BY member_id{how}", members_wanted),
        (bool(members_wanted), f"SELECT member_id, body FROM accounts WHERE member_id IN {marks} ORDER BY member_id{how}", members_wanted),
        (bool(members_wanted), f"SELECT uid, body FROM cards WHERE member_id IN {marks} ORDER BY uid{how}", members_wanted),
        (True, f"SELECT reward_id, units FROM stock ORDER BY reward_id{how}", []),
    ]
    found = iter(db.all_of([(sql, params) for asked, sql, params in wanted if asked]))
    by_uid, members, accounts, by_member, stock = [next(found) if asked else [] for asked, _, _ in wanted]
    return tuple(by_uid), tuple(members), tuple(accounts), tuple(by_member), tuple((r, int(u)) for r, u in stock)


def load_rows(db: Database, member_ids: Iterable[str], uids: Iterable[str], phone: str = "", lock: bool = True) -> Loaded:
    """Load the members, accounts and cards a set of txns touches; lock=True (on PostgreSQL) locks
    them until the transaction ends, lock=False reads them as they are for `unchanged` to check."""
    members_wanted = sorted(set(member_ids))
    uids_wanted = sorted({u for u in uids if u})
    texts = _read(db, members_wanted, uids_wanted, lock)
    by_uid, member_rows, account_rows, by_member, stock_rows = texts
    cards = {uid: ROWS.get(Card, body) for uid, body in by_uid + by_member}
    members = {mid: ROWS.get(Member, body) for mid, body in member_rows}
    accounts = {mid: ROWS.get(Account, body) for mid, body in account_rows}
    if phone:
        for mid, body in db.all("SELECT member_id, body FROM members WHERE phone = ?", (phone,)):
            members.setdefault(mid, ROWS.get(Member, body))
    stock = dict(stock_rows)
    state = LedgerState(dict(members), dict(cards), dict(accounts), dict(stock), {})
    return Loaded(state, members, cards, accounts, stock, (members_wanted, uids_wanted), texts)


def unchanged(db: Database, loaded: Loaded) -> bool:
    """Inside the writing transaction: lock the rows `loaded` read and say whether they are
    still exactly what it read (rows another receiver added since count as a change too)."""
    return _read(db, *loaded.keys, lock=True) == loaded.texts


COLUMNS = {  # each ledger table's columns, its key first
    "members": ("member_id", "phone", "status", "body"),
    "accounts": ("member_id", "balance_fen", "points", "body"),
    "cards": ("uid", "member_id", "status", "body"),
    "stock": ("reward_id", "units"),
}


@dataclass
class Writes:
    """The changed rows, encoded and ready to send (full rows in COLUMNS order): new ones and
    changed ones per table."""

    new: dict[str, list[tuple]] = field(default_factory=lambda: {table: [] for table in COLUMNS})
    changed: dict[str, list[tuple]] = field(default_factory=lambda: {table: [] for table in COLUMNS})
    blocked: list[tuple[str, int]] = field(default_factory=list)  # (uid, 1 blocked / 0 active again)

    def execute(self, db: Database, at: str) -> bool:
        """Write them in the caller's transaction. An INSERT of a row another receiver created
        meanwhile fails (and the transaction is retried), never overwrites. Returns True when
        the blocked-card list changed."""
        for table, columns in COLUMNS.items():
            db.insert_many(table, columns, self.new[table])
            db.update_many(table, columns[0], columns, self.changed[table])
        if self.blocked:
            row = db.one("SELECT MAX(version) FROM blocked_changes")
            version = int(row[0] or 0) if row else 0
            db.executemany(
                "INSERT INTO blocked_changes (version, uid, blocked, at) VALUES (?, ?, ?, ?)",
                [(version + i, uid, blocked, at) for i, (uid, blocked) in enumerate(self.blocked, start=1)],
            )
        return bool(self.blocked)


def plan_writes(loaded: Loaded) -> Writes:
    """The rows `loaded.state` changed since it was loaded, encoded (no I/O)."""
    s, out = loaded.state, Writes()
    for mid, member in s.members.items():
        old = loaded.members.get(mid)
        if old is not member:
            (out.new if old is None else out.changed)["members"].append((mid, member.phone, str(member.status), dump(member)))
    for mid, account in s.accounts.items():
        old = loaded.accounts.get(mid)
        if old is not account:
            row = (mid, account.balance_fen, account.points, dump(account))
            (out.new if old is None else out.changed)["accounts"].append(row)
    for uid, card in s.cards.items():
        old = loaded.cards.get(uid)
        if old is not card:
            (out.new if old is None else out.changed)["cards"].append((uid, card.member_id, str(card.status), dump(card)))
        was_active = old is None or old.status is CardStatus.ACTIVE
        is_active = card.status is CardStatus.ACTIVE
        if was_active != is_active:
            out.blocked.append((uid, 0 if is_active else 1))
    for rid, units in s.stock.items():
        if rid not in loaded.stock:
            out.new["stock"].append((rid, units))
        elif loaded.stock[rid] != units:
            out.changed["stock"].append((rid, units))
    return out
