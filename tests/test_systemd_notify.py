"""sd_notify over a real AF_UNIX datagram socket, and the watchdog that stops pinging when the
main loop stops calling alive()."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from kiosk.app import systemd_notify


class Listener:
    """Plays systemd's side of $NOTIFY_SOCKET and timestamps every datagram."""

    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()

    def pings(self) -> list[float]:
        return [t for t, m in self.messages if m == "WATCHDOG=1"]


@pytest.fixture
def listener(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    lst = Listener(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield lst
    lst.close()


def wait_for(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_ready_and_status_reach_the_socket(listener):
    assert systemd_notify.ready("reader pn532 open")
    assert systemd_notify.status("3 transactions waiting")
    assert wait_for(lambda: len(listener.messages) == 2)
    assert listener.messages[0][1] == "READY=1\nSTATUS=reader pn532 open"
    assert listener.messages[1][1] == "STATUS=3 transactions waiting"


def test_abstract_namespace_socket(monkeypatch):
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    lst = Listener("\0" + name)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd_notify.notify("READY=1")
        assert wait_for(lambda: lst.messages and lst.messages[0][1] == "READY=1")
    finally:
        lst.close()


def test_outside_systemd_everything_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert systemd_notify.ready() is False
    assert systemd_notify.watchdog_interval() is None
    assert not systemd_notify.Watchdog().enabled


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_this_pid(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd_notify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert systemd_notify.watchdog_interval() is None


def test_a_main_loop_that_stops_is_noticed(listener, monkeypatch):
    """The loop turns every 20 ms for 1 s, then hangs (as a stuck reader call would). Pings
    arrive every 0.2 s while it turns and stop within one interval of the hang."""
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # systemd would give up after 0.4 s
    hang = threading.Event()

    def main_loop(dog: systemd_notify.Watchdog) -> None:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            dog.alive()
            time.sleep(0.02)
        hang.set()  # from here on the loop never calls alive() again

    with systemd_notify.Watchdog() as dog:
        assert dog.interval == pytest.approx(0.2)
        worker = threading.Thread(target=main_loop, args=(dog,))
        worker.start()
        worker.join()
        hung_at = time.monotonic()
        time.sleep(1.0)  # more than two watchdog timeouts' worth of silence
    pings = listener.pings()
    before = [t for t in pings if t <= hung_at]
    after = [t for t in pings if t > hung_at + dog.interval + 0.05]
    assert len(before) >= 4, f"only {len(before)} pings while the loop was alive"
    assert after == [], f"{len(after)} pings after the loop hung"
    gaps = [b - a for a, b in zip(before, before[1:], strict=False)]
    assert max(gaps) < 0.4, f"a gap of {max(gaps):.3f}s would have tripped WatchdogSec"


def test_watchdog_resumes_when_the_loop_resumes(listener, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    with systemd_notify.Watchdog() as dog:
        time.sleep(0.3)
        assert listener.pings() == []  # never alive: never pinged
        for _ in range(10):
            dog.alive()
            time.sleep(0.02)
        assert wait_for(lambda: len(listener.pings()) >= 2)


HANGING_SERVICE = """
import threading, time
from kiosk.app import systemd_notify
systemd_notify.ready("reader and store open")
with systemd_notify.Watchdog() as dog:
    for turn in range(30):          # the main loop: 30 turns of 20 ms
        dog.alive()
        time.sleep(0.02)
    threading.Event().wait()        # then the reader call never returns
"""


def test_a_hung_service_process_is_caught_like_systemd_would(tmp_path):
    """Plays systemd's part for a real child process: READY, then WatchdogSec=0.3 s enforced on
    the pings; the hung child is caught (SIGABRT, as systemd sends) within one period."""
    import signal
    import subprocess
    import sys

    path = str(tmp_path / "notify.sock")
    listener = Listener(path)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"}
    child = subprocess.Popen([sys.executable, "-c", HANGING_SERVICE], env=env,
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert wait_for(lambda: any(m.startswith("READY=1") for _, m in listener.messages), 10)
        ready_at = time.monotonic()
        caught_at = None
        while time.monotonic() - ready_at < 5:
            last = max(listener.pings() or [ready_at])
            if time.monotonic() - last > 0.3:
                caught_at = time.monotonic()
                child.send_signal(signal.SIGABRT)
                break
            time.sleep(0.01)
        assert caught_at is not None, "the watchdog never fired"
        assert child.wait(5) == -signal.SIGABRT  # it was hung, not exited on its own
        pings = listener.pings()
        assert len(pings) >= 2, "pings while the loop was turning"
        assert 0.6 < caught_at - ready_at < 3.0  # hung at 0.6 s, caught one period later
    finally:
        if child.poll() is None:
            child.kill()
        listener.close()


def test_every_source_must_be_alive(listener, monkeypatch):
    """The UI keeps turning but the reader worker hangs: the pings stop all the same."""
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    with systemd_notify.Watchdog(sources=("ui", "reader")) as dog:
        for _ in range(20):
            dog.alive("ui")
            dog.alive("reader")
            time.sleep(0.02)
        both = len(listener.pings())
        hung_at = time.monotonic()
        for _ in range(30):
            dog.alive("ui")  # the reader worker no longer turns
            time.sleep(0.02)
    assert both >= 2
    assert [t for t in listener.pings() if t > hung_at + dog.interval + 0.05] == []
