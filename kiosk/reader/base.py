"""The reader interface the session uses, whatever chip or library is underneath.

Drivers only move bytes; everything that interprets them (card format, keys, MACs) sits above
this interface so it is tested once, against every driver."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import StrEnum


class CardType(StrEnum):
    MIFARE_CLASSIC_1K = "mifare_classic_1k"
    MIFARE_CLASSIC_4K = "mifare_classic_4k"
    ULTRALIGHT = "ultralight"
    NTAG213 = "ntag213"
    NTAG215 = "ntag215"
    NTAG216 = "ntag216"
    NTAG424_DNA = "ntag424_dna"
    UNKNOWN = "unknown"


class KeyType(StrEnum):
    A = "A"
    B = "B"


@dataclass(frozen=True)
class CardInfo:
    """What the reader learns from anticollision: enough to pick the card format."""

    uid: bytes
    type: CardType
    atqa: bytes = b""
    sak: int = 0
    ats: bytes = b""


class ReaderError(Exception):
    """Base of every error a reader raises; the session never sees a library's own errors."""


class CardGone(ReaderError):
    """The card left the field (or never answered) during an exchange."""


class AuthFailed(ReaderError):
    """Wrong key or password; on MIFARE Classic the card must be re-selected afterwards."""


class NotSupported(ReaderError):
    """The reader or the card cannot do this operation."""


class ReaderGone(ReaderError):
    """The reader itself stopped answering (unplugged, serial glitch); drivers reconnect."""


class Reader(abc.ABC):
    """A contactless reader holding at most one card at a time."""

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def wait_for_card(self, timeout: float) -> CardInfo | None:
        """Return the card in the field, or None after `timeout` seconds without one."""

    @abc.abstractmethod
    def wait_for_removal(self, timeout: float) -> bool:
        """Return True once the present card has left the field, False on timeout."""

    def firmware(self) -> str:
        raise NotSupported("firmware version")

    # MIFARE Classic
    def mifare_auth(self, block: int, key_type: KeyType, key: bytes) -> None:
        raise NotSupported("MIFARE Classic authentication")

    def mifare_read(self, block: int) -> bytes:
        raise NotSupported("MIFARE Classic read")

    def mifare_write(self, block: int, data: bytes) -> None:
        raise NotSupported("MIFARE Classic write")

    # NTAG21x / Ultralight
    def ntag_read(self, page: int) -> bytes:
        """Return 16 bytes: pages page..page+3."""
        raise NotSupported("NTAG read")

    def ntag_write(self, page: int, data: bytes) -> None:
        raise NotSupported("NTAG write")

    def ntag_pwd_auth(self, password: bytes) -> bytes:
        """Return the 2-byte PACK the card answers with."""
        raise NotSupported("NTAG PWD_AUTH")

    def read_signature(self) -> bytes:
        """NXP originality signature (READ_SIG), 32 bytes."""
        raise NotSupported("READ_SIG")

    def ntag_read_counter(self) -> int:
        """The NTAG21x NFC counter (READ_CNT 02h, 24 bits): the chip raises it at the first
        READ after each power-up, so once per tap, and it can never be set back."""
        raise NotSupported("READ_CNT")

    # ISO-DEP (ISO 14443-4) cards such as NTAG 424 DNA
    def apdu(self, command: bytes) -> bytes:
        """Send an ISO 7816-4 command APDU; return the response APDU (data + SW1 SW2)."""
        raise NotSupported("ISO-DEP APDU")

    def __enter__(self) -> Reader:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
