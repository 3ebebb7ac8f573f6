"""The session tests' kiosk, built from real parts: the store on a temp dir, the simulated
reader with chip models, the card format with diversified keys, the payment adapters.
No threads: `run()` lets the reader worker and the session each take a turn, and time only
moves when the test moves the ManualClock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from kiosk.ledger.operations import Ledger
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.payment.cash_acceptor import CashAcceptorPayment
from kiosk.payment.hq_mqtt import NoHqPayment
from kiosk.payment.staff_cash import StaffCashPayment
from kiosk.reader import chips, originality
from kiosk.reader.card import issue_card
from kiosk.reader.keys import SiteKeys
from kiosk.reader.simulated import SimulatedReader
from kiosk.session.card_access import FormatCardAccess
from kiosk.session.charge_ticket import ChargeOrder, ChargeTicket, TillCharge
from kiosk.session.clock import ManualClock
from kiosk.session.incidents import IncidentLog
from kiosk.session.reader_worker import ReaderWorker
from kiosk.session.session import Session
from kiosk.session.settings import SessionSettings
from kiosk.session.states import S
from kiosk.store.store import Store

START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DEVICE = "kiosk-01"
PIN = "246810"
KEYS = SiteKeys(bytes(range(16)), b"test-chain")
OTHER_KEYS = SiteKeys(bytes(range(1, 17)), b"other-chain")
STAFF_UID_BYTES = bytes.fromhex("5A5A5A5A")
STAFF_UID = STAFF_UID_BYTES.hex().upper()
SIGNERS = (originality.TEST_PUBLIC_KEY,)  # the chip models' NTAGs are signed with the test key


class Pulses:
    """The count a cash acceptor's pulse line gives (kiosk.hw.CashPulseCounter in the hw tests)."""

    def __init__(self) -> None:
        self.count = 0


@dataclass
class Kiosk:
    session: Session
    store: Store
    reader: SimulatedReader
    cards: FormatCardAccess
    worker: ReaderWorker
    clock: ManualClock
    pulses: Pulses
    incidents: IncidentLog
    data_dir: Path
    views: list = field(default_factory=list)
    _n: int = 0

    @property
    def ledger(self) -> Ledger:
        return self.store.ledger

    @property
    def state(self) -> str:
        return self.session.state

    def run(self, rounds: int = 3) -> None:
        """Let the reader worker and the session each take a few turns."""
        for _ in range(rounds):
            self.worker.step()
            self.session.pump()

    def tap(self, chip) -> None:
        self.reader.place(chip)
        self.run()

    def lift(self) -> None:
        self.reader.remove()
        self.run()

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run(1)

    def enter_pin(self, pin: str) -> None:
        for d in pin:
            self.session.pin_digit(d)

    def account(self, chip):
        return self.ledger.state.card_account(chip.uid.hex().upper())[2]

    def incident_kinds(self) -> list[str]:
        return [i["kind"] for i in self.incidents.read_all()]

    # -- setup (not the flows under test) -----------------------------------------------------

    def blank(self, kind: str = "classic1k"):
        self._n += 1
        uid = bytes([0x04, 0x10, self._n >> 8, self._n & 0xFF])
        if kind == "classic1k":
            return chips.new_classic(uid)
        return chips.new_ntag(uid + b"\x00\x00\x01", kind=kind)

    def member(
        self,
        balance_fen: int = 0,
        birthday: date | None = None,
        pin: str = PIN,
        points_fen: int = 0,
        kind: str = "classic1k",
        name: str = "",
    ):
        """An issued card with a member behind it (gift already given unless told otherwise);
        `name` as the member gave it (default M<n>)."""
        chip = self.blank(kind)
        uid = chip.uid.hex().upper()
        now = self.clock.now()
        txn = self.ledger.sign_up(uid, 1, f"1380000{self._n:04d}", pin, now, name=name or f"M{self._n}",
                                   birthday=birthday)
        self.store.commit(txn)
        self.reader.place(chip)
        info = self.reader.wait_for_card(0)
        issue_card(self.reader, info, KEYS, txn.member_id, 1, now.date(), DEVICE, signers=SIGNERS)
        self.reader.remove()
        self.store.commit(self.ledger.new_member_gift(uid, now))
        if balance_fen:
            self.store.commit(self.ledger.top_up(uid, balance_fen, "setup", now))
        return chip


def make_kiosk(data_dir: Path, settings: SessionSettings | None = None, rules=None, printer=None, shop=None,
               device: str = DEVICE, sync=None) -> Kiosk:
    """`device` and `sync` (a SyncLink): for a kiosk talking to a real broker and HQ."""
    clock = ManualClock(START)
    store = Store.open(data_dir / "store", device, rules or default_rules(), b"test", FAST_FOR_TESTS)
    reader = SimulatedReader()
    cards = FormatCardAccess(KEYS, DEVICE, lambda: clock.now().date(), SIGNERS)
    pulses = Pulses()
    incidents = IncidentLog(data_dir / "incidents.jsonl")
    settings = settings or SessionSettings(staff_uids=frozenset({STAFF_UID}))
    payments = [StaffCashPayment(), CashAcceptorPayment(pulses, 100), NoHqPayment()]
    holder: list[Session] = []
    worker = ReaderWorker(reader, cards, lambda item: holder[0].post(item), poll_s=0)
    session = Session(
        store,
        clock=clock,
        payments=payments,
        card_writer=worker,
        incidents=incidents,
        settings=settings,
        reload_rules=lambda: store.ledger.rules,
        printer=printer,
        shop=shop,
        sync=sync(store) if callable(sync) else sync,
    )
    holder.append(session)
    kiosk = Kiosk(session, store, reader, cards, worker, clock, pulses, incidents, data_dir)
    session.subscribe(kiosk.views.append)
    return kiosk


def staff_card():
    return chips.new_classic(STAFF_UID_BYTES)


class OfflineLink:
    """The session's SyncLink seam (kiosk/session/sync_link.py): HQ unreachable since `since`."""

    def __init__(self, since) -> None:
        self.since = since

    def is_blocked(self, uid: str) -> bool:
        return False

    def money_paused(self) -> str:
        return ""

    def last_contact(self):
        return self.since

    def online(self) -> bool:
        return False

    def offline_for(self, now):
        """The wall-clock rule (the real link measures on its monotonic clock: kiosk/sync/hq_contact.py)."""
        return now - self.since


def till_charge(kiosk: Kiosk, chip, amount_fen: int, order: str) -> ChargeTicket:
    """A till's charge of `amount_fen` paid with `chip` (and the PIN when asked), back at idle."""
    ticket = ChargeTicket(ChargeOrder(order, amount_fen, False, 60))
    kiosk.session.post(TillCharge(ticket))
    kiosk.run()
    kiosk.tap(chip)
    kiosk.session.confirm_charge()
    if kiosk.state == S.charge_pin:
        kiosk.enter_pin(PIN)
    kiosk.lift()
    kiosk.wait(60)
    return ticket
