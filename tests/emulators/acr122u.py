"""An ACR122U with a card on it, as a virtual card of vsmartcard's vpcd reader driver in pcscd.

pcscd loads Debian's libifdvpcd, which listens on a TCP port; this emulator connects to it
while a card is in the Field (the reader shows "card present") and disconnects when the card
leaves. The vpcd protocol: every message is a 2-byte big-endian length and a body; a 1-byte
body is a control message (00 power off, 01 power on, 02 reset, 04 ATR request, only the last
answered), anything longer is a command APDU answered with a response APDU.

The ACR122U is a PN532 behind a USB CCID front end; the APDUs it answers are those of its
application programming interface (ACS API-ACR122U v2.04) and PC/SC part 3:
    FF CA 00 00 00                    get UID
    FF CA 01 00 00                    get ATS historical bytes
    FF 82 00 nn 06 key                load key into slot nn
    FF 86 00 00 05 01 00 blk 60|61 nn authenticate with the key in slot nn
    FF B0 00 blk Le                   read binary
    FF D6 00 blk Lc data              update binary
    FF 00 00 00 Lc D4 ...    direct transmit to the PN532 (answer D5 ... 90 00)
    FF 00 48 00 00           firmware version string
    other CLA                passed to an ISO-DEP card through InDataExchange
Failures answer 63 00; unknown pseudo-APDUs 6A 81."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from .field import Field
from .pn532_core import Pn532Core, SyntaxFault

OK = b"\x90\x00"
FAILED = b"\x63\x00"
UNSUPPORTED = b"\x6a\x81"
WRONG_LENGTH = b"\x67\x00"
FIRMWARE = b"ACR122U207"
# PC/SC part 3 card names (the NN of the storage-card ATR)
CARD_NAME = {0x08: b"\x00\x01", 0x18: b"\x00\x02", 0x00: b"\x00\x03"}
# pcscd polls the vpcd slot every 0.4 s; a card must stay away longer than that for pcscd to
# see it leave (a real reader reports removal by interrupt, a hand is slower than this anyway)
AWAY_S = 0.5


class Acr122uEmulator:
    """`with Acr122uEmulator(field, port): ...` — port is the vpcd reader's TCP port."""

    def __init__(self, field: Field | None = None, port: int = 35963, host: str = "127.0.0.1"):
        self.field = field if field is not None else Field()
        self.port = port
        self.host = host
        self.core = Pn532Core(self.field)
        self.apdus = 0
        self._keys: dict[int, bytes] = {}
        self._sock: socket.socket | None = None
        self._left_at = time.monotonic()  # cards arrive from outside the field
        self._linked = None  # the card the vpcd link stands for
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Acr122uEmulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="acr122u-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._disconnect()

    def connected(self) -> bool:
        return self._sock is not None

    # -- the vpcd link ----------------------------------------------------------------------
    def _card_present(self) -> bool:
        card = self.field.card
        return card is not None and card.present

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._card_present() or (self._sock and self.field.card is not self._linked):
                self._disconnect()  # gone, or swapped for another: the slot empties first
                time.sleep(0.01)
                continue
            if self._sock is None:
                if time.monotonic() - self._left_at < AWAY_S:
                    time.sleep(0.01)
                    continue
                self._connect()
                if self._sock is None:
                    time.sleep(0.05)
                    continue
            try:
                # vpcd writes the length and the body separately: acknowledge at once, or
                # Nagle on its side and delayed ACK on ours add 40 ms to every APDU
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                self._sock.settimeout(0.02)
                head = self._sock.recv(2, socket.MSG_PEEK)
                if not head:
                    raise ConnectionError("vpcd closed the connection")
                self._sock.settimeout(2.0)
                (size,) = struct.unpack(">H", _recv_exactly(self._sock, 2))
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                body = _recv_exactly(self._sock, size)
                answer = self._message(body)
                if answer is not None:
                    self._sock.sendall(struct.pack(">H", len(answer)) + answer)
            except TimeoutError:
                continue
            except OSError:
                self._disconnect()
                time.sleep(0.05)

    def _connect(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=0.5)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._linked = self.field.card
        except OSError:
            self._sock = None
            return
        self._activate()

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            self._left_at = time.monotonic()
            with contextlib.suppress(OSError):
                sock.close()

    def _message(self, body: bytes) -> bytes | None:
        if len(body) == 1:
            if body[0] == 0x04:
                return self._atr()
            if body[0] == 0x00:
                self.core.execute(0x32, b"\x01\x00")  # field off
            else:
                self._activate()  # power on, reset: the reader polls the card again
            return None
        self.apdus += 1
        return self.apdu(body)

    # -- the reader's firmware ----------------------------------------------------------------
    def _activate(self) -> None:
        self._keys.clear()
        self.core.execute(0x32, b"\x05\x01\x00\x02")
        self.core.execute(0x4A, b"\x01\x00")

    def _atr(self) -> bytes:
        target = self.core._target
        if target is None:
            return bytes.fromhex("3b8080018080")  # nothing selected: an empty contactless ATR
        if target.sak & 0x20:
            ats = target.ats
            t0 = ats[1] if len(ats) > 1 else 0
            skip = 2 + bin(t0 & 0x70).count("1")
            historical = ats[skip:] if len(ats) > 1 else b""
            body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
        else:
            name = CARD_NAME.get(target.sak & 0x7F, b"\x00\x00")
            rid_ss = bytes.fromhex("A000000306") + b"\x03"  # PC/SC RID, ISO 14443 A part 3
            body = bytes([0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C]) + rid_ss + name + bytes(4)
        return b"\x3b" + body + bytes([_xor(body)])

    def apdu(self, c: bytes) -> bytes:
        """One command APDU in, one response APDU out: never raises, whatever the bytes."""
        if len(c) < 4:
            return WRONG_LENGTH
        if c[0] != 0xFF:
            return self._iso_dep(c)
        ins, p1, p2 = c[1], c[2], c[3]
        data = c[5 : 5 + c[4]] if len(c) > 5 else b""
        if len(c) > 5 and len(data) != c[4]:
            return WRONG_LENGTH
        target = self.core._target
        if ins == 0xCA:
            if target is None:
                return FAILED
            if p1 == 0x00:
                return target.uid + OK
            if p1 == 0x01 and target.ats:
                return self._atr()[4:-1] + OK
            return UNSUPPORTED
        if ins == 0x82:
            if p1 != 0x00 or p2 > 1 or len(data) != 6:
                return FAILED
            self._keys[p2] = bytes(data)
            return OK
        if ins == 0x86:
            if len(data) != 5 or data[:2] != b"\x01\x00" or data[3] not in (0x60, 0x61):
                return FAILED
            key = self._keys.get(data[4])
            if key is None or target is None:
                return FAILED
            block, kind = data[2], data[3]
            return self._exchange(bytes([kind, block]) + key + target.uid[-4:], 0)
        if ins == 0xB0:
            le = c[4] if len(c) == 5 else 16
            if p1 != 0x00 or le not in (0, 4, 16):
                return FAILED
            answer = self._exchange(bytes([0x30, p2]), 16)
            return answer if answer == FAILED else answer[: (le or 16)] + OK
        if ins == 0xD6:
            if p1 != 0x00 or target is None or len(data) not in (4, 16):
                return FAILED
            if len(data) == 16 and target.sak & 0x18:
                return self._exchange(bytes([0xA0, p2]) + data, 0)
            if len(data) == 4 and not target.sak & 0x38:
                return self._exchange(bytes([0xA2, p2]) + data, 0)
            return FAILED
        if ins == 0x00 and p1 == 0x48:
            return FIRMWARE
        if ins == 0x00 and p1 == 0x00 and len(data) >= 2 and data[0] == 0xD4:
            try:
                result = self.core.execute(data[1], data[2:])
            except (SyntaxFault, KeyError):
                return FAILED
            return bytes([0xD5, data[1] + 1]) + (result or b"") + OK
        return UNSUPPORTED

    def _exchange(self, frame: bytes, size: int) -> bytes:
        """InDataExchange to the selected card; FAILED unless status 00 and `size` data bytes."""
        result = self.core.execute(0x40, b"\x01" + frame) or b"\xff"
        if result[0] != 0x00 or len(result) - 1 != size:
            return FAILED
        return result[1:] + (b"" if size else OK)

    def _iso_dep(self, c: bytes) -> bytes:
        target = self.core._target
        if target is None or not target.sak & 0x20:
            return UNSUPPORTED
        result = self.core.execute(0x40, b"\x01" + c) or b"\xff"
        if result[0] != 0x00 or len(result) < 3:
            return FAILED
        return result[1:]


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise ConnectionError("vpcd closed the connection")
        data += part
    return data


def _xor(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x
