"""The RF field of an emulated reader: the card in it, and the faults a test asks for.

Every emulated reader chip (PN532, ACR122U, MFRC522) talks to its card only through a Field, so
tearing ("the card leaves at step N") and RF errors ("step N answers with a CRC error") work the
same for every driver. A step is one RF exchange the reader chip would perform: activation,
MIFARE authentication, or one command frame. The card itself is a chip model from
kiosk/reader/chips.py; the Field never interprets card memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from kiosk.reader.base import KeyType
from kiosk.reader.chips import ChipAuthError, ChipError, ChipNak

# ISO/IEC 14443-2/-3 type A at 106 kbit/s. A bit lasts 128 carrier cycles (fc = 13.56 MHz). A
# standard frame is a start bit, 9 bits per byte (8 data + odd parity) and an end bit; REQA is a
# 7-bit short frame and a MIFARE ACK or NAK 4 bits, each between a start and an end bit.
BIT_S = 128 / 13.56e6
SHORT_FRAME_BITS = 9
ACK_BITS = 6
# Every change of direction waits at least 1172/fc: the PCD-to-PICC frame delay time is
# (9 x 128 + 20)/fc or (9 x 128 + 84)/fc for REQA, anticollision and SELECT and no less for the
# rest; PICC to PCD it is at least 1172/fc (ISO/IEC 14443-3, 6.2.1).
FDT_S = 1172 / 13.56e6


def frame_bits(n: int) -> int:
    """Air bits of a standard frame of `n` bytes (CRC included)."""
    return 2 + 9 * n


# PN53x status codes the Field raises (the same numbers the PN532 user manual lists).
TIMEOUT = 0x01
CRC_ERROR = 0x02
PARITY_ERROR = 0x03
MIFARE_AUTH_ERROR = 0x14


WRITES = (0xA0, 0xA2, 0xB0, 0xC0, 0xC1, 0xC2)


class RfError(Exception):
    """An exchange that failed on the air: `status` is the PN53x error code for it."""

    def __init__(self, status: int, why: str = ""):
        super().__init__(f"RF status 0x{status:02X} {why}".strip())
        self.status = status


class Nak(RfError):
    """The card answered with a 4-bit NAK (MIFARE / NTAG), `code` its value."""

    def __init__(self, code: int):
        super().__init__(CRC_ERROR, f"NAK 0x{code:X}")
        self.code = code


@dataclass(frozen=True)
class Activation:
    """What anticollision and selection (and RATS for ISO-DEP cards) return."""

    uid: bytes
    atqa: bytes  # as sent on air, LSB first: 04 00 for a Classic 1K
    sak: int
    ats: bytes = b""


class Field:
    """Holds at most one card; counts RF steps; drops the card or corrupts a step on request."""

    def __init__(self, card: Any = None):
        self._lock = threading.RLock()
        self.card = card
        self.steps = 0
        self._tear: tuple[int, bool] | None = None
        self._errors: dict[int, int] = {}
        self.rf_seconds = 0.0  # modelled air time of every exchange so far
        self.model_air = True  # False: exchanges take no air time (to isolate host costs)

    # -- what a test does -------------------------------------------------------------------
    def place(self, card: Any) -> None:
        with self._lock:
            self.card = card
            card.place()

    def remove(self) -> None:
        with self._lock:
            if self.card is not None:
                self.card.remove()
            self.card = None

    def tear_at(self, step: int, after: bool = False) -> None:
        """Take the card away at RF step `step` (counted from now, 1-based): before the card
        sees that frame, or, with after=True, once it has acted on it but before it answers."""
        with self._lock:
            self._tear = (self.steps + step, after)

    def inject(self, status: int, step: int = 1) -> None:
        """Make RF step `step` (counted from now, 1-based) fail with PN53x status `status`."""
        with self._lock:
            self._errors[self.steps + step] = status

    def clear_faults(self) -> None:
        with self._lock:
            self._tear = None
            self._errors.clear()

    # -- what a reader chip does ------------------------------------------------------------
    def activate(self) -> Activation | None:
        """REQA, anticollision, select (and RATS); None when no card answers."""
        with self._lock:
            if self.card is None or not self.card.present:
                return None
            card = self._begin(SHORT_FRAME_BITS)
            try:
                card.select()
            except ChipError:
                return None
            uid = bytes(card.uid)
            ats = bytes(card.ats)
            levels = 1 if len(uid) == 4 else 2 if len(uid) == 7 else 3
            # REQA, ATQA; per cascade level ANTICOLLISION, UID CLn + BCC, SELECT, SAK + CRC
            bits = SHORT_FRAME_BITS + frame_bits(2)
            bits += levels * (frame_bits(2) + frame_bits(5) + frame_bits(9) + frame_bits(3))
            frames = 2 + 4 * levels
            if ats:  # RATS, ATS
                bits += frame_bits(4) + frame_bits(len(ats) + 2)
                frames += 2
            self._air(bits, frames - 1)
            self._end()
            return Activation(uid, bytes(card.atqa), int(card.sak), ats)

    def authenticate(self, block: int, key_type: KeyType, key: bytes, uid: bytes) -> None:
        """MIFARE Classic three-pass authentication; crypto1 runs inside the reader chip, so
        the model only checks the key. Raises RfError(MIFARE_AUTH_ERROR) on a wrong key."""
        with self._lock:
            card = self._begin(frame_bits(4))
            # 60/61 block CRC; nT from the card; nR aR from the reader; aT from the card
            self._air(frame_bits(4) + frame_bits(4) + frame_bits(8), 2)
            if bytes(uid) not in (bytes(card.uid)[:4], bytes(card.uid)[-4:]):
                raise RfError(MIFARE_AUTH_ERROR, "UID mismatch")
            _call(card.authenticate, block, key_type, bytes(key))
            self._air(frame_bits(4), 1)
            self._end()

    def transceive(self, frame: bytes, program_s: float = 0.0, address_phase: bool = False) -> bytes:
        """Send one plain command frame, return the card's answer (CRC already checked; b""
        stands for a 4-bit ACK). Raises Nak for a 4-bit NAK, RfError(TIMEOUT) for silence.
        `program_s` is the card's EEPROM time before it ACKs a write; `address_phase`: the
        reader chip first sends the command's two-byte address frame alone and waits for the
        card's ACK (a PN532 doing a MIFARE Classic WRITE)."""
        with self._lock:
            card = self._begin(frame_bits(len(frame) + 2))
            pcb = 0  # the ISO-DEP block header byte the reader chip adds and strips
            if hasattr(card, "apdu"):
                send, pcb = card.apdu, 1
            elif hasattr(card, "ntag_command"):
                send = card.ntag_command
            else:
                send = card.command
            bits, turns = frame_bits(pcb + len(frame) + 2), 1
            if address_phase:  # command + block + CRC, ACK, then the data + CRC
                bits, turns = frame_bits(4) + ACK_BITS + frame_bits(len(frame)), 3
            try:
                answer = bytes(_call(send, bytes(frame)))
            except RfError as error:
                if error.status == MIFARE_AUTH_ERROR:
                    error = Nak(0x0)  # PWD_AUTH with a wrong password: a NAK on air
                self._air(bits + (ACK_BITS if isinstance(error, Nak) else 0), turns)
                raise error from None
            if frame[0] in WRITES and answer in (b"", b"\x0a"):
                answer = b""  # the 4-bit ACK
            bits += ACK_BITS if not answer else frame_bits(pcb + len(answer) + 2)
            if program_s:  # the card ACKs once its EEPROM is written, not after an FDT
                turns -= 1
            self._air(bits, turns, program_s)
            self._end()
            return bytes(answer)

    def acknowledge(self, frame: bytes) -> None:
        """A frame the card only ACKs before the real work (the address phase of a MIFARE
        Classic write from a host that sends two frames): a step that can be torn or fail."""
        with self._lock:
            self._begin(frame_bits(len(frame) + 2))
            self._air(frame_bits(len(frame) + 2) + ACK_BITS, 1)
            self._end()

    def power_off(self) -> None:
        """The reader switched its field off: the card loses its volatile state."""
        with self._lock:
            if self.card is not None and self.card.present:
                self.card.place()

    # -- internals ---------------------------------------------------------------------------
    def _begin(self, tx_bits: int) -> Any:
        """Count the step; a card torn away here or an injected error costs the reader's
        frame and a wait for an answer that never comes."""
        self.steps += 1
        if self._tear and self._tear[0] == self.steps and not self._tear[1]:
            self.remove()
        if self.card is None or not self.card.present:
            self._air(tx_bits, 1)
            raise RfError(TIMEOUT, "no card")
        status = self._errors.pop(self.steps, None)
        if status is not None:
            self._air(tx_bits, 1)
            raise RfError(status, "injected")
        return self.card

    def _end(self) -> None:
        if self._tear and self._tear[0] == self.steps and self._tear[1]:
            self.remove()
            raise RfError(TIMEOUT, "card left before answering")

    def _air(self, bits: int, turns: int, extra_s: float = 0.0) -> None:
        """`bits` on air in all frames, `turns` changes of direction between them, and
        `extra_s` the card spends working."""
        if self.model_air:
            self.rf_seconds += bits * BIT_S + turns * FDT_S + extra_s


def _call(method, *args):
    """Run one chip-model operation, turning its errors into what the air shows a reader."""
    try:
        return method(*args)
    except ChipAuthError as error:
        raise RfError(MIFARE_AUTH_ERROR, str(error)) from None
    except ChipNak as error:
        raise Nak(error.code) from None
    except ChipError as error:  # ChipSilent and anything else: no answer
        raise RfError(TIMEOUT, str(error)) from None
