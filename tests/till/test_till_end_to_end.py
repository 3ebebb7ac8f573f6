"""The whole chain for a till charge: a till client over real HTTP -> the kiosk's till API ->
the session -> a card tapped on the emulated PN532 through nfcpy -> the PIN -> the journal ->
MQTT through a real Mosquitto -> HQ's receiver and SQL ledger. A charge with the PIN, a retry
after the lost response (charged once), a partial refund and a same-day void; HQ ends with the
kiosk's own account and order records, and no conflict. A charge with the new-member voucher
the till names, and one with a voucher past its last day, declined with nothing taken."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest

pn532 = pytest.importorskip("kiosk.reader.pn532")
emulators = pytest.importorskip("tests.emulators.pn532")
field_module = pytest.importorskip("tests.emulators.field")

from kiosk.hq.embedded import start_receiver  # noqa: E402
from kiosk.hq.ledger import list_conflicts, load_state  # noqa: E402
from kiosk.ledger import vouchers  # noqa: E402
from kiosk.ledger.model import VoucherStatus  # noqa: E402
from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.sample import default_rules  # noqa: E402
from kiosk.reader.chips import new_classic  # noqa: E402
from kiosk.session.card_access import FormatCardAccess  # noqa: E402
from kiosk.session.clock import SystemClock  # noqa: E402
from kiosk.session.reader_worker import ReaderWorker  # noqa: E402
from kiosk.session.session import Session  # noqa: E402
from kiosk.session.settings import SessionSettings  # noqa: E402
from kiosk.store.store import Store  # noqa: E402
from kiosk.till.server import TillServer  # noqa: E402
from kiosk.till.settings import TillSettings  # noqa: E402
from kiosk.till.tokens import TillTokens  # noqa: E402
from tests.session_support import KEYS, START  # noqa: E402
from tests.sync.test_drain import start_kiosk  # noqa: E402
from tests.till.till_support import free_port  # noqa: E402

PIN = "135792"


def until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_till_to_hq_through_the_pn532_and_mqtt(mosquitto, tmp_path):
    field = field_module.Field()
    with emulators.Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        reader = pn532.Pn532Reader(emu.path, poll_interval=0.005)
        reader.open()
        store = Store.open(tmp_path / "store", "D1", default_rules(), b"test", FAST_FOR_TESTS)
        holder: list[Session] = []
        worker = ReaderWorker(reader, FormatCardAccess(KEYS, "D1", lambda: START.date()),
                              lambda i: holder[0].post(i), 0.01)
        session = Session(store, clock=SystemClock(), card_writer=worker, settings=SessionSettings())
        holder.append(session)
        worker.start()
        lock, stop = threading.RLock(), threading.Event()
        sync = start_kiosk(store, mosquitto, "D1")

        def drive() -> None:  # the kiosk's main thread: the session and the sync client's store work
            while not stop.is_set():
                with lock:
                    session.pump()
                    sync.poll()
                time.sleep(0.005)

        def act(action):
            with lock:
                return action()

        # a member signs up at the kiosk (the card written through nfcpy), then tops up
        chip = new_classic()
        uid = chip.uid.hex().upper()
        field.place(chip)
        assert until(lambda: session.pump().state == "signup_offer")
        session.start_signup()
        session.submit_details("13912345678", "Wu")
        session.accept_privacy()
        for digit in PIN * 2:
            session.pin_digit(digit)
        assert until(lambda: session.pump().state == "done")
        field.remove()
        assert until(lambda: session.pump().state == "idle")
        store.commit(store.ledger.top_up(uid, 100_000, "cash-1", SystemClock().now()))

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        token = TillTokens.load(tmp_path / "till-tokens.json").add("till-1")
        server = TillServer(session, TillSettings(enabled=True, port=free_port()), tmp_path).start()
        http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        try:
            with start_receiver(tmp_path / "hq.sqlite3", mosquitto.host, mosquitto.port, "hq",
                                mosquitto.password("hq")) as hq:

                def pay(order: str, amount: int, pin: bool, **extra) -> dict:
                    r = http.post("/v1/charges", json={"order_id": order, "amount_fen": amount, "apply_discount": True,
                                                       **extra})
                    assert r.status_code == 202, r.text
                    chip.place()
                    field.place(chip)
                    assert until(lambda: session.state == "charge_confirm"), session.state
                    act(session.confirm_charge)
                    if pin:
                        assert session.state == "charge_pin"
                        for digit in PIN:
                            act(lambda d=digit: session.pin_digit(d))
                    body = http.get(f"/v1/charges/{order}", params={"wait_s": 10, "since": 0}).json()
                    assert until(lambda: http.get(f"/v1/charges/{order}").json()["status"] != "pending")
                    field.remove()
                    assert until(lambda: session.state in ("idle", "done"))
                    return http.get(f"/v1/charges/{order}").json() if body["status"] == "pending" else body

                first = pay("A1", 30_000, pin=True)
                assert (first["status"], first["discount_fen"], first["amount_fen"]) == ("approved", 600, 29_400)  # Silver: 2% off
                retry = http.post("/v1/charges", json={"order_id": "A1", "amount_fen": 30_000, "apply_discount": True})
                assert retry.status_code == 200 and retry.json()["txn_id"] == first["txn_id"]  # charged once
                refund = http.post("/v1/refunds", json={"order_id": "A1", "refund_id": "R1", "amount_fen": 10_000})
                assert refund.json()["status"] == "approved"
                assert until(lambda: session.state == "idle", 20)
                second = pay("A2", 1_500, pin=False)
                assert second["status"] == "approved"
                void = http.post("/v1/voids", json={"order_id": "A2"}).json()
                assert void["status"] == "approved" and void["amount_fen"] == second["amount_fen"] == 1_470

                # the new-member voucher (入会送券), named by the till: ¥60 less 2%, less ¥10
                member_id = store.ledger.state.cards[uid].member_id
                welcome = next(v for v in store.ledger.state.accounts[member_id].vouchers if v.reason == "new_member")
                assert until(lambda: session.state == "idle", 20)
                third = pay("A3", 6_000, pin=False, voucher_id=welcome.id)
                assert (third["status"], third["voucher_id"], third["voucher_fen"], third["amount_fen"]) == (
                    "approved", welcome.id, 1_000, 4_880)
                # a voucher whose last day has passed: declined, nothing taken
                assert until(lambda: session.state == "idle", 20)
                old = act(lambda: vouchers.issue(store.ledger, member_id, "thanks5",
                                                 SystemClock().now() - timedelta(days=15), "old"))
                act(lambda: store.commit(old))
                balance = store.ledger.state.accounts[member_id].balance_fen
                r = http.post("/v1/charges", json={"order_id": "A4", "amount_fen": 6_000, "apply_discount": True,
                                                   "voucher_id": old.txn_id})
                assert r.status_code == 202, r.text
                field.place(chip)
                assert until(lambda: http.get("/v1/charges/A4").json()["status"] == "declined")
                assert http.get("/v1/charges/A4").json()["reason"] == "voucher_expired"
                field.remove()
                assert until(lambda: session.state == "idle", 20)
                assert store.ledger.state.accounts[member_id].balance_fen == balance

                assert until(lambda: store.outbox_depth() == 0, 60), sync.status()
                at_hq = load_state(hq.admin_db)
                assert at_hq.accounts[member_id] == store.ledger.state.accounts[member_id]
                order = at_hq.accounts[member_id].order("till-1:A1")
                assert (order.paid_fen, order.refunded_fen) == (29_400, 10_000)
                assert at_hq.accounts[member_id].order("till-1:A2").voided
                assert list_conflicts(hq.admin_db) == []
                orders = [o.key for o in at_hq.accounts[member_id].orders]
                assert orders == ["till-1:A1", "till-1:A2", "till-1:A3"]  # each charged once, A4 never
                used = at_hq.accounts[member_id].voucher(welcome.id)
                assert (used.status, used.order_key) == (VoucherStatus.USED, "till-1:A3")
                assert at_hq.accounts[member_id].voucher(old.txn_id).status is VoucherStatus.VALID  # never used
        finally:
            http.close()
            server.stop()
            stop.set()
            driver.join(timeout=5)
            sync.stop()
            worker.stop()
            reader.close()
            store.close()
