"""PN532 host-interface frames (NXP PN532 user manual UM0701-02, section 6.2), both directions.

    normal:    00 00 FF LEN LCS TFI PD0..PDn DCS 00       LEN = 1 + n + 1, LEN + LCS = 0 (mod 256)
    extended:  00 00 FF FF FF LENM LENL LCS TFI PD0..PDn DCS 00
    ACK:       00 00 FF 00 FF 00          NACK: 00 00 FF FF 00 00
    error:     00 00 FF 01 FF 7F 81 00    (application-level syntax error)

The parser takes a byte stream in any chunks and yields events; garbage never raises, it is
skipped up to the next start code (what the chip's own UART state machine does)."""

from __future__ import annotations

from dataclasses import dataclass, replace

ACK = bytes.fromhex("0000ff00ff00")
NACK = bytes.fromhex("0000ffff0000")
ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")
MAX_INFO = 265  # the PN532's host frame buffer: TFI + PD0..PDn
START = b"\x00\xff"


@dataclass(frozen=True)
class Command:
    """A host frame with good checksums; `info` is TFI + PD0..PDn."""

    info: bytes
    preamble: int  # bytes before the start code (a long run wakes a sleeping chip)


@dataclass(frozen=True)
class Ack:
    preamble: int


@dataclass(frozen=True)
class Nack:
    preamble: int


@dataclass(frozen=True)
class Bad:
    """A frame the chip drops without answering (checksum or length error)."""

    reason: str


Event = Command | Ack | Nack | Bad


class FrameParser:
    """Incremental parser of the host-to-chip byte stream."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._junk = 0

    def pending(self) -> int:
        return len(self._buf)

    def discard(self) -> None:
        """Forget a partial frame (the line went quiet in the middle of it)."""
        self._buf.clear()
        self._junk = 0

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        events: list[Event] = []
        while True:
            event, used = _parse_one(self._buf)
            if used == 0:
                break
            del self._buf[:used]
            if event is None:
                self._junk += used
                continue
            if isinstance(event, Command | Ack | Nack):
                event = replace(event, preamble=event.preamble + self._junk)
            self._junk = 0
            events.append(event)
        return events


def _parse_one(buf: bytearray) -> tuple[Event | None, int]:
    """Return (event, bytes consumed); consumed 0 means wait for more bytes."""
    start = buf.find(START)
    if start < 0:
        # keep a trailing 00 that may begin a start code; drop the rest
        keep = 1 if buf.endswith(b"\x00") else 0
        return None, len(buf) - keep
    pre = start
    i = start + 2
    if len(buf) < i + 2:
        return None, start  # drop junk before the start code, wait for LEN/LCS
    length, lcs = buf[i], buf[i + 1]
    if length == 0x00 and lcs == 0xFF:
        return Ack(pre), i + 2
    if length == 0xFF and lcs == 0x00:
        return Nack(pre), i + 2
    if length == 0xFF and lcs == 0xFF:
        if len(buf) < i + 5:
            return None, start
        lenm, lenl, lcs2 = buf[i + 2], buf[i + 3], buf[i + 4]
        if (lenm + lenl + lcs2) & 0xFF:
            return Bad("extended length checksum"), i
        length = lenm << 8 | lenl
        body = i + 5
    else:
        if (length + lcs) & 0xFF or length == 0:
            return Bad("length checksum"), i
        body = i + 2
    if length > MAX_INFO:
        return Bad("frame longer than the chip's buffer"), body
    if len(buf) < body + length + 1:
        return None, start
    info = bytes(buf[body : body + length])
    dcs = buf[body + length]
    if (sum(info) + dcs) & 0xFF:
        return Bad("data checksum"), body + length + 1
    return Command(info, pre), body + length + 1


def frame(info: bytes) -> bytes:
    """Wrap TFI + PD bytes in a normal or extended frame."""
    dcs = (-sum(info)) & 0xFF
    if len(info) < 256:
        head = bytes([0, 0, 0xFF, len(info), (-len(info)) & 0xFF])
    else:
        n = len(info)
        head = bytes([0, 0, 0xFF, 0xFF, 0xFF, n >> 8, n & 0xFF, (-(n >> 8) - (n & 0xFF)) & 0xFF])
    return head + info + bytes([dcs, 0])
