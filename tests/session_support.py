"""Parts the session tests assemble: a session on a real ledger, a reader with a card field,
a card layer, the payment adapters. Kept in one place so the real store, simulated reader and
card layer replace their stand-ins here once their branches land."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.state import ApplyResult, LedgerState
from kiosk.ledger.txn import Txn
from kiosk.payment.cash_acceptor import CashAcceptorPayment
from kiosk.payment.hq_mqtt import HqMqttPaymentPlaceholder
from kiosk.payment.staff_cash import StaffCashPayment
from kiosk.reader.base import CardGone, CardInfo, CardType, Reader
from kiosk.session.clock import ManualClock
from kiosk.session.inputs import CardKind, CardRead
from kiosk.session.reader_worker import ReaderWorker
from kiosk.session.session import MemoryIncidents, Session, SessionSettings

START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DEVICE = "kiosk-01"
STAFF_UID = "5A5A5A5A"
PIN = "246810"


class MemoryStore:
    """Stand-in for kiosk.store.Store until branch `store` lands: commit = apply, journal kept."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.journal: list[Txn] = []
        self.fail_next = False

    def commit(self, txn: Txn) -> ApplyResult:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.journal.append(txn)
        return self.ledger.apply(txn)

    def outbox_depth(self) -> int:
        return len(self.journal)


class FieldReader(Reader):
    """A reader whose field holds the card a test placed there; waits return at once."""

    def __init__(self) -> None:
        self.card: CardInfo | None = None
        self._seen: CardInfo | None = None
        self.opened = False

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.opened = False

    def place(self, uid: str) -> None:
        self.card = CardInfo(bytes.fromhex(uid), CardType.MIFARE_CLASSIC_1K, b"\x00\x04", 0x08)

    def remove(self) -> None:
        self.card = None

    def wait_for_card(self, timeout: float) -> CardInfo | None:
        self._seen = self.card
        return self.card

    def wait_for_removal(self, timeout: float) -> bool:
        return self.card is None or self.card is not self._seen


class TableCardAccess:
    """Card layer stand-in: what each UID 'carries'. Issuing writes the member format."""

    def __init__(self) -> None:
        self.kinds: dict[str, CardKind] = {}
        self.issued: dict[str, tuple[str, int]] = {}
        self.fail_issue: Exception | None = None

    def read(self, reader: Reader, info: CardInfo) -> CardRead:
        uid = info.uid.hex().upper()
        return CardRead(uid, self.kinds.get(uid, CardKind.FOREIGN))

    def issue(self, reader: Reader, info: CardInfo, member_id: str, card_seq: int) -> None:
        if reader.wait_for_card(0) is None:
            raise CardGone("card left during write")
        if self.fail_issue is not None:
            raise self.fail_issue
        uid = info.uid.hex().upper()
        self.kinds[uid] = CardKind.MEMBER
        self.issued[uid] = (member_id, card_seq)


class Pulses:
    """A pulse source the cash-acceptor adapter reads (the GPIO counter in the hw tests)."""

    def __init__(self) -> None:
        self.count = 0


@dataclass
class Kiosk:
    session: Session
    store: MemoryStore
    reader: FieldReader
    cards: TableCardAccess
    worker: ReaderWorker
    clock: ManualClock
    pulses: Pulses
    incidents: MemoryIncidents
    views: list = field(default_factory=list)

    @property
    def ledger(self) -> Ledger:
        return self.store.ledger

    def run(self, rounds: int = 2) -> None:
        """Let the reader thread and the session each take a turn (deterministic, no threads)."""
        for _ in range(rounds):
            self.worker.step()
            self.session.pump()

    def tap(self, uid: str) -> None:
        self.reader.place(uid)
        self.run()

    def lift(self) -> None:
        self.reader.remove()
        self.run()

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.session.pump()

    def enter_pin(self, pin: str) -> None:
        for d in pin:
            self.session.pin_digit(d)

    def member(self, uid: str):
        return self.ledger.state.card_account(uid)

    def sign_up(self, uid: str, phone: str, birthday: date | None = None, pin: str = PIN) -> str:
        """Put a member in the ledger directly (setup, not the flow under test)."""
        txn = self.ledger.sign_up(uid, 1, phone, pin, self.clock.now(), name="Test", birthday=birthday)
        self.store.commit(txn)
        self.cards.kinds[uid] = CardKind.MEMBER
        return txn.member_id

    def credit(self, uid: str, fen: int) -> None:
        self.store.commit(self.ledger.top_up(uid, fen, "setup", self.clock.now()))


def make_kiosk(settings: SessionSettings | None = None, rules=None) -> Kiosk:
    clock = ManualClock(START)
    ledger = Ledger(LedgerState(), rules or default_rules(), DEVICE, pepper=b"test", pin_params=FAST_FOR_TESTS)
    store = MemoryStore(ledger)
    reader = FieldReader()
    cards = TableCardAccess()
    pulses = Pulses()
    incidents = MemoryIncidents()
    settings = settings or SessionSettings(staff_uids=frozenset({STAFF_UID}))
    payments = [StaffCashPayment(), CashAcceptorPayment(pulses, 100), HqMqttPaymentPlaceholder()]
    holder: list[Session] = []
    worker = ReaderWorker(reader, cards, lambda item: holder[0].post(item))
    session = Session(
        store,
        clock=clock,
        payments=payments,
        card_writer=worker,
        incidents=incidents,
        settings=settings,
        reload_rules=lambda: ledger.rules,
    )
    holder.append(session)
    kiosk = Kiosk(session, store, reader, cards, worker, clock, pulses, incidents)
    session.subscribe(kiosk.views.append)
    return kiosk
