"""What every chip model shares: ISO 14443-3 identity, presence, the select/mute state machine,
tearing and RF-error injection, and the errors a chip can give back."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.reader.base import CardType


class ChipError(Exception):
    """Base of what a chip model raises; emulators turn these into their own status codes."""


class ChipSilent(ChipError):
    """The card did not answer: out of the field, torn mid-write, muted, or an injected RF error."""


class ChipNak(ChipError):
    """The card answered with a 4-bit NAK (0x0 invalid argument, 0x1/0x5 CRC/parity, 0x4 not
    allowed / invalid authentication counter overflow). The card is then mute until select()."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(f"NAK {code:#x}: {why}")
        self.code = code


class ChipAuthError(ChipError):
    """Authentication failed: wrong MIFARE key (the card just stops answering, nak None) or
    wrong NTAG password (the card answers NAK `nak`). Either way it is mute until select()."""

    def __init__(self, why: str, nak: int | None = None) -> None:
        super().__init__(why)
        self.nak = nak


@dataclass
class _Tear:
    writes_left: int
    bytes_in_cut: int


class Chip:
    """Base of the models: identity, presence and the fault hooks.

    Tearing: `tear(after_writes=n, after_bytes=k)` lets n EEPROM write commands complete; the
    next one commits only its first k bytes (in address order; the rest keep their old values)
    and the card leaves the field (present=False, ChipSilent raised). k equal to the write's
    length means "fully written, but the card left before acknowledging". `writes` counts every
    EEPROM write command committed so far, so a test can measure an operation then cut it at
    every step and byte.

    RF errors: `inject_rf_errors(n, after=False, skip=0)` lets `skip` commands through, then
    loses the next n: before they reach the card (no effect) or, with after=True, after the
    card executed them (the answer is lost). `commands` counts the commands the card received.
    """

    card_type: CardType = CardType.UNKNOWN

    def __init__(self, uid: bytes, atqa: bytes, sak: int, ats: bytes = b"") -> None:
        if len(uid) not in (4, 7, 10):
            raise ValueError("UID is 4, 7 or 10 bytes")
        self.uid = bytes(uid)
        self.atqa = bytes(atqa)
        self.sak = sak
        self.ats = bytes(ats)
        self.present = True
        self.writes = 0
        self.commands = 0
        self._muted = False
        self._tear: _Tear | None = None
        self._rf_errors = 0
        self._rf_after = False
        self._rf_skip = 0
        self._rf_hit = False

    # -- field and selection
    def select(self) -> None:
        """Activate the card (REQA, anticollision, SELECT): clears mute and authentication."""
        self._check_present()
        self._muted = False
        self._reset_session()

    def halt(self) -> None:
        self._muted = True
        self._reset_session()

    def _reset_session(self) -> None:
        """Subclasses forget authentication state here."""

    def remove(self) -> None:
        self.present = False
        self._reset_session()

    def place(self) -> None:
        """Back into the field: powered up afresh, so every volatile state is gone."""
        self.present = True
        self._muted = False
        self._reset_session()

    # -- fault hooks
    def tear(self, after_writes: int = 0, after_bytes: int = 0) -> None:
        if after_writes < 0 or after_bytes < 0:
            raise ValueError("tear points are not negative")
        self._tear = _Tear(after_writes, after_bytes)

    def inject_rf_errors(self, count: int = 1, after: bool = False, skip: int = 0) -> None:
        self._rf_errors = count
        self._rf_after = after
        self._rf_skip = skip

    # -- helpers for subclasses
    def _check_present(self) -> None:
        if not self.present:
            raise ChipSilent("no card in the field")

    def _begin(self) -> None:
        """Start of every command: presence, mute, RF errors that strike before the card."""
        self._check_present()
        self.commands += 1
        self._rf_hit = False
        if self._rf_skip:
            self._rf_skip -= 1
        elif self._rf_errors:
            self._rf_errors -= 1
            if not self._rf_after:
                raise ChipSilent("RF error (injected)")
            self._rf_hit = True
        if self._muted:
            raise ChipSilent("card is mute until selected again")

    def _end(self) -> None:
        """End of every successful command: an RF error that loses the answer."""
        if self._rf_hit:
            self._rf_hit = False
            raise ChipSilent("RF error after execution (injected)")

    def _nak(self, code: int, why: str) -> ChipNak:
        self._muted = True
        self._reset_session()
        return ChipNak(code, why)

    def _commit(self, memory: bytearray, offset: int, data: bytes) -> None:
        """Write `data` into EEPROM `memory` at `offset`, honouring a pending tear."""
        tear = self._tear
        if tear is not None:
            if tear.writes_left > 0:
                tear.writes_left -= 1
            else:
                cut = min(tear.bytes_in_cut, len(data))
                memory[offset : offset + cut] = data[:cut]
                self._tear = None
                self.writes += 1 if cut == len(data) else 0
                self.remove()
                raise ChipSilent(f"card torn away after {cut} of {len(data)} bytes")
        memory[offset : offset + len(data)] = data
        self.writes += 1


def iso14443a_bcc(data: bytes) -> int:
    bcc = 0
    for b in data:
        bcc ^= b
    return bcc
