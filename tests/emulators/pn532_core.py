"""The PN532's command set (NXP UM0701-02, chapter 7), apart from any host link.

The pty emulator (pn532.py) puts it behind HSU framing; the ACR122U emulator (acr122u.py) puts it
behind the reader's "direct transmit" pseudo-APDU, since an ACR122U is a PN532 with a USB CCID
front end. Commands take the parameter bytes after the command code and return the response
bytes after the response code; malformed parameters raise SyntaxFault (an error frame)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from kiosk.reader.base import KeyType

from .field import Activation, Field, Nak, RfError

BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1288000)
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, version 1.6, supports ISO A/B/18092
CIU_FIFO_DATA = 0x6339
CIU_RX_MODE = 0x6303
CIU_TX_CONTROL = 0x6304
REQA = 0x26
ATTEMPT_S = 0.6e-3  # one passive activation attempt without an answer (REQA + timeout)
STATUS_CONTEXT = 0x27  # "command is not acceptable in the current context"
STATUS_PARAM = 0x10  # "invalid command parameter"
WRITE_PROGRAM_S = {"classic": 2.5e-3, "ntag": 4.1e-3}  # EEPROM programming time per write


class SyntaxFault(Exception):
    """The command's parameters are malformed: the chip answers with an error frame."""


class Pn532Core:
    """The chip's state and commands. `should_abort` is asked while a command waits endlessly
    (InListPassiveTarget with MxRtyPassiveActivation = FF) whether the host cancelled it."""

    def __init__(self, field: Field, should_abort: Callable[[], bool] = lambda: False):
        self.field = field
        self.should_abort = should_abort
        self.commands: Counter[int] = Counter()
        self.polled: Counter[int] = Counter()  # InListPassiveTarget count per BrTy
        self.pending_baud: int | None = None
        self.rf_on = False
        self._retries = 0xFF
        self._target: Activation | None = None
        self._registers: dict[int, int] = {CIU_RX_MODE: 0x80, 0x6302: 0x80, CIU_TX_CONTROL: 0x80}
        # (clock time, field.rf_seconds) from which the running command's air time counts: a
        # link that paces its answers sets it when the command starts; polling that waits for
        # a card in real time moves it on
        self.rf_mark = (0.0, 0.0)

    def execute(self, code: int, params: bytes) -> bytes | None:
        """Run one command; None when the host aborted it. Raises KeyError if unknown."""
        handler = self._handlers()[code]
        self.commands[code] += 1
        try:
            return handler(bytes(params))
        except IndexError:
            raise SyntaxFault() from None

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
            return bytes([0, int(self.rf_on), 0, 0x80])
        return bytes([0, int(self.rf_on), 1, 1, 0, 0, 0, 0x80])

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
        self.pending_baud = BAUDS[p[0]]
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
        if self.rf_on and not on:
            self.field.power_off()
            self._target = None
        self.rf_on = on
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
            self.field.rf_seconds += ATTEMPT_S if self.field.model_air else 0.0
            attempt += 1
            if self._retries != 0xFF and attempt > self._retries:
                break
            if self._retries == 0xFF:
                if self.should_abort():
                    return None
                time.sleep(ATTEMPT_S)  # the attempt's air time has now passed in real time
                self.rf_mark = (time.perf_counter(), self.field.rf_seconds)
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
            two_phase = cmd == 0xA0 and kind == "classic"  # the firmware sends the address first
            return self.field.transceive(data, WRITE_PROGRAM_S[kind], two_phase)
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

