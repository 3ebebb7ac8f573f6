"""Talk to systemd's service manager over $NOTIFY_SOCKET (the sd_notify protocol), with no
dependency: one datagram per message.

kiosk.service is Type=notify with WatchdogSec: the app calls ``ready()`` once the reader and the
store are open, and keeps a ``Watchdog`` whose ``alive(source)`` each of its loops calls on every
turn (say the UI's clock and the reader worker: ``Watchdog(sources=("ui", "reader"))``). The
watchdog thread pings systemd only while every source keeps calling, so a hung reader loop stops
the pings and systemd restarts the service. Outside systemd (no $NOTIFY_SOCKET) every call is a
no-op.
"""

from __future__ import annotations

import os
import socket
import threading
import time


def _address() -> str | None:
    path = os.environ.get("NOTIFY_SOCKET", "")
    if not path:
        return None
    if path.startswith("@"):  # abstract namespace: a leading NUL byte on the wire
        return "\0" + path[1:]
    return path


def notify(state: str) -> bool:
    """Send one sd_notify message such as "READY=1"; return False when not under systemd."""
    address = _address()
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode("utf-8"), address)
        except OSError:
            return False
    return True


def ready(status: str = "") -> bool:
    """Tell systemd start-up is done (the reader and the store are open)."""
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def status(text: str) -> bool:
    """A one-line status shown by `systemctl status kiosk`."""
    return notify(f"STATUS={text}")


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Seconds between pings (half of WATCHDOG_USEC), or None when no watchdog is asked for.

    WATCHDOG_PID, when set, must be this process: a child must not ping for its parent."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


class Watchdog:
    """Pings WATCHDOG=1 from a thread, but only when every source has called ``alive()`` since
    the previous ping. A loop that hangs therefore stops the pings."""

    def __init__(self, interval: float | None = None, sources: tuple[str, ...] = ("main",)):
        self.interval = interval if interval is not None else watchdog_interval()
        self.sources = frozenset(sources)
        self.pings = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.interval is not None

    def alive(self, source: str = "main") -> None:
        """Called by a loop on every turn: "I am still making progress"."""
        with self._lock:
            self._seen.add(source)

    def _all_alive(self) -> bool:
        with self._lock:
            if not self.sources <= self._seen:
                return False
            self._seen.clear()
            return True

    def start(self) -> Watchdog:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        assert self.interval is not None
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += self.interval
            if self._all_alive():
                if notify("WATCHDOG=1"):
                    self.pings += 1
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
