"""Putting a kiosk's session together from its configuration: reader thread, card layer,
payment adapters, GPIO feedback and cash acceptor, incident log, receipt printer. `kiosk run`
calls this; the caller opens the store and the reader (kiosk.reader.factory) and pumps the
session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.app.clock_trust import SystemClockTrust
from kiosk.app.config import Config
from kiosk.hw.setup import Hardware, open_hardware
from kiosk.ledger.rules import Rules, RulesError, load_rules_json
from kiosk.payment.cash_acceptor import CashAcceptorPayment
from kiosk.payment.hq_mqtt import HqMqttPayment, NoHqPayment
from kiosk.payment.staff_cash import StaffCashPayment
from kiosk.reader import originality
from kiosk.reader.base import Reader
from kiosk.reader.card import DEFAULT_SIGNERS
from kiosk.reader.keys import CardKeys, SiteKeys
from kiosk.receipt.receipt import Shop
from kiosk.receipt.setup import open_printer
from kiosk.session.card_access import FormatCardAccess
from kiosk.session.clock import Clock, SystemClock
from kiosk.session.flows.staff import Staff
from kiosk.session.incidents import IncidentLog
from kiosk.session.ports import NoFeedback
from kiosk.session.reader_worker import ReaderWorker
from kiosk.session.session import Session
from kiosk.session.sync_link import SyncClientLink

INCIDENTS_FILE = "incidents.jsonl"


@dataclass
class KioskSession:
    session: Session
    worker: ReaderWorker
    hardware: Hardware

    def start(self) -> None:
        """Start the reader thread; from now on pump the session on the driving thread."""
        self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.hardware.close()
        self.session.printer.close()


def site_keys_from(config: Config) -> SiteKeys:
    """The card master key named by [secrets] (mode 600, KeyFileError otherwise)."""
    path = config.secrets.card_master_key_file
    if path is None:
        raise ValueError(f"{config.source}: secrets.card_master_key_file is not set")
    system_id = getattr(config.secrets, "card_system_id", "kiosk")
    return SiteKeys.from_file(Path(path), system_id.encode("utf-8"))


def shop_from(config: Config) -> Shop:
    """What every receipt of this kiosk says about where it was printed."""
    device = config.device
    return Shop(store_name=config.printer.store_name or device.store, device_id=device.id, locale=device.locale)


def build_session(
    config: Config,
    store,
    reader: Reader,
    keys: SiteKeys | Sequence[SiteKeys | CardKeys],
    *,
    clock: Clock | None = None,
    pin_factory=None,
    poll_s: float = 0.1,
    sync_client=None,
) -> KioskSession:
    """`sync_client`: a started kiosk.sync.client.SyncClient, or None to run without HQ."""
    clock = clock or SystemClock()
    hardware = open_hardware(config.gpio, pin_factory=pin_factory)
    def today():
        return store.ledger.rules.local_date(clock.now())  # the store's local date, rules in force

    signers = DEFAULT_SIGNERS
    if config.reader.driver == "simulated":  # simulated NTAGs are signed with the test key, not NXP's
        signers = (*DEFAULT_SIGNERS, originality.TEST_PUBLIC_KEY)
    cards = FormatCardAccess(keys, config.device.id, today, signers)
    holder: list[Session] = []
    worker = ReaderWorker(reader, cards, lambda item: holder[0].post(item), poll_s=poll_s)

    def reload_rules() -> Rules:
        """The local rules file ([rules] file): checked strictly, errors name the file (and the
        line, for broken JSON), then put in force like HQ's."""
        if config.rules_file is None:
            return store.ledger.rules
        path = Path(config.rules_file)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise RulesError(str(path), "-", f"cannot read the rules file: {exc.strerror or exc}") from None
        doc, _ = load_rules_json(text, str(path))
        return store.put_rules(doc)

    session = Session(
        store,
        clock=clock,
        clock_trust=SystemClockTrust(lambda: store.latest_txn_at),
        payments=[
            StaffCashPayment(),
            CashAcceptorPayment(hardware.pulses, config.gpio.fen_per_pulse),
            NoHqPayment() if sync_client is None else HqMqttPayment(sync_client.payments),
        ],
        card_writer=worker,
        incidents=IncidentLog(Path(config.device.data_dir) / INCIDENTS_FILE),
        feedback=hardware.feedback or NoFeedback(hardware.note),
        settings=config.session,
        reload_rules=reload_rules,
        sync=SyncClientLink(sync_client) if sync_client is not None else None,
        printer=open_printer(config.printer),
        shop=shop_from(config),
    )
    holder.append(session)
    if sync_client is not None:  # HQ's fleet page shows them (the status message)
        sync_client.device_state = lambda: (session.flow(Staff).reader_status, session.printer.describe())
    return KioskSession(session, worker, hardware)
