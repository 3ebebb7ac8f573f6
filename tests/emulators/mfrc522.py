"""An NXP MFRC522 as its registers look over SPI, with the Field's card in front of its antenna.

The host side is FakeSpiDev, which has the spidev.SpiDev methods a driver uses (open, xfer2,
close, max_speed_hz, mode). Each SPI byte pair follows the datasheet (MFRC522 rev 3.9, 8.1.2):
address byte (bit 7 = read, bits 6..1 = register), then data; several reads or writes may
follow one another in one transaction. The model implements what a reader driver needs:
CommandReg (Idle, Mem, CalcCRC, Transceive started by BitFramingReg.StartSend, MFAuthent,
SoftReset), the 64-byte FIFO with FIFOLevelReg, ComIrqReg / DivIrqReg with Set1 semantics,
ErrorReg, ControlReg.RxLastBits, Status2Reg.MFCrypto1On, TxControlReg antenna bits, the CRC
coprocessor and VersionReg. Crypto1 runs inside the chip, so MFAuthent only asks the chip model
whether the key is right; frames after it travel in clear.

On the air it plays the ISO 14443-3 steps the chip leaves to its host: REQA/WUPA, the
anticollision and select cascade for 4- and 7-byte UIDs, HLTA, RATS; every other frame goes to
the chip model through the Field (with CRC_A checked and appended, as the card does). The
MIFARE Classic write and value operations arrive in two frames from an MFRC522 host; the model
ACKs the first and hands both to the chip model together with the second."""

from __future__ import annotations

from kiosk.reader.base import KeyType

from .field import TIMEOUT, Activation, Field, Nak, RfError
from .pn532_core import crc_a

COMMAND, COM_IRQ, DIV_IRQ, ERROR, STATUS2 = 0x01, 0x04, 0x05, 0x06, 0x08
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING = 0x09, 0x0A, 0x0C, 0x0D
TX_CONTROL, CRC_H, CRC_L, VERSION = 0x14, 0x21, 0x22, 0x37
IDLE, MEM, CALC_CRC, TRANSCEIVE, MF_AUTHENT, SOFT_RESET = 0x00, 0x01, 0x03, 0x0C, 0x0E, 0x0F
RX_IRQ, IDLE_IRQ, ERR_IRQ, TIMER_IRQ = 0x20, 0x10, 0x02, 0x01
CRC_IRQ = 0x04
ERR_PARITY, ERR_CRC, ERR_PROTOCOL = 0x02, 0x04, 0x01
CRYPTO1_ON = 0x08
RESET_VALUES = {COMMAND: 0x20, 0x02: 0x80, COM_IRQ: 0x14, 0x0B: 0x08, 0x11: 0x3F, 0x14: 0x80,
                0x18: 0x84, 0x19: 0x4D, 0x26: 0x48, 0x27: 0x88, 0x28: 0x20, 0x29: 0x20,
                VERSION: 0x92, CRC_H: 0xFF, CRC_L: 0xFF}


class Mfrc522Model:
    def __init__(self, field: Field | None = None):
        self.field = field if field is not None else Field()
        self.unplugged = False
        self.spi_transfers = 0
        self.soft_reset()

    def soft_reset(self) -> None:
        self.regs = bytearray(64)
        for reg, value in RESET_VALUES.items():
            self.regs[reg] = value
        self.fifo = bytearray()
        self._selecting: Activation | None = None
        self._two_phase: bytes | None = None

    # -- SPI ----------------------------------------------------------------------------------
    def transfer(self, data: list[int]) -> list[int]:
        """One SPI transaction (chip select low for all of `data`)."""
        self.spi_transfers += 1
        out = [0] * len(data)
        i = 0
        while i < len(data):
            address = data[i]
            reg = (address >> 1) & 0x3F
            if address & 0x80:  # read: the value comes out during the next byte
                if i + 1 < len(data):
                    out[i + 1] = self._read(reg)
                i += 1
            else:  # write: address then the value(s); for FIFODataReg every following byte
                if i + 1 < len(data):
                    if reg == FIFO_DATA:
                        for value in data[i + 1 :]:
                            self._write(reg, value)
                        break
                    self._write(reg, data[i + 1])
                i += 2
        return out

    def _read(self, reg: int) -> int:
        if reg == FIFO_DATA:
            return self.fifo.pop(0) if self.fifo else 0
        if reg == FIFO_LEVEL:
            return len(self.fifo)
        return self.regs[reg]

    def _write(self, reg: int, value: int) -> None:
        value &= 0xFF
        if reg == FIFO_DATA:
            if len(self.fifo) < 64:
                self.fifo.append(value)
            else:
                self.regs[ERROR] |= 0x10  # BufferOvfl
        elif reg == FIFO_LEVEL:
            if value & 0x80:
                self.fifo.clear()
                self.regs[ERROR] &= ~0x10 & 0xFF
        elif reg in (COM_IRQ, DIV_IRQ):
            mask = value & 0x7F
            self.regs[reg] = self.regs[reg] | mask if value & 0x80 else self.regs[reg] & ~mask
        elif reg == COMMAND:
            self.regs[COMMAND] = (self.regs[COMMAND] & 0x30) | (value & 0x3F)
            self._command(value & 0x0F)
        elif reg == BIT_FRAMING:
            self.regs[reg] = value & 0x7F
            if value & 0x80 and self.regs[COMMAND] & 0x0F == TRANSCEIVE:
                self._transceive()
        elif reg == TX_CONTROL:
            was_on = self.regs[reg] & 0x03
            self.regs[reg] = value
            if was_on and not value & 0x03:
                self.field.power_off()
                self._selecting = None
        elif reg == VERSION:
            pass  # read-only
        else:
            self.regs[reg] = value

    # -- commands -----------------------------------------------------------------------------
    def _command(self, command: int) -> None:
        if command == SOFT_RESET:
            self.soft_reset()
        elif command == CALC_CRC:
            crc = crc_a(bytes(self.fifo))
            self.regs[CRC_L], self.regs[CRC_H] = crc[0], crc[1]
            self.regs[DIV_IRQ] |= CRC_IRQ
            self._idle()
        elif command == MF_AUTHENT:
            self._authenticate()
        elif command in (IDLE, MEM):
            self._idle()

    def _idle(self) -> None:
        self.regs[COMMAND] &= 0xF0
        self.regs[COM_IRQ] |= IDLE_IRQ

    def _authenticate(self) -> None:
        self.regs[STATUS2] &= ~CRYPTO1_ON & 0xFF
        frame = bytes(self.fifo)
        self.fifo.clear()
        if len(frame) < 12 or frame[0] not in (0x60, 0x61):
            self.regs[ERROR] = ERR_PROTOCOL
            self.regs[COM_IRQ] |= ERR_IRQ
            self._idle()
            return
        key_type = KeyType.A if frame[0] == 0x60 else KeyType.B
        try:
            self.field.authenticate(frame[1], key_type, frame[2:8], frame[8:12])
        except RfError:
            self.regs[COM_IRQ] |= TIMER_IRQ  # the card stopped answering the crypto exchange
            self._idle()
            return
        self.regs[STATUS2] |= CRYPTO1_ON
        self._idle()

    def _transceive(self) -> None:
        frame = bytes(self.fifo)
        self.fifo.clear()
        self.regs[ERROR] = 0
        last_bits = self.regs[BIT_FRAMING] & 0x07
        self.regs[CONTROL] &= 0xF8
        if not self.regs[TX_CONTROL] & 0x03 or not frame:
            self._no_answer()
            return
        try:
            answer, bits = self._air(frame, last_bits)
        except Nak as nak:
            answer, bits = bytes([nak.code]), 4
        except RfError as error:
            if error.status == TIMEOUT:
                self._no_answer()
                return
            self.regs[ERROR] = ERR_PARITY if error.status == 0x03 else ERR_CRC
            self.regs[COM_IRQ] |= ERR_IRQ | RX_IRQ | IDLE_IRQ
            return
        self.fifo[:] = answer
        self.regs[CONTROL] = (self.regs[CONTROL] & 0xF8) | (bits & 0x07)
        self.regs[COM_IRQ] |= RX_IRQ | IDLE_IRQ  # Transceive stays active; IdleIRq for hosts
        # that wait on it

    def _no_answer(self) -> None:
        self.regs[COM_IRQ] |= TIMER_IRQ

    # -- the air ------------------------------------------------------------------------------
    def _air(self, frame: bytes, last_bits: int) -> tuple[bytes, int]:
        """One frame to the card; (answer, valid bits in its last byte, 0 = all 8)."""
        if last_bits == 7 and len(frame) == 1 and frame[0] in (0x26, 0x52):
            if frame[0] == 0x26 and self._selecting is not None:
                raise RfError(TIMEOUT, "a selected card ignores REQA")
            self._selecting = self.field.activate()
            if self._selecting is None:
                raise RfError(TIMEOUT, "no card")
            return self._selecting.atqa, 0
        if len(frame) == 2 and frame[0] in (0x93, 0x95, 0x97) and frame[1] == 0x20:
            return self._cascade_part(frame[0]), 0
        if len(frame) == 9 and frame[0] in (0x93, 0x95, 0x97) and frame[1] == 0x70:
            _check_crc(frame)
            if frame[2:7] != self._cascade_part(frame[0]):
                raise RfError(TIMEOUT, "select for another UID")
            sak = self._sak(frame[0])
            return bytes([sak]) + crc_a(bytes([sak])), 0
        body = _check_crc(frame)
        if body[:1] == b"\x50":  # HLTA: the card answers nothing
            self._selecting = None
            raise RfError(TIMEOUT, "halted")
        if body[:1] == b"\xe0" and self._selecting is not None and self._selecting.ats:
            ats = self._selecting.ats
            return ats + crc_a(ats), 0
        if body[:1] in (b"\x02", b"\x03") and self._selecting and self._selecting.sak & 0x20:
            answer = body[:1] + self.field.transceive(body[1:])  # I-block: PCB + INF
            return answer + crc_a(answer), 0
        if self._two_phase is not None:
            first, self._two_phase = self._two_phase, None
            answer = self.field.transceive(first + body)
            if first[0] in (0xC0, 0xC1, 0xC2):
                raise RfError(TIMEOUT, "no answer to a value operand")
            return (b"\x0a", 4) if not answer else (answer + crc_a(answer), 0)
        if len(body) == 2 and body[0] in (0xA0, 0xC0, 0xC1, 0xC2) and self._is_classic():
            self.field.acknowledge(body)
            self._two_phase = body
            return b"\x0a", 4
        answer = self.field.transceive(body)
        if not answer:
            return b"\x0a", 4
        return answer + crc_a(answer), 0

    def _is_classic(self) -> bool:
        return self._selecting is not None and bool(self._selecting.sak & 0x18)

    def _cascade_part(self, sel: int) -> bytes:
        if self._selecting is None:
            raise RfError(TIMEOUT, "no card in the anticollision")
        uid = self._selecting.uid
        level = (0x93, 0x95, 0x97).index(sel)
        if len(uid) == 4:
            parts = [uid]
        elif len(uid) == 7:
            parts = [b"\x88" + uid[:3], uid[3:]]
        else:
            parts = [b"\x88" + uid[:3], b"\x88" + uid[3:6], uid[6:]]
        if level >= len(parts):
            raise RfError(TIMEOUT, "no such cascade level")
        part = parts[level]
        return part + bytes([part[0] ^ part[1] ^ part[2] ^ part[3]])

    def _sak(self, sel: int) -> int:
        assert self._selecting is not None
        levels = {4: 1, 7: 2, 10: 3}[len(self._selecting.uid)]
        if (0x93, 0x95, 0x97).index(sel) + 1 < levels:
            return 0x04  # cascade bit: UID not complete
        return self._selecting.sak


def _check_crc(frame: bytes) -> bytes:
    if len(frame) < 3 or crc_a(frame[:-2]) != frame[-2:]:
        raise RfError(TIMEOUT, "the card ignores a frame with a bad CRC")
    return frame[:-2]


class FakeSpiDev:
    """spidev.SpiDev's surface, wired to a register model instead of /dev/spidevB.D."""

    def __init__(self, model: Mfrc522Model):
        self.model = model
        self.max_speed_hz = 0
        self.mode = 0
        self.opened: tuple[int, int] | None = None

    def open(self, bus: int, device: int) -> None:
        if self.model.unplugged:
            raise FileNotFoundError(f"/dev/spidev{bus}.{device}")
        self.opened = (bus, device)

    def xfer2(self, data: list[int]) -> list[int]:
        if self.opened is None:
            raise OSError(9, "Bad file descriptor")
        if self.model.unplugged:
            return [0] * len(data)  # a floating MISO line reads as zeros
        return self.model.transfer(list(data))

    def close(self) -> None:
        self.opened = None
