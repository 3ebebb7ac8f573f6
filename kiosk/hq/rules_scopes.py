"""Where HQ keeps the rules in force: one document for the whole chain, and a document of its own
for a store that was published to alone (a pilot of new rules, say).

The protocol already has both topics (`_chain/rules`, `{store}/_store/rules`) and a kiosk takes
the newest version it hears on either, so versions are one counter across all scopes: a new
document must be above every version published anywhere. A store then runs the newer of the
chain's document and its own. Publishing to the chain also rewrites every store's own document
with the chain's, so each store's retained copy stays the newest (a kiosk reconnecting never
hears an older version it would log as out of date)."""

from __future__ import annotations

import functools
import json

from kiosk.hq.db import Database
from kiosk.ledger.rules import Rules, parse_rules
from kiosk.sync.topics import check_id

CHAIN = ""  # the scope of the whole chain
_DOC, _MARK = "rules_doc", "published_rules_version"


def doc_key(store: str) -> str:
    """The settings row holding a scope's document ("rules_doc" for the chain, as before)."""
    return f"{_DOC}@{check_id('store', store)}" if store else _DOC


def mark_key(store: str) -> str:
    """The settings row holding the version last published on a scope's topic."""
    return f"{_MARK}@{check_id('store', store)}" if store else _MARK


def scoped_rules(db: Database, store: str = CHAIN) -> tuple[dict, Rules] | None:
    """The document published to exactly this scope, or None."""
    row = db.one("SELECT value FROM settings WHERE key = ?", (doc_key(store),))
    return _parsed(row[0]) if row and row[0] else None


def own_stores(db: Database) -> list[str]:
    """The stores holding a document of their own."""
    rows = db.all("SELECT key FROM settings WHERE key LIKE ? ORDER BY key", (f"{_DOC}@%",))
    return [key.split("@", 1)[1] for (key,) in rows]


def rules_for_store(db: Database, store: str) -> tuple[dict, Rules] | None:
    """What the kiosks of `store` run once they have heard both topics: the newer document."""
    found = [f for f in (scoped_rules(db), scoped_rules(db, store) if store else None) if f]
    return max(found, key=lambda f: f[1].version) if found else None


def highest_version(db: Database) -> int:
    """The one counter: the highest version published anywhere (0: none yet)."""
    scopes = [CHAIN, *own_stores(db)]
    return max((f[1].version for f in (scoped_rules(db, s) for s in scopes) if f), default=0)


def put_rules(db: Database, doc: dict, stores: tuple[str, ...] = ()) -> None:
    """Put `doc` in force for the chain (no stores) or for each of `stores` (caller's transaction,
    version already checked against `highest_version`)."""
    text = json.dumps(doc, ensure_ascii=False)
    targets = stores or (CHAIN, *own_stores(db))
    for store in targets:
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (doc_key(store), text),
        )


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> tuple[dict, Rules]:
    """Receivers look every second; parse a document once, not every time."""
    doc = json.loads(text)
    return doc, parse_rules(doc, "hq settings")
