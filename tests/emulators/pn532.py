"""An NXP PN532 on a pseudo-terminal, as the host sees it over HSU (its UART).

It speaks the frame protocol of the PN532 user manual (UM0701-02): ACK after every good command
frame, the response frame after the command has run, error frames for commands it does not
know, NACK (resend), ACK from the host (abort), SetSerialBaudrate taking effect after the host's
ACK, PowerDown and the long-preamble wake-up. Bytes are paced at the configured line rate in
both directions (10 bits per byte: start, 8 data, stop), and RF exchanges take their modelled
air time at 106 kbit/s, so the timings a benchmark sees are the ones a real board would give.
Each command's ACK, air time and reply are timed from the paced end of the step before, and
`trace` records when each part went on the line (what bench/read.py reports against).

Faults a test can ask for: unplug()/replug() (the pty disappears and comes back at the same
symlink, as a USB serial adapter does under a udev name), hang() (the chip stops answering
until a host wakes it with a long preamble, the "PN532 goes deaf after long idle" report), and,
through the Field, a card torn away at any RF step or an RF error status at any step."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import sys
import threading
import time
import tty
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .field import Field
from .pn532_core import Pn532Core, SyntaxFault
from .pn532_frames import ACK, ERROR_FRAME, Ack, Bad, Command, FrameParser, Nack, frame

WAKE_PREAMBLE = 5  # bytes of preamble that wake a sleeping or hung chip
PR_SET_TIMERSLACK = 29
SPIN_S = 100e-6  # the end of every paced wait, spun rather than slept


@dataclass(frozen=True)
class Exchange:
    """One command frame as the line carried it: when each part's first byte went on the line
    (perf_counter clock, paced) and how many bytes it took, and the RF air time between the
    ACK and the reply. The host frame's postamble byte is counted with the next host frame,
    so sums over consecutive frames are exact."""

    code: int
    host_at: float
    host_bytes: int
    ack_at: float
    ack_bytes: int
    reply_at: float
    reply_bytes: int
    air_s: float


class Pn532Emulator:
    """Run with `with Pn532Emulator(field) as pn532: ... pn532.path ...`."""

    def __init__(self, field: Field | None = None, baud: int = 115200, pace: bool = True,
                 link: Path | str | None = None):
        self.field = field if field is not None else Field()
        self.baud = baud
        self.pace = pace
        self.link = Path(link) if link else None
        self.bytes_in = 0
        self.bytes_out = 0
        self.trace: list[Exchange] = []  # every command frame, in order
        self._master = self._slave = -1
        self.tty_path = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._power_on()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return str(self.link) if self.link else self.tty_path

    def __enter__(self) -> Pn532Emulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.tty_path = os.ttyname(self._slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.tty_path)
            tmp.replace(self.link)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pn532-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def unplug(self) -> None:
        """The serial adapter leaves: the host's next read or write fails."""
        self.stop()

    def replug(self) -> None:
        """The adapter comes back (a new pty behind the same link), the chip freshly powered."""
        self._power_on()
        self.start()

    def hang(self) -> None:
        """Stop answering until a frame arrives behind a long preamble (a wake-up)."""
        self._hung = True

    def reset_counters(self) -> None:
        self.bytes_in = self.bytes_out = 0
        self.core.commands.clear()
        self.core.polled.clear()
        self.trace.clear()

    # -- chip state --------------------------------------------------------------------------
    def _power_on(self) -> None:
        self._parser = FrameParser()
        self._asleep = False
        self._hung = False
        self.core = Pn532Core(self.field, self._aborted)
        self._last_response = b""
        self._rx_clock = 0.0
        self._tx_clock = 0.0

    def _byte_s(self) -> float:
        return 10 / self.baud if self.pace else 0.0

    # -- the UART ----------------------------------------------------------------------------
    def _run(self) -> None:
        _precise_sleep()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    if self._parser.pending():
                        self._parser.discard()  # the line went quiet mid-frame: resync
                    continue
                data = os.read(self._master, 4096)
            except OSError:
                return
            self._receive(data)
            for event in self._parser.feed(data):
                self._handle(event)

    def _receive(self, data: bytes) -> None:
        self.bytes_in += len(data)
        now = time.perf_counter()
        self._rx_clock = max(self._rx_clock, now) + len(data) * self._byte_s()

    def _wait_until(self, deadline: float) -> None:
        """Sleep, then spin the last SPIN_S: a sleep alone wakes tens of microseconds late,
        and each reply would reach the host that much after the line rate allows."""
        delay = deadline - time.perf_counter() - SPIN_S
        if delay > 0:
            time.sleep(delay)
        while time.perf_counter() < deadline:
            pass

    def _send(self, data: bytes, start: float) -> float:
        """Put `data` on the line from `start` (or once the line is free) at the line rate;
        each chunk is written when its last byte would have arrived, so the host never gets a
        byte early. Returns when the last byte is through (in the paced clock)."""
        start = max(start, self._tx_clock)
        step = self._byte_s()
        chunk = 16
        for i in range(0, len(data), chunk):
            part = data[i : i + chunk]
            self._wait_until(start + (i + len(part)) * step)
            self.bytes_out += len(part)  # counted first: the host may act on it at once
            try:
                os.write(self._master, part)
            except OSError:
                break
        self._tx_clock = start + len(data) * step
        return self._tx_clock

    def _handle(self, event) -> None:
        preamble = getattr(event, "preamble", 0)
        if (self._asleep or self._hung) and preamble < WAKE_PREAMBLE:
            if self._asleep and preamble > 0:
                self._asleep = False  # HSU activity wakes it; this frame is lost
            return
        self._asleep = self._hung = False
        arrived = self._rx_clock  # the last byte of this frame is through
        if self.core.pending_baud:
            # The manual has the new rate start after the host's ACK; nfcpy flushes that ACK
            # away when it reopens the port, so the next frame of any kind switches as well.
            self.baud, self.core.pending_baud = self.core.pending_baud, None
        if isinstance(event, Ack):
            return
        if isinstance(event, Nack):
            if self._last_response:
                self._send(self._last_response, arrived)
            return
        if isinstance(event, Bad):
            return
        assert isinstance(event, Command)
        info = event.info
        host_bytes = event.preamble + len(info) + (5 if len(info) < 256 else 8)
        ack_at = max(arrived, self._tx_clock)
        started = self._send(ACK, ack_at)
        reply, ready, air_s = self._command(info, started)
        reply_at = max(ready, self._tx_clock)
        code = info[1] if len(info) > 1 else -1
        # recorded before the reply goes out: once the host has it, the trace is complete
        self.trace.append(Exchange(code, arrived - host_bytes * self._byte_s(), host_bytes,
                                   ack_at, len(ACK), reply_at, len(reply), air_s))
        if reply:
            self._last_response = reply
            self._send(reply, reply_at)

    def _command(self, info: bytes, started: float) -> tuple[bytes, float, float]:
        """Run a command whose ACK went out by `started` (the paced clock, so a late wake-up
        of this thread does not add up): its reply frame (b"" when the host aborted it), when
        the chip has it ready, and the air time spent before that."""
        if len(info) < 2 or info[0] != 0xD4:
            return ERROR_FRAME, started, 0.0
        code, params = info[1], info[2:]
        self.core.rf_mark = (started, self.field.rf_seconds)
        try:
            data = self.core.execute(code, params)
        except (SyntaxFault, KeyError):
            return ERROR_FRAME, started, 0.0
        if data is None:
            return b"", started, 0.0
        if code == 0x16:
            self._asleep = True
        mark, rf_before = self.core.rf_mark
        air_s = self.field.rf_seconds - rf_before if self.pace else 0.0
        return frame(bytes([0xD5, code + 1]) + data), mark + air_s, air_s

    def _aborted(self) -> bool:
        """While a command waits (InListPassiveTarget with endless retries), the host may
        cancel it with an ACK frame; any other host bytes are kept for later."""
        if self._stop.is_set():
            return True
        ready, _, _ = select.select([self._master], [], [], 0)
        if not ready:
            return False
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return True
        self._receive(data)
        events = self._parser.feed(data)
        aborted = any(isinstance(e, Ack) for e in events)
        for e in events:
            if not isinstance(e, Ack):
                self._handle(e)
        return aborted

    @property
    def commands(self) -> Counter[int]:
        return self.core.commands

    @property
    def polled(self) -> Counter[int]:
        return self.core.polled


def _precise_sleep() -> None:
    """Ask Linux for exact sleeps in this thread (timer slack 1 ns instead of 50 us), so the
    pacing sleeps overshoot the line rate as little as the scheduler allows."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
