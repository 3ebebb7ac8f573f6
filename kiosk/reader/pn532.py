"""PN532 driver over nfcpy's own PN532 chipset driver (UART, or USB through nfcpy's paths).

Only moves bytes (the card commands are kiosk.reader.tag's): InListPassiveTarget to find a
card, InDataExchange for READ, WRITE, MIFARE authentication and APDUs (the chip adds the CRC,
runs crypto1 and the ISO-DEP framing itself), InCommunicateThru for PWD_AUTH, READ_SIG,
READ_CNT and GET_VERSION. Fast taps: it polls only ISO 14443-A at 106 kbit/s, the one technology the kiosk
issues, and lets the chip retry activation by itself (MxRtyPassiveActivation = FF) inside one
InListPassiveTarget that the host cancels with an ACK when its wait is over, so a card is seen
within one activation attempt of being placed instead of at the next host poll. A card that
refuses a command or falls silent (a MIFARE NAK leaves it idle or halted) is re-selected, so it
answers again in the same tap. A watchdog asks the chip for its firmware version when nothing
else has talked to it for `health_interval` seconds, and any serial failure closes the port so
the next wait_for_card reopens and re-initialises it (with nfcpy's long-preamble wake-up)."""

from __future__ import annotations

import contextlib
import errno
import logging
import time
from typing import Any

from kiosk.reader import identify, tag
from kiosk.reader.base import AuthFailed, CardGone, CardInfo, NotSupported, ReaderGone
from kiosk.reader.spec import Capabilities, DriverSpec
from kiosk.reader.tag import TagReader, exact

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 0x01
STATUS_CRC = 0x02
STATUS_MIFARE_AUTH = 0x14
STATUS_SYNTAX = 0x7F
# statuses after which the card no longer answers until it is selected again: silence, and a
# NAK (InDataExchange reports it as 0x14, InCommunicateThru with CRC checking as 0x02)
MUTED_EXCHANGE = (STATUS_TIMEOUT, STATUS_MIFARE_AUTH)
MUTED_THRU = (STATUS_TIMEOUT, STATUS_CRC, STATUS_MIFARE_AUTH)
POLL_106A = b"\x01\x00"  # InListPassiveTarget: one target, ISO 14443-A at 106 kbit/s
PRESENCE_S = 0.05  # how long a card already in the field gets to answer a poll
# after cancelling a poll, time for an answer the chip may have started just before the ACK
# reached it (ACK, then a target with a 10-byte UID and a long ATS), in bytes on the line
CANCEL_RACE_BYTES = 6 + 64
WAKEUP_RETRY_S = 0.2
# Card commands the PN532 sends as they are (InCommunicateThru), and of those the ones whose
# garbled answer means a refusal: the chip reports a 4-bit NAK as a CRC error, and for a
# wrong password that is the card saying no, while for READ_SIG a real RF error is the safer
# reading (a refusal there would brand a genuine chip a clone). The rest go InDataExchange.
THRU = frozenset({tag.PWD_AUTH, tag.READ_CNT, tag.READ_SIG})
THRU_REFUSED = {tag.PWD_AUTH: (STATUS_CRC, STATUS_MIFARE_AUTH),
                tag.READ_CNT: (STATUS_CRC, STATUS_MIFARE_AUTH)}


class Pn532Reader(TagReader):
    """`path` is a serial device (/dev/ttyAMA0, /dev/serial0, a pty, a udev symlink) or an
    nfcpy path (tty:S0:pn532, tty:AMA0, usb, usb:054c:02e1). `baudrate` pins the UART speed
    after nfcpy's initialisation (None keeps the fastest speed nfcpy negotiated)."""

    capabilities = Capabilities()  # every card command; firmware() with no card too

    def __init__(self, path: str, baudrate: int | None = 115200, poll_interval: float = 0.005,
                 health_interval: float = 10.0, exchange_timeout: float = 0.2):
        self.path = path
        self.baudrate = baudrate
        self.poll_interval = poll_interval
        self.health_interval = health_interval
        self.exchange_timeout = exchange_timeout
        self.reconnects = 0
        self._device: Any = None
        self._card: CardInfo | None = None
        self._last_ok = 0.0

    # -- connection ------------------------------------------------------------------------
    def open(self) -> None:
        if self._device is None:
            self._device = self._connect()
            self._last_ok = time.monotonic()

    def close(self) -> None:
        device, self._device, self._card = self._device, None, None
        if device is not None:
            with contextlib.suppress(Exception):  # a dead port cannot say goodbye
                device.close()

    def _connect(self) -> Any:
        import nfc.clf.device
        import nfc.clf.pn532
        import nfc.clf.transport

        try:
            if self.path.startswith(("tty:", "usb", "com:")):
                device = nfc.clf.device.connect(self.path)
                if device is None:
                    raise OSError(f"no reader at {self.path}")
            else:
                device = nfc.clf.pn532.init(nfc.clf.transport.TTY(self.path))
                device._path = self.path
            transport = device.chipset.transport
            if self.baudrate and transport.TYPE == "TTY" and transport.baudrate != self.baudrate:
                device.chipset.set_serial_baudrate(self.baudrate)
                transport.baudrate = self.baudrate
            # the chip retries passive activation until a card answers or the host cancels
            device.chipset.rf_configuration(0x05, b"\x01\x00\xff")
        except Exception as error:  # nfcpy and pyserial raise many kinds; all mean "no reader"
            raise ReaderGone(f"PN532 at {self.path}: {error}") from None
        log.info("PN532 ready at %s (%s)", self.path, getattr(device, "chipset_name", "PN53x"))
        return device

    def _drop(self, why: str) -> ReaderGone:
        """Forget a reader that failed mid-command; the next wait_for_card reconnects."""
        log.warning("PN532 at %s lost: %s", self.path, why)
        device, self._device, self._card = self._device, None, None
        if device is not None:
            with contextlib.suppress(Exception):
                device.chipset.transport.close()
        return ReaderGone(f"PN532 at {self.path}: {why}")

    def _reconnect(self) -> None:
        self._device = self._connect()
        self._last_ok = time.monotonic()
        self.reconnects += 1

    # -- one chip command, every failure typed -----------------------------------------------
    def _chip(self, name: str, *args: Any, refused: tuple[int, ...] = (),
              muted: tuple[int, ...] = (), timeout_is_none: bool = False) -> Any:
        """Run one nfcpy chipset command; `refused` lists status codes that mean the card
        said no (AuthFailed) for this command, `muted` those after which the selected card
        is re-selected before the error is raised. With `timeout_is_none`, a chip that ACKed
        the command and then had no answer in time gives None (nfcpy has cancelled it)."""
        if self._device is None:
            raise ReaderGone(f"PN532 at {self.path} is not open")
        import nfc.clf.pn53x

        try:
            result = getattr(self._device.chipset, name)(*args)
        except nfc.clf.pn53x.Chipset.Error as error:
            self._last_ok = time.monotonic()
            if error.errno in refused:
                failure: Exception = AuthFailed(
                    f"{name}: refused by the card (0x{error.errno:02X})")
            else:
                failure = _status_error(error.errno, name)
            if error.errno in muted and self._card is not None:
                self._reselect(self._card.uid)
            raise failure from None
        except Exception as error:  # serial I/O, timeouts, frames nfcpy could not parse
            if timeout_is_none and isinstance(error, OSError) and error.errno == errno.ETIMEDOUT:
                self._last_ok = time.monotonic()  # nfcpy's EIO, not this, means no ACK came
                return None
            raise self._drop(f"{name}: {type(error).__name__} {error}") from None
        self._last_ok = time.monotonic()
        return result

    def _poll(self, timeout: float) -> Any:
        """One InListPassiveTarget: the target data of the card found, or None once `timeout`
        has passed without one (the host's ACK then cancels the chip's retries)."""
        data = self._chip("command", 0x4A, bytearray(POLL_106A), max(timeout, 0.001),
                          timeout_is_none=True)
        if data is None:
            # An answer the chip started just before the cancelling ACK reached it would
            # land on the next command, whose write flushes the input: let it arrive first.
            time.sleep(CANCEL_RACE_BYTES * 10 / (self.baudrate or 115200))
            return None
        return data[2:] if data and data[0] > 0 else None

    def firmware(self) -> str:
        self.open()
        ic, ver, rev, _ = exact(self._chip("get_firmware_version"), 4, "firmware version")
        return f"PN5{ic:02x} v{ver}.{rev}"

    # -- presence ---------------------------------------------------------------------------
    def wait_for_card(self, timeout: float) -> CardInfo | None:
        deadline = time.monotonic() + timeout
        self._card = None
        field_reset = False
        while True:
            try:
                if self._device is None:
                    self._reconnect()
                    field_reset = False
                if time.monotonic() - self._last_ok > self.health_interval:
                    self._chip("get_firmware_version")  # the watchdog: is the chip still awake?
                if not field_reset:
                    # cards left selected or halted by the last session answer only after a
                    # power cycle of the field
                    self._chip("rf_configuration", 0x01, b"\x02")
                    field_reset = True
                wait = min(deadline - time.monotonic(), self.health_interval)
                card = self._activate(wait)
                if card is not None:
                    self._card = card
                    return card
            except ReaderGone:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(WAKEUP_RETRY_S)
                continue
            except CardGone:
                pass  # a card that left during activation, or an RF error: poll again
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(self.poll_interval, remaining))

    def wait_for_removal(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        uid = self._card.uid if self._card else None
        while True:
            try:
                self._chip("rf_configuration", 0x01, b"\x02")  # power the card down...
                found = self._poll(PRESENCE_S)  # ...and look again
            except CardGone:
                found = None
            if not found or uid is None or _parse_target(found)[2] != uid:
                self._card = None
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_interval)

    def _activate(self, timeout: float = PRESENCE_S) -> CardInfo | None:
        found = self._poll(timeout)
        if not found:
            return None
        atqa, sak, uid, ats = _parse_target(found)
        version = None
        if identify.needs_version(sak):
            try:
                version = bytes(self._chip("in_communicate_thru", tag.GET_VERSION, 0.05))
            except CardGone:
                self._reselect(uid)  # an Ultralight without GET_VERSION goes mute
        return CardInfo(uid, identify.classify(sak, version, ats), atqa, sak, ats)

    def _reselect(self, uid: bytes) -> None:
        """Make a card that went mute (NAK, failed authentication, silence) answer again: a
        power cycle of the field wakes it from idle or halt, then the same UID is selected.
        CardGone if it is no longer there."""
        self._chip("rf_configuration", 0x01, b"\x02")
        found = self._poll(PRESENCE_S)
        if not found or _parse_target(found)[2] != uid:
            self._card = None
            raise CardGone("card left the field")

    # -- the tag layer's three primitives ----------------------------------------------------
    def _exchange(self, data: bytes) -> bytes:
        out, _more = self._chip("in_data_exchange", data, self.exchange_timeout,
                                muted=MUTED_EXCHANGE)
        return bytes(out)

    def transceive(self, frame: bytes) -> bytes:
        if self._card is None:
            raise CardGone("no card selected")
        if frame[:1] and frame[0] in THRU:
            answer = self._chip("in_communicate_thru", bytes(frame), self.exchange_timeout,
                                refused=THRU_REFUSED.get(frame[0], ()), muted=MUTED_THRU)
            return bytes(answer)
        return self._exchange(bytes(frame))

    def crypto1_auth(self, frame: bytes) -> None:
        self._exchange(frame)

    def iso_dep(self, command: bytes) -> bytes:
        return self._exchange(command)  # the PN532 adds the I-block framing


def _status_error(status: int, command: str) -> Exception:
    """The PN53x status byte (or error frame) of a failed command, as our typed error."""
    if status == STATUS_TIMEOUT:
        return CardGone(f"{command}: the card did not answer")
    if status == STATUS_MIFARE_AUTH:
        return AuthFailed(f"{command}: refused by the card (key or access bits)")
    if status == STATUS_SYNTAX:
        return NotSupported(f"{command}: the reader refused the command")
    return CardGone(f"{command}: RF error 0x{status:02X}")


def _parse_target(data: bytes) -> tuple[bytes, int, bytes, bytes]:
    """InListPassiveTarget 106A target data after NbTg and Tg:
    SENS_RES(2, MSB first) SEL_RES NFCIDLength NFCID1 [ATS]. Returns ATQA in air order."""
    data = bytes(data)
    if len(data) < 4 or data[3] not in (4, 7, 10) or len(data) < 4 + data[3]:
        raise CardGone(f"malformed target data {data.hex()}")
    n = data[3]
    uid = data[4 : 4 + n]
    ats = data[4 + n :]
    if ats and ats[0] != len(ats):
        raise CardGone(f"malformed ATS {ats.hex()}")
    return data[1::-1], data[2], uid, ats


def _device_node(port: str) -> str | None:
    """pn532 ports: a path, nfcpy's tty:AMA0[:pn532] (default tty:S0), or usb[:vid:pid]."""
    if port.startswith("/dev/"):
        return port
    if not port:
        return "/dev/ttyS0"
    if port.startswith("tty:"):
        return "/dev/tty" + port.split(":")[1]
    return None


def _interfaces(port: str) -> tuple[str, ...]:
    node = _device_node(port) or ""
    return ("uart",) if node.startswith(("/dev/serial", "/dev/ttyAMA", "/dev/ttyS")) else ()


DRIVER = DriverSpec(
    name="pn532",
    build=lambda port: Pn532Reader(port or "tty:S0:pn532"),
    capabilities=Pn532Reader.capabilities,
    port_help="a serial path (/dev/serial0) or an nfcpy path (tty:AMA0, usb); default tty:S0",
    device_node=_device_node,
    device_allow=lambda port: ("DeviceAllow=char-usb_device rw",) if port.startswith("usb")
    else (),
    interfaces=_interfaces,
    enable_hint="enable the UART: `raspi-config nonint do_serial_hw 0`, reboot; or check the "
                "USB cable",
)
