"""PC/SC driver (pyscard) for ACR122U-style contactless readers.

Only moves bytes (the card commands are kiosk.reader.tag's): the PC/SC part 3 storage-card
pseudo-APDUs the ACR122U answers (FF CA get
UID, FF 82 load key, FF 86 general authenticate, FF B0 read binary, FF D6 update binary) and,
for NTAG commands PC/SC has no APDU for (GET_VERSION, PWD_AUTH, READ_SIG, READ_CNT), the
reader's direct transmit to its PN532 (FF 00 00 00 Lc D4 42 ...: InCommunicateThru). Presence
comes from SCardGetStatusChange, so the wait costs nothing while no card is there. A pcscd
restart or a USB unplug drops the context; the next wait_for_card establishes a new one.

CardInfo.sak is derived from the ATR (PC/SC part 3 card name, or ISO-DEP), since the ACR122U
does not report the SAK itself."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from kiosk.reader import identify, tag
from kiosk.reader.base import AuthFailed, CardGone, CardInfo, NotSupported, ReaderGone
from kiosk.reader.spec import Capabilities, DriverSpec
from kiosk.reader.tag import TagReader

log = logging.getLogger(__name__)

OK = b"\x90\x00"
PCSC_RID = bytes.fromhex("A000000306")
PART3_SAK = {b"\x00\x01": 0x08, b"\x00\x02": 0x18, b"\x00\x03": 0x00}
# SCard errors that mean "the card", the rest mean "the reader or the service"
CARD_ERRORS = {
    0x80100069,  # SCARD_W_REMOVED_CARD
    0x8010000C,  # SCARD_E_NO_SMARTCARD
    0x80100016,  # SCARD_E_NOT_TRANSACTED
    0x80100068,  # SCARD_W_RESET_CARD
    0x80100067,  # SCARD_W_UNPOWERED_CARD
    0x80100066,  # SCARD_W_UNRESPONSIVE_CARD
    0x8010000F,  # SCARD_E_PROTO_MISMATCH
}
SCARD_E_TIMEOUT = 0x8010000A
RETRY_S = 0.2


class PcscReader(TagReader):
    """`name` picks the first PC/SC reader whose name contains it ("" = the first reader)."""

    # the ACR122U answers its firmware query only with a card on it; pcscd polls the reader,
    # so a card swapped for another between two polls is not seen leaving
    capabilities = Capabilities(firmware_without_card=False, sees_swap=False)

    def __init__(self, name: str = ""):
        self.name = name
        self.reader_name = ""
        self.reconnects = 0
        self._context: Any = None
        self._card_handle: Any = None
        self._protocol = 0
        self._card: CardInfo | None = None

    # -- context and reader ------------------------------------------------------------------
    def open(self) -> None:
        if self._context is not None:
            return
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check(hresult, "establish a PC/SC context", reader=True)
        try:
            hresult, names = scard.SCardListReaders(context, [])
            _check(hresult, "list PC/SC readers", reader=True)
            matching = [n for n in names if self.name in n]
            if not matching:
                raise ReaderGone(f"no PC/SC reader matching {self.name!r} among {names}")
        except ReaderGone:
            scard.SCardReleaseContext(context)
            raise
        self._context, self.reader_name = context, matching[0]
        log.info("PC/SC reader %s ready", self.reader_name)

    def close(self) -> None:
        from smartcard import scard

        self._disconnect_card()
        context, self._context = self._context, None
        if context is not None:
            with contextlib.suppress(Exception):
                scard.SCardReleaseContext(context)

    def _drop(self, error: ReaderGone) -> ReaderGone:
        log.warning("PC/SC reader %s lost: %s", self.reader_name or self.name, error)
        self._card_handle = None
        self._card = None
        self.close()
        return error

    def _disconnect_card(self) -> None:
        from smartcard import scard

        handle, self._card_handle, self._card = self._card_handle, None, None
        if handle is not None:
            with contextlib.suppress(Exception):
                scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)

    # -- presence ---------------------------------------------------------------------------
    def _status_change(self, timeout: float, want_present: bool) -> bool:
        """Block in SCardGetStatusChange until the slot is (not) occupied or time is up."""
        from smartcard import scard

        deadline = time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while True:
            wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if state == scard.SCARD_STATE_UNAWARE:
                wait_ms = 0
            hresult, states = scard.SCardGetStatusChange(
                self._context, wait_ms, [(self.reader_name, state)]
            )
            if hresult & 0xFFFFFFFF == SCARD_E_TIMEOUT:
                return False
            try:
                _check(hresult, "watch the reader", reader=True)
            except ReaderGone as error:
                raise self._drop(error) from None
            event = states[0][1]
            if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                raise self._drop(ReaderGone(f"{self.reader_name} is unavailable"))
            present = bool(event & scard.SCARD_STATE_PRESENT) and not (
                event & scard.SCARD_STATE_MUTE
            )
            if present == want_present:
                return True
            if time.monotonic() >= deadline:
                return False
            state = event & ~scard.SCARD_STATE_CHANGED

    def wait_for_card(self, timeout: float) -> CardInfo | None:
        deadline = time.monotonic() + timeout
        self._disconnect_card()
        while True:
            try:
                if self._context is None:
                    self.open()
                    self.reconnects += 1
                remaining = max(0.0, deadline - time.monotonic())
                if self._status_change(remaining, want_present=True):
                    self._card = self._connect_card()
                    return self._card
                return None
            except ReaderGone:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_S)
            except CardGone:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.01)

    def wait_for_removal(self, timeout: float) -> bool:
        self._disconnect_card()
        if self._context is None:
            self.open()
        return self._status_change(timeout, want_present=False)

    def _connect_card(self) -> CardInfo:
        from smartcard import scard

        hresult, handle, protocol = scard.SCardConnect(
            self._context, self.reader_name, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        _check(hresult, "connect to the card")
        self._card_handle, self._protocol = handle, protocol
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(handle)
        _check(hresult, "read the ATR")
        uid = self._ok(b"\xff\xca\x00\x00\x00", "get UID")
        if len(uid) not in (4, 7, 10):
            raise CardGone(f"get UID: {len(uid)} bytes")
        sak, historical = sak_from_atr(bytes(atr))
        version = None
        if identify.needs_version(sak):
            try:
                version = self._thru(tag.GET_VERSION)
            except (CardGone, AuthFailed):
                self._reselect()  # a first Ultralight does not know GET_VERSION and goes mute
        elif sak & 0x20:
            with contextlib.suppress(CardGone):
                version = self._transmit(tag.NTAG424_GET_VERSION)[:-2]
        card_type = identify.classify(sak, version)
        return CardInfo(bytes(uid), card_type, b"", sak, historical)

    # -- one APDU -----------------------------------------------------------------------------
    def _transmit(self, apdu: bytes) -> bytes:
        from smartcard import scard

        if self._card_handle is None:
            raise CardGone("no card connected")
        hresult, response = scard.SCardTransmit(self._card_handle, self._protocol, list(apdu))
        try:
            _check(hresult, "transmit")
        except ReaderGone as error:
            raise self._drop(error) from None
        except CardGone:
            self._card_handle = None
            raise
        response = bytes(response)
        if len(response) < 2:
            raise CardGone(f"short response {response.hex()}")
        return response

    def _ok(self, apdu: bytes, what: str) -> bytes:
        """Transmit; the data before 90 00, or AuthFailed/CardGone/NotSupported for others."""
        response = self._transmit(apdu)
        if response[-2:] == OK:
            return response[:-2]
        sw = response[-2:].hex().upper()
        if sw == "6A81":
            raise NotSupported(f"{what}: the reader does not support it (SW {sw})")
        raise CardGone(f"{what}: failed (SW {sw})")

    def _thru(self, frame: bytes) -> bytes:
        """ACR122U direct transmit: PN532 InCommunicateThru to the card."""
        command = b"\xd4\x42" + frame
        answer = self._ok(b"\xff\x00\x00\x00" + bytes([len(command)]) + command, "direct transmit")
        if len(answer) < 3 or answer[:2] != b"\xd5\x43":
            raise CardGone(f"direct transmit: unexpected answer {answer.hex()}")
        if answer[2] == 0x01:
            raise CardGone("the card did not answer")
        if answer[2] != 0x00:
            raise AuthFailed(f"refused by the card (status 0x{answer[2]:02X})")
        return answer[3:]

    def selected(self) -> CardInfo | None:
        return self._card if self._card_handle is not None else None

    def _reselect(self) -> None:
        """Power-cycle the card through pcscd so it answers again after a refused auth."""
        from smartcard import scard

        if self._card_handle is None:
            raise CardGone("no card connected")
        hresult, protocol = scard.SCardReconnect(
            self._card_handle, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, scard.SCARD_RESET_CARD,
        )
        try:
            _check(hresult, "re-select the card")
        except ReaderGone as error:
            raise self._drop(error) from None
        self._protocol = protocol

    def _refusal(self, what: str, response: bytes) -> Exception:
        """The ACR122U answers 63 00 whether the card refused or left: re-select it (it is mute
        after a refusal anyway) and see whether the same card still answers."""
        sw = response[-2:].hex().upper()
        try:
            self._reselect()
            uid = self._ok(b"\xff\xca\x00\x00\x00", "get UID")
        except (CardGone, NotSupported):
            self._card_handle = None
            return CardGone(f"{what}: the card left the field (SW {sw})")
        if self._card is not None and uid != self._card.uid:
            return CardGone(f"{what}: another card is in the field")
        return AuthFailed(f"{what} refused by the card (SW {sw})")

    def firmware(self) -> str:
        if self._card_handle is None:
            raise NotSupported("the ACR122U answers its firmware query only with a card on it")
        return self._transmit(b"\xff\x00\x48\x00\x00").decode("ascii", "replace")

    # -- the tag layer's three primitives ----------------------------------------------------
    def transceive(self, frame: bytes) -> bytes:
        """READ and WRITE through the storage-card APDUs (crypto1 applies on MIFARE Classic),
        every other command straight to the card through the reader's PN532."""
        frame = bytes(frame)
        if frame[:1] == bytes([tag.READ]) and len(frame) == 2:
            return self._read(frame[1], 16)
        if frame[:1] and frame[0] in tag.WRITES and len(frame) >= 2:
            self._update(frame[1], frame[2:])
            return b""
        try:
            return self._thru(frame)
        except AuthFailed:
            self._reselect()  # mute after a NAK: select it again for the next command
            raise

    def crypto1_auth(self, frame: bytes) -> None:
        kind, block, key = frame[0], frame[1], frame[2:8]
        self._ok(b"\xff\x82\x00\x00\x06" + bytes(key), "load key")
        response = self._transmit(bytes([0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, block, kind, 0]))
        if response[-2:] != OK:
            raise self._refusal(f"authentication to block {block}", response)

    def iso_dep(self, command: bytes) -> bytes:
        if command[:1] == b"\xff":
            raise NotSupported("a reader pseudo-APDU is not an ISO-DEP APDU")
        return self._transmit(command)

    def _read(self, block: int, size: int) -> bytes:
        response = self._transmit(bytes([0xFF, 0xB0, 0x00, block & 0xFF, size]))
        if response[-2:] != OK:
            raise self._refusal(f"read of block {block}", response)
        return response[:-2]

    def _update(self, block: int, data: bytes) -> None:
        apdu = bytes([0xFF, 0xD6, 0x00, block & 0xFF, len(data)]) + bytes(data)
        response = self._transmit(apdu)
        if response[-2:] != OK:
            raise self._refusal(f"write of block {block}", response)


def sak_from_atr(atr: bytes) -> tuple[int, bytes]:
    """(SAK, ATS historical bytes) as far as a contactless reader's ATR tells them: a PC/SC
    part 3 storage-card ATR names the card, any other ATR is an ISO-DEP card (SAK 20)."""
    if len(atr) < 4 or atr[0] != 0x3B:
        raise CardGone(f"not a contactless ATR: {atr.hex()}")
    count = atr[1] & 0x0F
    historical = atr[4 : 4 + count]
    if len(historical) >= 11 and historical[:2] == b"\x80\x4f" and historical[3:8] == PCSC_RID:
        return PART3_SAK.get(bytes(historical[9:11]), 0x01), b""  # 01: no known SAK
    return 0x20, bytes(historical)


def _check(hresult: int, what: str, reader: bool = False) -> None:
    """Raise the typed error for a failed SCard call."""
    if hresult == 0:
        return
    code = hresult & 0xFFFFFFFF
    from smartcard import scard

    message = f"{what}: {scard.SCardGetErrorMessage(hresult)} (0x{code:08X})"
    if code in CARD_ERRORS and not reader:
        raise CardGone(message)
    raise ReaderGone(message)


DRIVER = DriverSpec(
    name="pcsc",
    build=PcscReader,
    capabilities=PcscReader.capabilities,
    port_help="a substring of the PC/SC reader's name (default: the first reader)",
    service_socket="/run/pcscd/pcscd.comm",
    service_hint="apt-get install pcscd; systemctl enable --now pcscd.socket",
)
