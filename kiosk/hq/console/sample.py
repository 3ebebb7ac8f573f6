"""A small chain for the console's tests, screenshots and benchmark: kiosks in stores sign up
members and top them up with the kiosk's own Ledger, and HQ takes the events the way the
receiver does (store, then apply in seq order), so the console reads real HQ rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from kiosk.hq import devices
from kiosk.hq.db import Database
from kiosk.hq.ledger import apply_pending, now_text, store_events
from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import LedgerState
from kiosk.sync import messages as m


@dataclass(frozen=True)
class NewMember:
    device: str
    uid: str
    phone: str
    name: str
    topup_fen: int = 0
    spend_fen: int = 0  # a purchase right after the top-up (puts them on the follow-up call lists)
    birthday: date | None = None


def seed(db: Database, kiosks: dict[str, str], people: Sequence[NewMember], now: datetime | None = None) -> dict[str, str]:
    """`kiosks`: device -> store. Returns card uid -> member id."""
    now = now or datetime.now(UTC) - timedelta(days=1)
    rules = default_rules()
    at = now_text()
    db.run(lambda db: [_heard(db, d, s, at, rules.version) for d, s in kiosks.items()])
    ledgers = {d: Ledger(LedgerState(), rules, d, pin_params=FAST_FOR_TESTS) for d in kiosks}
    txns, members = [], {}
    for n, person in enumerate(people):
        ledger = ledgers[person.device]
        when = now + timedelta(seconds=n)
        for txn in _member_txns(ledger, person, when):
            ledger.apply(txn)
            txns.append(txn)
        members[person.uid] = ledger.state.cards[person.uid].member_id
    store_events(db, txns)
    apply_pending(db, kiosks)
    return members


def _heard(db: Database, device: str, store: str, at: str, rules_version: int) -> None:
    """The kiosk's status as the receiver records it."""
    devices.record_status(db, device, store, True, 0, "kiosk 0.1.0", "", at)
    status = m.Status(device, store, "online", "kiosk 0.1.0", 0, datetime.now(UTC), rules_version=rules_version,
                      reader="ok", printer="escpos usb: 3 printed, 0 failed")
    devices.record_health(db, device, at, status.body())


def _member_txns(ledger: Ledger, person: NewMember, when: datetime):
    """Lazy: the caller applies each txn before the next one is decided."""
    yield ledger.sign_up(person.uid, 1, person.phone, "246810", when, name=person.name, birthday=person.birthday)
    if person.topup_fen:
        yield ledger.top_up(person.uid, person.topup_fen, f"pay-{person.uid}", when + timedelta(seconds=1))
    if person.spend_fen:
        yield ledger.spend(person.uid, person.spend_fen, when + timedelta(seconds=2), pin_verified=True)
