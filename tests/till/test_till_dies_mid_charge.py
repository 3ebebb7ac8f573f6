"""A till that dies mid-charge. The till is the reference client (`kiosk till charge`) in its
own process, over real HTTP to the kiosk's till API; the card is tapped on the emulated PN532
through nfcpy. The client is killed (SIGKILL) at each point of a charge: before the tap, after
the tap before the PIN, and after the approval before it read the answer (stopped in its
long-poll with the answer in its socket, then killed). Each time the kiosk charges at most once,
its screen shows the result or returns to the attract screen after its timeout, and a till
that comes back (the same client code, run in this process to keep the test quick), before and
after a kiosk restart, and asks the same order again gets the first answer and starts nothing."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, redirect_stdout

import pytest

pn532 = pytest.importorskip("kiosk.reader.pn532")
emulators = pytest.importorskip("tests.emulators.pn532")
field_module = pytest.importorskip("tests.emulators.field")

from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.sample import default_rules  # noqa: E402
from kiosk.ledger.txn import Kind  # noqa: E402
from kiosk.reader.card import issue_card  # noqa: E402
from kiosk.reader.chips import new_classic  # noqa: E402
from kiosk.session.card_access import FormatCardAccess  # noqa: E402
from kiosk.session.clock import ManualClock  # noqa: E402
from kiosk.session.reader_worker import ReaderWorker  # noqa: E402
from kiosk.session.session import Session  # noqa: E402
from kiosk.session.settings import SessionSettings  # noqa: E402
from kiosk.session.states import S  # noqa: E402
from kiosk.store.store import Store  # noqa: E402
from kiosk.till import command  # noqa: E402
from kiosk.till.server import TillServer  # noqa: E402
from kiosk.till.settings import TillSettings  # noqa: E402
from kiosk.till.tokens import TillTokens  # noqa: E402
from tests.session_support import DEVICE, KEYS, PIN, SIGNERS, START  # noqa: E402
from tests.till.till_support import free_port  # noqa: E402


def until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


class Pn532Kiosk:
    """The kiosk process's parts on one data dir: store, session on a manual clock, the reader
    worker on the PN532 emulator, the till API; a thread pumps the session as Kivy's clock does."""

    def __init__(self, tmp_path, reader, port: int) -> None:
        self.clock = ManualClock(START)
        self.store = Store.open(tmp_path / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
        holder: list[Session] = []
        self.worker = ReaderWorker(reader, FormatCardAccess(KEYS, DEVICE, lambda: START.date(), SIGNERS),
                                   lambda i: holder[0].post(i), 0.01)
        self.session = Session(self.store, clock=self.clock, card_writer=self.worker, settings=SessionSettings())
        holder.append(self.session)
        self.lock, self._stop = threading.RLock(), threading.Event()
        self.worker.start()
        self.thread = threading.Thread(target=self._drive, daemon=True)
        self.thread.start()
        self.server = TillServer(self.session, TillSettings(enabled=True, port=port), tmp_path).start()

    def _drive(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.session.pump()
            time.sleep(0.005)

    def act(self, action):
        with self.lock:
            return action()

    def wait(self, seconds: float) -> None:
        self.act(lambda: self.clock.advance(seconds))

    def spends(self, order_key: str) -> list:
        return [t for t in self.store.outbox() if t.kind is Kind.SPEND and t.payment_ref == order_key]

    def close(self) -> None:
        self.server.stop()
        self._stop.set()
        self.thread.join(timeout=5)
        self.worker.stop()
        self.store.close()


@contextmanager
def till_client(url: str, token: str, order: str, amount_fen: int):
    """`kiosk till charge` in its own process, as a store's till would run it."""
    env = {**os.environ, "KIOSK_TILL_URL": url, "KIOSK_TILL_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "till", "charge", str(amount_fen), "--order", order,
                             "--timeout", "10"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def answer_of(url: str, token: str, order: str, amount_fen: int) -> tuple[int, dict]:
    """A till that comes back asks the same order again (the reference client's own code, in this
    process): its exit status and the answer it printed."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = io.StringIO()
    with redirect_stdout(out):
        code = command.run(parser.parse_args(["--url", url, "--token", token, "charge", str(amount_fen),
                                              "--order", order, "--timeout", "10"]))
    return code, json.loads(out.getvalue().split("\n\n-- receipt --")[0])


def killed(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def test_a_till_killed_at_each_point_of_a_charge_never_charges_twice(tmp_path):
    field = field_module.Field()
    with emulators.Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        reader = pn532.Pn532Reader(emu.path, poll_interval=0.005)
        reader.open()
        # a member with ¥1,000 (and its bonus) on a card issued through nfcpy (before the reader worker owns the reader)
        store = Store.open(tmp_path / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
        chip = new_classic()
        uid = chip.uid.hex().upper()
        signup = store.ledger.sign_up(uid, 1, "13912345678", PIN, START, name="Wu")
        store.commit(signup)
        store.commit(store.ledger.top_up(uid, 100_000, "cash-1", START))
        field.place(chip)
        issue_card(reader, reader.wait_for_card(5), KEYS, signup.member_id, 1, START.date(), DEVICE, signers=SIGNERS)
        field.remove()
        start_balance = store.ledger.state.accounts[signup.member_id].balance_fen
        store.close()

        port = free_port()
        token = TillTokens.load(tmp_path / "till-tokens.json").add("till-1")
        kiosk = Pn532Kiosk(tmp_path, reader, port)
        url = kiosk.server.url
        state = lambda: kiosk.session.state  # noqa: E731

        def tap_and_confirm() -> None:
            chip.place()
            field.place(chip)
            until(lambda: state() == S.charge_confirm)
            kiosk.act(kiosk.session.confirm_charge)

        def lift_and_settle() -> None:
            field.remove()
            until(lambda: state() in (S.idle, S.done, S.notice))
            kiosk.wait(60)
            until(lambda: state() == S.idle)

        try:
            # 1. killed before the tap: the kiosk waits its timeout_s, then returns to the attract screen
            with till_client(url, token, "K1", 1_000) as proc:
                until(lambda: state() == S.charge_tap)
                killed(proc)
            kiosk.wait(11)
            until(lambda: state() in (S.notice, S.idle))
            kiosk.wait(60)
            until(lambda: state() == S.idle)
            first_k1 = kiosk.server.service.charge_status("till-1", "K1")
            assert (first_k1["status"], first_k1["reason"]) == ("timed_out", "no_card")

            # 2. killed after the tap, before the PIN: the member pays, the screen shows it
            with till_client(url, token, "K2", 30_000) as proc:
                until(lambda: state() == S.charge_tap)
                tap_and_confirm()
                assert state() == S.charge_pin
                killed(proc)
            for digit in PIN:
                kiosk.act(lambda d=digit: kiosk.session.pin_digit(d))
            until(lambda: state() == S.done)
            lift_and_settle()

            # 3. killed after the approval, before it read the answer (stopped in its long-poll)
            with till_client(url, token, "K3", 1_500) as proc:
                until(lambda: state() == S.charge_tap)
                time.sleep(0.3)  # into its long-poll
                proc.send_signal(signal.SIGSTOP)
                tap_and_confirm()  # under the PIN threshold: approved at once
                until(lambda: state() == S.done)
                killed(proc)
            lift_and_settle()

            balance = kiosk.store.ledger.state.accounts[signup.member_id].balance_fen
            assert balance == start_balance - 30_000 - 1_500
            firsts = {}
            for order, amount, code, status in (("K1", 1_000, 1, "timed_out"), ("K2", 30_000, 0, "approved"),
                                                ("K3", 1_500, 0, "approved")):
                rc, body = answer_of(url, token, order, amount)
                assert (rc, body["status"]) == (code, status), body
                assert state() == S.idle  # nothing started again on the screen
                firsts[order] = body
            assert [len(kiosk.spends(f"till-1:{o}")) for o in ("K1", "K2", "K3")] == [0, 1, 1]
            assert firsts["K2"]["txn_id"] == kiosk.spends("till-1:K2")[0].txn_id
            assert firsts["K1"]["reason"] == "no_card"
            kiosk.close()

            kiosk = Pn532Kiosk(tmp_path, reader, port)  # the kiosk restarts: the same answers
            for order, amount, _, _ in (("K1", 1_000, 1, ""), ("K2", 30_000, 0, ""), ("K3", 1_500, 0, "")):
                rc, body = answer_of(url, token, order, amount)
                assert body == {**firsts[order], "version": body["version"]}
                assert state() == S.idle
            assert [len(kiosk.spends(f"till-1:{o}")) for o in ("K1", "K2", "K3")] == [0, 1, 1]
            assert kiosk.store.ledger.state.accounts[signup.member_id].balance_fen == balance
        finally:
            kiosk.close()
            reader.close()
