"""NTAG 424 DNA recogniser model (NXP NT4H2421Gx): ISO 14443-4 identity (ATQA 0344, SAK 20,
ATS) and a few APDUs so a reader can tell it apart: ISO SELECT of the NDEF application and file,
ISO READ BINARY of the NDEF file, and the native GetVersion (90 60 ...). When `sun` is set,
the NDEF file holds a SUN URL in the AN12196 layout (encrypted PICC data + truncated CMAC),
rebuilt with a rising read counter each time the card is activated."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.reader.base import CardType
from kiosk.reader.chips.common import Chip

NDEF_AID = bytes.fromhex("D2760000850101")
NDEF_FILE = bytes.fromhex("E104")
CC_FILE = bytes.fromhex("E103")
OK = b"\x90\x00"
VERSION_FRAMES = (
    bytes.fromhex("0404023000110591AF"),
    bytes.fromhex("0404020100110591AF"),
)


class Ntag424(Chip):
    """`apdu(command) -> response` with the status word at the end, as ISO-DEP carries it.
    `sun`, if given, is called with (uid, counter) and returns the NDEF file's bytes."""

    card_type = CardType.NTAG424_DNA

    def __init__(
        self,
        uid: bytes,
        ndef: bytes = b"\x00\x00",
        sun: Callable[[bytes, int], bytes] | None = None,
    ) -> None:
        if len(uid) != 7:
            raise ValueError("NTAG 424 DNA has a 7-byte UID")
        super().__init__(uid, b"\x44\x03", 0x20, bytes.fromhex("067777710280"))
        self.ndef = ndef
        self.sun = sun
        self.read_counter = 0
        self._app = False
        self._file: bytes | None = None
        self._version_step = 0
        self._counted = False

    def _reset_session(self) -> None:
        self._app = False
        self._file = None
        self._version_step = 0

    def place(self) -> None:
        super().place()
        self._counted = False

    def _ndef_bytes(self) -> bytes:
        if self.sun is None:
            return self.ndef
        if not self._counted:
            self._counted = True
            self.read_counter += 1
        return self.sun(self.uid, self.read_counter)

    def apdu(self, command: bytes) -> bytes:
        self._begin()
        answer = self._dispatch(bytes(command))
        self._end()
        return answer

    def _dispatch(self, c: bytes) -> bytes:
        if len(c) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = c[0:4]
        body = c[5 : 5 + c[4]] if len(c) > 5 else b""
        if cla == 0x90 and ins == 0x60:
            self._version_step = 1
            return VERSION_FRAMES[0]
        if cla == 0x90 and ins == 0xAF and self._version_step:
            step, self._version_step = self._version_step, (self._version_step + 1) % 3
            if step == 1:
                return VERSION_FRAMES[1]
            return self.uid + bytes.fromhex("BA0000000000000000") + b"\x91\x00"
        self._version_step = 0
        if cla == 0x00 and ins == 0xA4:
            if p1 == 0x04 and body == NDEF_AID:
                self._app, self._file = True, None
                return OK
            if p1 == 0x00 and self._app and body in (NDEF_FILE, CC_FILE):
                self._file = body
                return OK
            return b"\x6a\x82"
        if cla == 0x00 and ins == 0xB0:
            if self._file is None:
                return b"\x69\x86"
            data = self._ndef_bytes() if self._file == NDEF_FILE else self._cc()
            offset = p1 << 8 | p2
            length = c[4] if len(c) == 5 and c[4] else 256
            return data[offset : offset + length] + OK
        if cla == 0x90:
            return b"\x91\x1c"
        return b"\x6d\x00"

    @staticmethod
    def _cc() -> bytes:
        return bytes.fromhex("001720010000FF0406E104010000000506E10500808283")

    def to_dict(self) -> dict:
        return {
            "chip": "ntag424",
            "uid": self.uid.hex(),
            "ndef": self.ndef.hex(),
            "read_counter": self.read_counter,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Ntag424:
        card = cls(bytes.fromhex(d["uid"]), bytes.fromhex(d.get("ndef", "0000")))
        card.read_counter = int(d.get("read_counter", 0))
        return card
