"""An NXP PN532 on a pseudo-terminal, as the host sees it over HSU (its UART).

It speaks the frame protocol of the PN532 user manual (UM0701-02): ACK after every good command
frame, the response frame after the command has run, error frames for commands it does not
know, NACK (resend), ACK from the host (abort), SetSerialBaudrate taking effect after the host's
ACK, PowerDown and the long-preamble wake-up. Bytes are paced at the configured line rate in
both directions (10 bits per byte: start, 8 data, stop), and RF exchanges take their modelled
air time at 106 kbit/s, so the timings a benchmark sees are the ones a real board would give.

Faults a test can ask for: unplug()/replug() (the pty disappears and comes back at the same
symlink, as a USB serial adapter does under a udev name), hang() (the chip stops answering
until a host wakes it with a long preamble, the "PN532 goes deaf after long idle" report), and,
through the Field, a card torn away at any RF step or an RF error status at any step."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections import Counter
from pathlib import Path

from kiosk.reader.base import KeyType

from .field import TIMEOUT, Activation, Field, Nak, RfError
from .pn532_frames import ACK, ERROR_FRAME, Ack, Bad, Command, FrameParser, Nack, frame

BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1288000)
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, version 1.6, supports ISO A/B/18092
CIU_FIFO_DATA = 0x6339
CIU_RX_MODE = 0x6303
CIU_TX_CONTROL = 0x6304
REQA = 0x26
ATTEMPT_S = 0.6e-3  # one passive activation attempt without an answer (REQA + timeout)
WAKE_PREAMBLE = 5  # bytes of preamble that wake a sleeping or hung chip
STATUS_CONTEXT = 0x27  # "command is not acceptable in the current context"
STATUS_PARAM = 0x10  # "invalid command parameter"
WRITE_PROGRAM_S = {"classic": 2.5e-3, "ntag": 4.1e-3}  # EEPROM programming time per write


class SyntaxFault(Exception):
    """The command's parameters are malformed: the chip answers with an error frame."""


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
        self.commands: Counter[int] = Counter()
        self.polled: Counter[int] = Counter()  # InListPassiveTarget count per BrTy
        # (start time, command code, bytes from host, bytes to host) of every command frame
        self.trace: list[tuple[float, int, int, int]] = []
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
        self.commands.clear()
        self.polled.clear()
        self.trace.clear()

    # -- chip state --------------------------------------------------------------------------
    def _power_on(self) -> None:
        self._parser = FrameParser()
        self._asleep = False
        self._hung = False
        self._rf_on = False
        self._retries = 0xFF
        self._target: Activation | None = None
        self._pending_baud: int | None = None
        self._last_response = b""
        self._registers: dict[int, int] = {CIU_RX_MODE: 0x80, 0x6302: 0x80, CIU_TX_CONTROL: 0x80}
        self._rx_clock = 0.0
        self._tx_clock = 0.0

    def _byte_s(self) -> float:
        return 10 / self.baud if self.pace else 0.0

    # -- the UART ----------------------------------------------------------------------------
    def _run(self) -> None:
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
        delay = deadline - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

    def _send(self, data: bytes) -> None:
        start = max(time.perf_counter(), self._tx_clock)
        step = self._byte_s()
        chunk = 16
        for i in range(0, len(data), chunk):
            part = data[i : i + chunk]
            self._wait_until(start + (i + len(part)) * step)
            try:
                os.write(self._master, part)
            except OSError:
                return
            self.bytes_out += len(part)
        self._tx_clock = start + len(data) * step

    def _handle(self, event) -> None:
        preamble = getattr(event, "preamble", 0)
        if (self._asleep or self._hung) and preamble < WAKE_PREAMBLE:
            if self._asleep and preamble > 0:
                self._asleep = False  # HSU activity wakes it; this frame is lost
            return
        self._asleep = self._hung = False
        self._wait_until(self._rx_clock)
        if self._pending_baud:
            # The manual has the new rate start after the host's ACK; nfcpy flushes that ACK
            # away when it reopens the port, so the next frame of any kind switches as well.
            self.baud, self._pending_baud = self._pending_baud, None
        if isinstance(event, Ack):
            return
        if isinstance(event, Nack):
            if self._last_response:
                self._send(self._last_response)
            return
        if isinstance(event, Bad):
            return
        assert isinstance(event, Command)
        info = event.info
        started, out_before = time.perf_counter(), self.bytes_out
        self._command(info)
        frame_in = event.preamble + len(info) + (7 if len(info) < 256 else 10)
        code = info[1] if len(info) > 1 else -1
        self.trace.append((started, code, frame_in, self.bytes_out - out_before))

    def _command(self, info: bytes) -> None:
        self._send(ACK)
        if len(info) < 2 or info[0] != 0xD4:
            self._respond(ERROR_FRAME)
            return
        code, params = info[1], info[2:]
        self.commands[code] += 1
        handler = self._handlers().get(code)
        if handler is None:
            self._respond(ERROR_FRAME)
            return
        rf_before = self.field.rf_seconds
        started = time.perf_counter()
        try:
            data = handler(params)
        except (SyntaxFault, IndexError):
            self._respond(ERROR_FRAME)
            return
        if data is None:
            return  # aborted by the host
        if self.pace:
            self._wait_until(started + self.field.rf_seconds - rf_before)
        self._respond(frame(bytes([0xD5, code + 1]) + data))
        if code == 0x16:
            self._asleep = True

    def _respond(self, raw: bytes) -> None:
        self._last_response = raw
        self._send(raw)

    def _aborted(self) -> bool:
        """While a command waits (InListPassiveTarget with endless retries), the host may
        cancel it with an ACK frame; any other host bytes are kept for later."""
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

    # -- commands ----------------------------------------------------------------------------
    def _handlers(self):
        return {
            0x00: self._diagnose,
            0x02: lambda p: FIRMWARE,
            0x04: self._general_status,
            0x06: self._read_register,
            0x08: self._write_register,
            0x10: self._set_serial_baudrate,
            0x12: lambda p: b"" if len(p) == 1 else _syntax(),
            0x14: self._sam_configuration,
            0x16: self._power_down,
            0x32: self._rf_configuration,
            0x4A: self._in_list_passive_target,
            0x40: self._in_data_exchange,
            0x42: self._in_communicate_thru,
            0x44: self._in_release,
            0x52: self._in_release,
            0x54: lambda p: b"\x00" if self._target else bytes([STATUS_CONTEXT]),
        }

    def _diagnose(self, p: bytes) -> bytes:
        if p[0] == 0x00:
            return bytes(p)  # communication line test: echo NumTst and the data
        return b"\x00"

    def _general_status(self, p: bytes) -> bytes:
        if self._target is None:
            return bytes([0, int(self._rf_on), 0, 0x80])
        return bytes([0, int(self._rf_on), 1, 1, 0, 0, 0, 0x80])

    def _read_register(self, p: bytes) -> bytes:
        if len(p) % 2 or not p:
            _syntax()
        return bytes(self._registers.get(p[i] << 8 | p[i + 1], 0) for i in range(0, len(p), 2))

    def _write_register(self, p: bytes) -> bytes:
        if len(p) % 3 or not p:
            _syntax()
        for i in range(0, len(p), 3):
            self._registers[p[i] << 8 | p[i + 1]] = p[i + 2]
        return b""

    def _set_serial_baudrate(self, p: bytes) -> bytes:
        if len(p) != 1 or p[0] >= len(BAUDS):
            _syntax()
        self._pending_baud = BAUDS[p[0]]
        return b""

    def _sam_configuration(self, p: bytes) -> bytes:
        if not p or p[0] not in (1, 2, 3, 4):
            _syntax()
        return b""

    def _power_down(self, p: bytes) -> bytes:
        if not p:
            _syntax()
        self._field(False)
        return b"\x00"

    def _rf_configuration(self, p: bytes) -> bytes:
        item = p[0]
        if item == 0x01:
            self._field(bool(p[1] & 0x01))
        elif item == 0x05:
            self._retries = p[3]
        return b""

    def _field(self, on: bool) -> None:
        if self._rf_on and not on:
            self.field.power_off()
            self._target = None
        self._rf_on = on
        tx_control = self._registers.get(CIU_TX_CONTROL, 0x80) & 0xFC
        self._registers[CIU_TX_CONTROL] = tx_control | (0x03 if on else 0)

    def _in_list_passive_target(self, p: bytes) -> bytes | None:
        max_tg, brty, initiator = p[0], p[1], bytes(p[2:])
        if max_tg not in (1, 2) or brty > 8:
            _syntax()
        self.polled[brty] += 1
        self._field(True)
        self._target = None
        attempt = 0
        while True:
            try:
                found = self.field.activate() if brty == 0 else None
            except RfError:
                found = None  # a garbled anticollision: this attempt found nothing
            if found and initiator and not _uid_matches(initiator, found.uid):
                found = None
            if found:
                break
            self.field.rf_seconds += ATTEMPT_S
            attempt += 1
            if self._retries != 0xFF and attempt > self._retries:
                break
            if self._retries == 0xFF:
                if self._stop.is_set() or self._aborted():
                    return None
                time.sleep(ATTEMPT_S)
        if not found:
            self._registers[CIU_FIFO_DATA] = REQA  # SENS_REQ never left the FIFO
            return b"\x00"
        self._registers[CIU_FIFO_DATA] = 0
        self._target = found
        out = bytes([1, 1]) + found.atqa[::-1] + bytes([found.sak, len(found.uid)]) + found.uid
        return out + found.ats

    def _in_release(self, p: bytes) -> bytes:
        if not p:
            _syntax()
        self._target = None
        return b"\x00"

    def _in_data_exchange(self, p: bytes) -> bytes:
        if len(p) < 2 or p[0] & 0x3F != 1:
            return bytes([STATUS_PARAM]) if p else _syntax()
        if self._target is None:
            return bytes([STATUS_CONTEXT])
        data = bytes(p[1:])
        try:
            return b"\x00" + self._mifare(data)
        except Nak:
            return bytes([0x14])
        except RfError as error:
            return bytes([error.status])

    def _mifare(self, data: bytes) -> bytes:
        """What the firmware does with InDataExchange to a MIFARE / Type 2 / ISO-DEP target."""
        target = self._target
        assert target is not None
        if target.sak & 0x20:
            return self.field.transceive(data)  # the firmware adds and strips ISO-DEP blocks
        cmd = data[0]
        if cmd in (0x60, 0x61):
            if len(data) < 12:
                raise RfError(STATUS_PARAM)
            key_type = KeyType.A if cmd == 0x60 else KeyType.B
            self.field.authenticate(data[1], key_type, data[2:8], data[8:12])
            return b""
        if cmd in (0xA0, 0xA2, 0xB0):
            kind = "ntag" if cmd == 0xA2 or not target.sak & 0x18 else "classic"
            return self.field.transceive(data, WRITE_PROGRAM_S[kind])  # firmware does 2 phases
        return self.field.transceive(data)

    def _in_communicate_thru(self, p: bytes) -> bytes:
        if not p:
            _syntax()
        crc_checked = bool(self._registers.get(CIU_RX_MODE, 0x80) & 0x80)
        try:
            answer = self.field.transceive(bytes(p))
        except Nak as nak:
            return bytes([0x02]) if crc_checked else bytes([0x00, nak.code])
        except RfError as error:
            return bytes([error.status])
        if not answer:  # a 4-bit ACK
            return bytes([0x02]) if crc_checked else b"\x00\x0a"
        return b"\x00" + (answer if crc_checked else answer + crc_a(answer))


def _syntax():
    raise SyntaxFault()


def _uid_matches(initiator: bytes, uid: bytes) -> bool:
    """InListPassiveTarget's UID filter carries cascade tags (88) before 7 and 10-byte UIDs."""
    if len(initiator) == 8:
        return initiator[1:] == uid
    if len(initiator) == 12:
        return initiator[1:4] + initiator[5:] == uid
    return initiator == uid


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 CRC_A, little-endian."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte = (byte ^ (byte << 4)) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes([crc & 0xFF, crc >> 8])


__all__ = ["Pn532Emulator", "Field", "TIMEOUT", "crc_a"]
