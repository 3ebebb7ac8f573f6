"""RC522 driver: the NXP MFRC522's registers over SPI (spidev), for the cheapest reader boards.

nfcpy does not know this chip, so the driver speaks the registers itself: REQA, the
anticollision and select cascade, MFAuthent (crypto1 runs in the chip), Transceive for the
card commands kiosk.reader.tag builds, with CRC_A computed here, and ISO-DEP I-blocks. It is quick because it does nothing else: one
REQA per poll, short FIFO transactions, no sleeps while an answer is awaited beyond polling the
interrupt register. The optional reset pin is pulsed through gpiozero at open; SPI and GPIO
modules are imported only when the driver is used.

An SPI reader cannot report being unplugged (MISO just floats), so every unanswered exchange
and a periodic watchdog read VersionReg: anything but 0x91/0x92 means the chip is gone, and the
driver re-initialises it when it answers again."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from kiosk.reader import identify, tag
from kiosk.reader.base import AuthFailed, CardGone, CardInfo, NotSupported, ReaderGone
from kiosk.reader.spec import Capabilities, DriverSpec
from kiosk.reader.tag import TagReader

log = logging.getLogger(__name__)

# registers (MFRC522 datasheet, 9.2)
COMMAND, COM_IRQ, DIV_IRQ, ERROR, STATUS2 = 0x01, 0x04, 0x05, 0x06, 0x08
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING = 0x09, 0x0A, 0x0C, 0x0D
MODE, TX_MODE, RX_MODE, TX_CONTROL, TX_ASK = 0x11, 0x12, 0x13, 0x14, 0x15
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L, VERSION = 0x2A, 0x2B, 0x2C, 0x2D, 0x37
# commands
IDLE, TRANSCEIVE, MF_AUTHENT, SOFT_RESET = 0x00, 0x0C, 0x0E, 0x0F
RX_IRQ, IDLE_IRQ, ERR_IRQ, TIMER_IRQ = 0x20, 0x10, 0x02, 0x01
CRYPTO1_ON = 0x08
VERSIONS = {0x91: "MFRC522 v1.0", 0x92: "MFRC522 v2.0", 0x88: "FM17522 (clone)"}
ACK = 0x0A
RETRY_S = 0.2


class _NoAnswer(Exception):
    """The card did not answer in time (the chip's timer fired)."""


class Rc522Reader(TagReader):
    """`spi_factory` makes the spidev.SpiDev-like object (default: spidev.SpiDev);
    `reset_pin` is the BCM number of the NRSTPD line, if wired."""

    capabilities = Capabilities()  # every card command; firmware() with no card too

    def __init__(self, bus: int = 0, device: int = 0, speed_hz: int = 1_000_000,
                 reset_pin: int | None = None, poll_interval: float = 0.005,
                 health_interval: float = 10.0, answer_timeout: float = 0.03,
                 spi_factory: Callable[[], Any] | None = None, pin_factory: Any = None):
        self.bus, self.device, self.speed_hz = bus, device, speed_hz
        self.reset_pin = reset_pin
        self.poll_interval = poll_interval
        self.health_interval = health_interval
        self.answer_timeout = answer_timeout
        self.reconnects = 0
        self._spi_factory = spi_factory
        self._pin_factory = pin_factory
        self._spi: Any = None
        self._card: CardInfo | None = None
        self._last_ok = 0.0
        self._block_number = 0  # ISO-DEP I-block toggle

    # -- SPI and registers --------------------------------------------------------------------
    def _xfer(self, data: list[int]) -> list[int]:
        if self._spi is None:
            raise ReaderGone(f"RC522 on SPI {self.bus}.{self.device} is not open")
        try:
            return self._spi.xfer2(data)
        except Exception as error:  # spidev raises OSError; anything else means the same
            raise self._drop(f"SPI transfer failed: {error}") from None

    def _read(self, reg: int) -> int:
        return self._xfer([0x80 | (reg << 1), 0])[1]

    def _read_many(self, reg: int, count: int) -> bytes:
        address = 0x80 | (reg << 1)
        return bytes(self._xfer([address] * count + [0])[1:])

    def _write(self, reg: int, *values: int) -> None:
        self._xfer([(reg << 1) & 0x7E, *values])

    def _set(self, reg: int, mask: int) -> None:
        self._write(reg, self._read(reg) | mask)

    def _clear(self, reg: int, mask: int) -> None:
        self._write(reg, self._read(reg) & ~mask & 0xFF)

    # -- connection ---------------------------------------------------------------------------
    def open(self) -> None:
        if self._spi is not None:
            return
        factory = self._spi_factory
        if factory is None:
            import spidev

            factory = spidev.SpiDev
        try:
            spi = factory()
            spi.open(self.bus, self.device)
            spi.max_speed_hz = self.speed_hz
            spi.mode = 0
        except Exception as error:
            raise ReaderGone(f"SPI {self.bus}.{self.device}: {error}") from None
        self._spi = spi
        self._hard_reset()
        self._init_chip()

    def close(self) -> None:
        spi, self._spi, self._card = self._spi, None, None
        if spi is not None:
            with contextlib.suppress(Exception):
                spi.xfer2([(TX_CONTROL << 1) & 0x7E, 0x80])  # antenna off
            with contextlib.suppress(Exception):
                spi.close()

    def _drop(self, why: str) -> ReaderGone:
        log.warning("RC522 on SPI %s.%s lost: %s", self.bus, self.device, why)
        spi, self._spi, self._card = self._spi, None, None
        if spi is not None:
            with contextlib.suppress(Exception):
                spi.close()
        return ReaderGone(f"RC522 on SPI {self.bus}.{self.device}: {why}")

    def _hard_reset(self) -> None:
        if self.reset_pin is None:
            return
        from gpiozero import DigitalOutputDevice

        pin = DigitalOutputDevice(self.reset_pin, pin_factory=self._pin_factory)
        try:
            pin.off()
            time.sleep(0.001)
            pin.on()
            time.sleep(0.05)  # oscillator start-up
        finally:
            pin.close()

    def _init_chip(self) -> None:
        self._write(COMMAND, SOFT_RESET)
        self._check_version()
        self._write(T_MODE, 0x80)  # timer starts at the end of each transmission
        self._write(T_PRESCALER, 0xA9)  # 13.56 MHz / (2 * 169 + 1) = 40 kHz: 25 us ticks
        self._write(T_RELOAD_H, 0x03)
        self._write(T_RELOAD_L, 0xE8)  # 1000 ticks = 25 ms card answer timeout
        self._write(TX_ASK, 0x40)  # 100 % ASK modulation
        self._write(MODE, 0x3D)  # CRC preset 6363 (ISO 14443-3 CRC_A)
        self._write(TX_MODE, 0x00)
        self._write(RX_MODE, 0x00)  # CRC computed and checked here, not by the chip
        self._set(TX_CONTROL, 0x03)  # antenna on
        self._last_ok = time.monotonic()

    def _check_version(self) -> str:
        version = self._read(VERSION)
        if version not in VERSIONS:
            raise self._drop(f"no MFRC522 answering (VersionReg 0x{version:02X})")
        return VERSIONS[version]

    def firmware(self) -> str:
        self.open()
        return self._check_version()

    # -- one exchange with the card ----------------------------------------------------------
    def _transceive(self, frame: bytes, last_bits: int = 0) -> tuple[bytes, int]:
        """Send `frame` (its last byte `last_bits` long, 0 = 8); return the answer and the
        number of valid bits in its last byte (0 = 8). Raises _NoAnswer or CardGone."""
        self._write(COMMAND, IDLE)
        self._write(COM_IRQ, 0x7F)  # clear all interrupt flags
        self._write(FIFO_LEVEL, 0x80)  # flush
        self._write(FIFO_DATA, *frame)
        self._write(BIT_FRAMING, last_bits)
        self._write(COMMAND, TRANSCEIVE)
        self._write(BIT_FRAMING, 0x80 | last_bits)  # StartSend
        irq = self._wait_irq(RX_IRQ | ERR_IRQ | TIMER_IRQ)
        self._write(BIT_FRAMING, last_bits)
        error = self._read(ERROR)
        if error & 0x13:  # BufferOvfl, ParityErr, ProtocolErr
            raise CardGone(f"RF error (ErrorReg 0x{error:02X})")
        if not irq & RX_IRQ:
            raise _NoAnswer()
        if error & 0x0C:  # CRCErr, CollErr: a garbled answer
            raise CardGone(f"RF error (ErrorReg 0x{error:02X})")
        level = self._read(FIFO_LEVEL)
        bits = self._read(CONTROL) & 0x07
        return self._read_many(FIFO_DATA, level) if level else b"", bits

    def _wait_irq(self, mask: int) -> int:
        deadline = time.monotonic() + self.answer_timeout
        while True:
            irq = self._read(COM_IRQ)
            if irq & mask:
                self._last_ok = time.monotonic()
                return irq
            if time.monotonic() > deadline:
                self._check_version()  # a silent chip is an unplugged one
                return irq

    def _command(self, body: bytes) -> bytes:
        """A frame with CRC_A; the answer with its CRC checked and removed. A 4-bit ACK comes
        back as b""; a 4-bit NAK raises AuthFailed (refused), silence CardGone."""
        try:
            answer, bits = self._transceive(bytes(body) + crc_a(body))
        except _NoAnswer:
            raise CardGone("the card did not answer") from None
        if bits == 4 and len(answer) == 1:
            if answer[0] & 0x0F == ACK:
                return b""
            raise AuthFailed(f"the card refused (NAK 0x{answer[0] & 0x0F:X})")
        if len(answer) < 3 or crc_a(answer[:-2]) != answer[-2:]:
            raise CardGone(f"answer with a bad CRC: {answer.hex()}")
        return answer[:-2]

    # -- presence and selection --------------------------------------------------------------
    def _request(self, wake: bool = False) -> bytes | None:
        try:
            atqa, _ = self._transceive(b"\x52" if wake else b"\x26", last_bits=7)
        except (_NoAnswer, CardGone):
            return None
        return atqa if len(atqa) == 2 else None

    def _select(self) -> tuple[bytes, int]:
        """The anticollision and select cascade after an ATQA: (UID, SAK)."""
        uid = b""
        for sel in (0x93, 0x95, 0x97):
            try:
                part, _ = self._transceive(bytes([sel, 0x20]))
            except _NoAnswer:
                raise CardGone("no answer during anticollision") from None
            if len(part) != 5 or part[0] ^ part[1] ^ part[2] ^ part[3] != part[4]:
                raise CardGone(f"anticollision answer {part.hex()} is corrupt")
            sak_frame = self._command(bytes([sel, 0x70]) + part)
            if len(sak_frame) != 1:
                raise CardGone(f"select answer {sak_frame.hex()} is not a SAK")
            sak = sak_frame[0]
            if sak & 0x04:  # cascade bit: more UID to come, this part starts with 88
                uid += part[1:4]
                continue
            return uid + part[:4], sak
        raise CardGone("UID longer than three cascade levels")

    def _activate(self) -> CardInfo | None:
        self._write(STATUS2, self._read(STATUS2) & ~CRYPTO1_ON & 0xFF)
        atqa = self._request()
        if atqa is None:
            return None
        uid, sak = self._select()
        version, ats = None, b""
        if identify.needs_version(sak):
            try:
                version = self._command(tag.GET_VERSION)
            except (CardGone, AuthFailed):
                self._reselect(uid)  # a first Ultralight is mute after GET_VERSION
        elif sak & 0x20:
            with contextlib.suppress(CardGone, AuthFailed):
                ats = self._command(b"\xe0\x50")  # RATS, FSDI 64 bytes, CID 0
        self._block_number = 0
        return CardInfo(uid, identify.classify(sak, version, ats), atqa, sak, ats)

    def _reselect(self, uid: bytes) -> None:
        self._write(STATUS2, self._read(STATUS2) & ~CRYPTO1_ON & 0xFF)
        if self._request(wake=True) is None or self._select()[0] != uid:
            self._card = None
            raise CardGone("card left the field")

    def _field_reset(self) -> None:
        """Switch the antenna off and on: every card in the field powers up fresh (IDLE)."""
        self._clear(TX_CONTROL, 0x03)
        time.sleep(0.001)
        self._set(TX_CONTROL, 0x03)
        time.sleep(0.001)

    def wait_for_card(self, timeout: float) -> CardInfo | None:
        deadline = time.monotonic() + timeout
        self._card = None
        reset = False
        while True:
            try:
                if self._spi is None:
                    self.open()
                    self.reconnects += 1
                    reset = False
                if time.monotonic() - self._last_ok > self.health_interval:
                    self._check_version()
                    self._last_ok = time.monotonic()
                if not reset:
                    self._field_reset()
                    reset = True
                card = self._activate()
                if card is not None:
                    self._card = card
                    return card
            except ReaderGone:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_S)
                continue
            except (CardGone, AuthFailed):
                pass  # half-seen card or RF error: poll again
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(self.poll_interval, remaining))

    def wait_for_removal(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        uid = self._card.uid if self._card else None
        while True:
            self._field_reset()
            present = self._request(wake=True) is not None
            if present and uid is not None:
                try:
                    present = self._select()[0] == uid
                except CardGone:
                    present = False
            if not present:
                self._card = None
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_interval)

    # -- the tag layer's three primitives ----------------------------------------------------
    def _refused(self, card: CardInfo, call: Callable[[], bytes]) -> bytes:
        """Run `call`; after a refusal the card is mute, so select it again before raising."""
        try:
            return call()
        except AuthFailed:
            self._reselect(card.uid)
            raise

    def transceive(self, frame: bytes) -> bytes:
        card = self._card
        if card is None:
            raise CardGone("no card selected")
        frame = bytes(frame)
        if frame[:1] == bytes([tag.MIFARE_WRITE]) and len(frame) == 18:  # two phases on air
            self._refused(card, lambda: self._command(frame[:2]))
            return self._refused(card, lambda: self._command(frame[2:]))
        return self._refused(card, lambda: self._command(frame))

    def crypto1_auth(self, frame: bytes) -> None:
        card = self._card
        if card is None:
            raise CardGone("no card selected")
        self._write(STATUS2, self._read(STATUS2) & ~CRYPTO1_ON & 0xFF)  # so success shows
        self._write(COMMAND, IDLE)
        self._write(COM_IRQ, 0x7F)
        self._write(FIFO_LEVEL, 0x80)
        self._write(FIFO_DATA, *frame)
        self._write(COMMAND, MF_AUTHENT)
        self._wait_irq(IDLE_IRQ | ERR_IRQ | TIMER_IRQ)
        if not self._read(STATUS2) & CRYPTO1_ON:
            self._reselect(card.uid)
            raise AuthFailed(f"authentication to block {frame[1]} refused")

    def iso_dep(self, command: bytes) -> bytes:
        """One APDU in an ISO 14443-4 I-block (no CID, no chaining: APDUs and answers up to
        the 64-byte frame RATS asked for); waiting-time extensions are answered."""
        if len(command) > 64 - 3:
            raise NotSupported("APDU longer than one ISO-DEP frame")
        block = bytes([0x02 | self._block_number]) + bytes(command)
        for _ in range(8):
            answer = self._command(block)
            if answer[:1] and answer[0] & 0xF7 == 0xF2 and len(answer) == 2:  # S(WTX)
                block = answer
                continue
            if not answer or answer[0] & 0xE2 != 0x02 or answer[0] & 0x10:
                raise CardGone(f"unexpected ISO-DEP block {answer.hex()}")
            self._block_number ^= 1
            if len(answer) < 3:
                raise CardGone(f"response APDU of {len(answer) - 1} bytes")
            return answer[1:]
        raise CardGone("the card kept asking for more time")


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 CRC_A (preset 6363), little-endian."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte = (byte ^ (byte << 4)) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes([crc & 0xFF, crc >> 8])


def _bus_device(port: str) -> tuple[int, int]:
    bus, _, device = (port or "0.0").partition(".")
    return int(bus), int(device or 0)


DRIVER = DriverSpec(
    name="rc522",
    build=lambda port: Rc522Reader(*_bus_device(port)),
    capabilities=Rc522Reader.capabilities,
    port_help='"bus.device" of the SPI device (default 0.0: /dev/spidev0.0)',
    device_node=lambda port: port if port.startswith("/dev/") else f"/dev/spidev{port or '0.0'}",
    interfaces=lambda port: ("spi",),
    enable_hint="enable SPI: `raspi-config nonint do_spi 0`, reboot",
)
