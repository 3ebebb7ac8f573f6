"""The card commands, spelled once, above every driver's bare transceive().

As nfcpy's tag layer sits above its chip drivers, TagReader implements the Reader's MIFARE
Classic and NTAG21x / Ultralight operations once: the command bytes (NXP NTAG213/215/216 data
sheet §10, MF1S50yyX/V1 §9), the argument checks, which card types take which command, and
the size of each answer. A driver supplies only what its chip does differently:

- transceive(frame): one native command frame to the selected card, CRC handled below,
  the answer without CRC (b"" for a 4-bit ACK);
- crypto1_auth(frame): MIFARE Classic authentication, which runs inside the reader chip;
- iso_dep(apdu): one APDU to an ISO 14443-4 card (the I-block framing is the chip's or the
  driver's business);

and a Capabilities row (kiosk.reader.spec) saying which of these it can do. The chip models in kiosk.reader.chips
spell the same bytes independently, on purpose: they are the oracle a wrong byte here fails
against, through every driver's emulator."""

from __future__ import annotations

import abc
from typing import ClassVar

from kiosk.reader.base import CardGone, CardInfo, CardType, KeyType, NotSupported, Reader
from kiosk.reader.spec import Capabilities

# Type 2 tag (NTAG21x, Ultralight) commands
GET_VERSION = b"\x60"
READ = 0x30  # 4 pages (16 bytes) from the page given; also MIFARE Classic READ of one block
WRITE = 0xA2  # one 4-byte page
PWD_AUTH = 0x1B
READ_SIG = 0x3C
READ_CNT = 0x39
NFC_COUNTER = 0x02  # READ_CNT's only counter address on NTAG21x
# MIFARE Classic commands (crypto1 is applied by the reader chip after authentication)
AUTH_A, AUTH_B = 0x60, 0x61
MIFARE_WRITE = 0xA0  # on air: A0 block, the card ACKs, then the 16 data bytes
# ISO-DEP
NTAG424_GET_VERSION = bytes.fromhex("9060000000")  # native command wrapped in an ISO APDU

# which frames change the card (a driver that persists or re-selects after writes asks this)
WRITES = frozenset({WRITE, MIFARE_WRITE})

NTAG_TYPES = (CardType.NTAG213, CardType.NTAG215, CardType.NTAG216, CardType.ULTRALIGHT)
CLASSIC_TYPES = (CardType.MIFARE_CLASSIC_1K, CardType.MIFARE_CLASSIC_4K)
ISO_DEP_TYPES = (CardType.NTAG424_DNA, CardType.UNKNOWN)


class TagReader(Reader):
    """A Reader whose card commands are built here, over the driver's transceive()."""

    capabilities: ClassVar[Capabilities] = Capabilities()
    _card: CardInfo | None = None

    # -- what a driver supplies ----------------------------------------------------------------
    @abc.abstractmethod
    def transceive(self, frame: bytes) -> bytes:
        """Send one native command to the selected card; return its answer (b"" for an ACK).
        A refusal (a NAK, or a wrong password) raises AuthFailed with the card selected again,
        so it answers the next command in the same tap; silence or an RF error CardGone."""

    def crypto1_auth(self, frame: bytes) -> None:
        """MIFARE Classic authentication: `frame` is 60/61, block, key (6), UID (last 4).
        AuthFailed (card selected again) for a wrong key."""
        raise NotSupported("MIFARE Classic authentication")

    def iso_dep(self, command: bytes) -> bytes:
        """One command APDU to the selected ISO 14443-4 card; the response APDU."""
        raise NotSupported("ISO-DEP APDU")

    def selected(self) -> CardInfo | None:
        """The card the last wait_for_card selected, if any."""
        return self._card

    # -- the commands, once --------------------------------------------------------------------
    def _selected(self, kinds: tuple[CardType, ...], what: str) -> CardInfo:
        card = self.selected()
        if card is None:
            raise CardGone("no card selected")
        if card.type not in kinds:
            raise NotSupported(f"{what} on a {card.type.value} card")
        return card

    def mifare_auth(self, block: int, key_type: KeyType, key: bytes) -> None:
        card = self._selected(CLASSIC_TYPES, "MIFARE authentication")
        if len(key) != 6 or not 0 <= block <= 255:
            raise ValueError("a MIFARE key is 6 bytes and a block number 0..255")
        code = AUTH_A if key_type == KeyType.A else AUTH_B
        self.crypto1_auth(bytes([code, block]) + bytes(key) + card.uid[-4:])

    def mifare_read(self, block: int) -> bytes:
        self._selected(CLASSIC_TYPES, "MIFARE read")
        return exact(self.transceive(bytes([READ, block & 0xFF])), 16, "MIFARE read")

    def mifare_write(self, block: int, data: bytes) -> None:
        self._selected(CLASSIC_TYPES, "MIFARE write")
        if len(data) != 16:
            raise ValueError("a MIFARE block is 16 bytes")
        self.transceive(bytes([MIFARE_WRITE, block & 0xFF]) + bytes(data))

    def ntag_read(self, page: int) -> bytes:
        self._selected(NTAG_TYPES, "NTAG read")
        return exact(self.transceive(bytes([READ, page & 0xFF])), 16, "NTAG read")

    def ntag_write(self, page: int, data: bytes) -> None:
        self._selected(NTAG_TYPES, "NTAG write")
        if len(data) != 4:
            raise ValueError("an NTAG page is 4 bytes")
        self.transceive(bytes([WRITE, page & 0xFF]) + bytes(data))

    def ntag_pwd_auth(self, password: bytes) -> bytes:
        self._selected(NTAG_TYPES, "PWD_AUTH")
        if len(password) != 4:
            raise ValueError("an NTAG password is 4 bytes")
        return exact(self.transceive(bytes([PWD_AUTH]) + bytes(password)), 2, "PWD_AUTH")

    def read_signature(self) -> bytes:
        self._selected(NTAG_TYPES, "READ_SIG")
        if not self.capabilities.originality:
            raise NotSupported("READ_SIG through this reader")
        return exact(self.transceive(bytes([READ_SIG, 0x00])), 32, "READ_SIG")

    def ntag_read_counter(self) -> int:
        self._selected(NTAG_TYPES, "READ_CNT")
        if not self.capabilities.counter:
            raise NotSupported("READ_CNT through this reader")
        count = exact(self.transceive(bytes([READ_CNT, NFC_COUNTER])), 3, "READ_CNT")
        return int.from_bytes(count, "little")

    def apdu(self, command: bytes) -> bytes:
        card = self._selected(ISO_DEP_TYPES, "ISO-DEP APDU")
        if not self.capabilities.iso_dep:
            raise NotSupported("ISO-DEP APDU through this reader")
        if not card.sak & 0x20:
            raise NotSupported("ISO-DEP APDU on a card without ISO 14443-4")
        response = self.iso_dep(bytes(command))
        if len(response) < 2:
            raise CardGone(f"response APDU of {len(response)} bytes")
        return response


def exact(data: bytes | None, size: int, what: str) -> bytes:
    """The answer, if it is `size` bytes; CardGone (a garbled or cut exchange) otherwise."""
    if data is None or len(data) != size:
        got = -1 if data is None else len(data)
        raise CardGone(f"{what}: expected {size} bytes, got {got}")
    return bytes(data)
