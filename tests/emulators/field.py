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

# ISO/IEC 14443-A at 106 kbit/s: fc/128 per bit, 9 bits per byte on air (8 data + parity).
RF_BYTE_S = 9 * 128 / 13.56e6
FDT_S = 86e-6  # frame delay time between a command's end and the card's answer (~1172/fc)

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
            card = self._begin(tx=2)
            try:
                card.select()
            except ChipError:
                return None
            uid = bytes(card.uid)
            ats = bytes(card.ats)
            cascade = 1 if len(uid) == 4 else 2 if len(uid) == 7 else 3
            self._air(tx=2 + 9 * cascade, rx=2 + 5 * cascade + 3 * cascade + len(ats))
            self._end()
            return Activation(uid, bytes(card.atqa), int(card.sak), ats)

    def authenticate(self, block: int, key_type: KeyType, key: bytes, uid: bytes) -> None:
        """MIFARE Classic three-pass authentication; crypto1 runs inside the reader chip, so
        the model only checks the key. Raises RfError(MIFARE_AUTH_ERROR) on a wrong key."""
        with self._lock:
            card = self._begin(tx=4)
            # 60/61 block CRC, nT from the card, nR aR from the reader, aT from the card
            self._air(tx=4 + 8, rx=4 + 4)
            self.rf_seconds += 2 * FDT_S if self.model_air else 0.0
            if bytes(uid) not in (bytes(card.uid)[:4], bytes(card.uid)[-4:]):
                raise RfError(MIFARE_AUTH_ERROR, "UID mismatch")
            _call(card.authenticate, block, key_type, bytes(key))
            self._end()

    def transceive(self, frame: bytes, program_s: float = 0.0) -> bytes:
        """Send one plain command frame, return the card's answer (CRC already checked; b""
        stands for a 4-bit ACK). Raises Nak for a 4-bit NAK, RfError(TIMEOUT) for silence."""
        with self._lock:
            card = self._begin(tx=len(frame))
            if hasattr(card, "apdu"):
                send = card.apdu
            elif hasattr(card, "ntag_command"):
                send = card.ntag_command
            else:
                send = card.command
            try:
                answer = bytes(_call(send, bytes(frame)))
            except RfError as error:
                if error.status == MIFARE_AUTH_ERROR:
                    raise Nak(0x0) from None  # PWD_AUTH with a wrong password: a NAK on air
                raise
            if frame[0] in WRITES and answer in (b"", b"\x0a"):
                answer = b""  # the 4-bit ACK
            self._air(tx=len(frame) + 2, rx=len(answer) + 2)
            self.rf_seconds += program_s if self.model_air else 0.0
            self._end()
            return bytes(answer)

    def acknowledge(self, frame: bytes) -> None:
        """A frame the card only ACKs before the real work (the address phase of a MIFARE
        Classic write from a host that sends two frames): a step that can be torn or fail."""
        with self._lock:
            self._begin(tx=len(frame))
            self._air(tx=len(frame), rx=1)
            self._end()

    def power_off(self) -> None:
        """The reader switched its field off: the card loses its volatile state."""
        with self._lock:
            if self.card is not None and self.card.present:
                self.card.place()

    # -- internals ---------------------------------------------------------------------------
    def _begin(self, tx: int) -> Any:
        self.steps += 1
        if self._tear and self._tear[0] == self.steps and not self._tear[1]:
            self.remove()
        if self.card is None or not self.card.present:
            self._air(tx=tx, rx=0)
            raise RfError(TIMEOUT, "no card")
        status = self._errors.pop(self.steps, None)
        if status is not None:
            self._air(tx=tx, rx=0)
            raise RfError(status, "injected")
        return self.card

    def _end(self) -> None:
        if self._tear and self._tear[0] == self.steps and self._tear[1]:
            self.remove()
            raise RfError(TIMEOUT, "card left before answering")

    def _air(self, tx: int, rx: int) -> None:
        if self.model_air:
            self.rf_seconds += (tx + rx) * RF_BYTE_S + FDT_S


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
