"""MIFARE Classic 1K / 4K model with the semantics of NXP MF1S50 / MF1S70: keys, access bits,
one authenticated sector at a time, value blocks with a transfer buffer. Crypto1 itself is not
modelled: the model sits above the cipher, where every reader hands over plain commands."""

from __future__ import annotations

from kiosk.reader import mifare
from kiosk.reader.base import CardType, KeyType
from kiosk.reader.chips.common import Chip, ChipAuthError, ChipSilent, iso14443a_bcc

NAK_NOT_ALLOWED = 0x4
NAK_INVALID = 0x0


class MifareClassic(Chip):
    """A MIFARE Classic card. Blocks are 16 bytes; 1K has 64 blocks, 4K 256.

    Fresh cards hold zeros, a manufacturer block 0, and transport trailers (keys FFFFFFFFFFFF,
    access bits FF0780, GPB 69). A trailer whose access bits are written malformed blocks its
    sector for good, as on the real chip."""

    def __init__(self, uid: bytes, four_k: bool = False, memory: bytes | None = None) -> None:
        seven = len(uid) == 7
        atqa = bytes(((0x02 if four_k else 0x04) | (0x40 if seven else 0), 0x00))
        super().__init__(uid, atqa, 0x18 if four_k else 0x08)
        self.card_type = CardType.MIFARE_CLASSIC_4K if four_k else CardType.MIFARE_CLASSIC_1K
        self.blocks = 256 if four_k else 64
        if memory is not None:
            if len(memory) != self.blocks * 16:
                raise ValueError("memory image has the wrong size")
            self.memory = bytearray(memory)
        else:
            self.memory = bytearray(self.blocks * 16)
            self.memory[0:16] = self._manufacturer_block()
            for s in range(mifare.sector_count(self.blocks)):
                t = mifare.trailer_block(s)
                self.memory[t * 16 : t * 16 + 16] = mifare.TRANSPORT_TRAILER
        self.blocked_sectors: set[int] = set()
        self._auth: tuple[int, str] | None = None  # (sector, key type)
        self._transfer: int | None = None

    def _manufacturer_block(self) -> bytes:
        if len(self.uid) == 4:
            head = self.uid + bytes((iso14443a_bcc(self.uid), self.sak)) + self.atqa
        else:
            head = self.uid + bytes((self.sak,)) + self.atqa
        return (head + b"\x62\x63\x64\x65\x66\x67\x68\x69")[:16].ljust(16, b"\x00")

    def _reset_session(self) -> None:
        self._auth = None
        self._transfer = None

    # -- memory helpers
    def _block(self, block: int) -> bytes:
        return bytes(self.memory[block * 16 : block * 16 + 16])

    def _conds(self, sector: int) -> tuple[mifare.Cond, ...]:
        t = self._block(mifare.trailer_block(sector))
        return mifare.decode_access_bits(t[6:9])

    def _check_block(self, block: int) -> None:
        if not 0 <= block < self.blocks:
            raise self._nak(NAK_INVALID, f"block {block} out of range")

    def _session(self, block: int) -> tuple[str, mifare.Cond, mifare.Cond]:
        """(key type, block's condition, trailer condition) of the authenticated session that
        covers `block`; NAK if there is none."""
        self._check_block(block)
        sector = mifare.sector_of(block)
        if self._auth is None or self._auth[0] != sector:
            raise self._nak(NAK_NOT_ALLOWED, f"not authenticated for sector {sector}")
        conds = self._conds(sector)
        key = self._auth[1]
        trailer_cond = conds[3]
        if key == "B" and mifare.key_b_readable(trailer_cond):
            raise self._nak(NAK_NOT_ALLOWED, "key B is readable here, so it grants nothing")
        return key, conds[mifare.condition_index(block)], trailer_cond

    def _data_rights(self, block: int) -> tuple[str, mifare.DataRights]:
        if mifare.is_trailer(block):
            raise self._nak(NAK_NOT_ALLOWED, "sector trailer is not a data block")
        key, cond, _ = self._session(block)
        return key, mifare.DATA_RIGHTS[cond]

    # -- commands
    def authenticate(self, block: int, key_type: KeyType | str, key: bytes) -> None:
        """Three-pass authentication for the sector of `block`; a wrong key mutes the card."""
        self._begin()
        self._check_block(block)
        sector = mifare.sector_of(block)
        kt = str(key_type)
        t = self._block(mifare.trailer_block(sector))
        stored = t[0:6] if kt == "A" else t[10:16]
        if sector in self.blocked_sectors or len(key) != 6 or bytes(key) != stored:
            self._muted = True
            self._reset_session()
            raise ChipAuthError(f"authentication with key {kt} failed for sector {sector}")
        self._auth = (sector, kt)
        self._transfer = None
        self._end()

    def read_block(self, block: int) -> bytes:
        self._begin()
        self._check_block(block)
        if mifare.is_trailer(block):
            data = self._read_trailer(block)
        else:
            key, rights = self._data_rights(block)
            if key not in rights.read:
                raise self._nak(NAK_NOT_ALLOWED, f"key {key} may not read block {block}")
            data = self._block(block)
        self._end()
        return data

    def _read_trailer(self, block: int) -> bytes:
        key, _, tc = self._session(block)
        rights = mifare.TRAILER_RIGHTS[tc]
        t = self._block(block)
        access = t[6:10] if key in rights.read_access else bytes(4)
        key_b = t[10:16] if key in rights.read_key_b else bytes(6)
        return bytes(6) + access + key_b

    def write_block(self, block: int, data: bytes) -> None:
        self._begin()
        if len(data) != 16:
            raise self._nak(NAK_INVALID, "a block write takes 16 bytes")
        self._check_block(block)
        if block == 0:
            raise self._nak(NAK_NOT_ALLOWED, "the manufacturer block is read-only")
        if mifare.is_trailer(block):
            self._write_trailer(block, bytes(data))
        else:
            key, rights = self._data_rights(block)
            if key not in rights.write:
                raise self._nak(NAK_NOT_ALLOWED, f"key {key} may not write block {block}")
            self._commit(self.memory, block * 16, bytes(data))
        self._end()

    def _write_trailer(self, block: int, data: bytes) -> None:
        """Each part (key A, access bits + GPB, key B) is written only if the session's key may;
        the parts it may not keep their old bytes. Nothing writable at all is a NAK."""
        key, _, tc = self._session(block)
        rights = mifare.TRAILER_RIGHTS[tc]
        old = self._block(block)
        new = bytearray(old)
        allowed = False
        if key in rights.write_key_a:
            new[0:6], allowed = data[0:6], True
        if key in rights.write_access:
            new[6:10], allowed = data[6:10], True
        if key in rights.write_key_b:
            new[10:16], allowed = data[10:16], True
        if not allowed:
            raise self._nak(NAK_NOT_ALLOWED, f"key {key} may not write this trailer")
        sector = mifare.sector_of(block)
        try:
            self._commit(self.memory, block * 16, bytes(new))
        finally:
            self._check_trailer_format(sector)

    def _check_trailer_format(self, sector: int) -> None:
        try:
            self._conds(sector)
        except mifare.AccessBitsError:
            self.blocked_sectors.add(sector)
            self._auth = None

    # -- value blocks
    def _value(self, block: int) -> int:
        try:
            value, _ = mifare.decode_value(self._block(block))
        except ValueError:
            raise self._nak(NAK_NOT_ALLOWED, f"block {block} is not a value block") from None
        return value

    def increment(self, block: int, delta: int) -> None:
        self._value_op(block, delta, "increment")

    def decrement(self, block: int, delta: int) -> None:
        self._value_op(block, -delta, "decrement")

    def restore(self, block: int) -> None:
        self._value_op(block, 0, "decrement")

    def _value_op(self, block: int, delta: int, right: str) -> None:
        self._begin()
        key, rights = self._data_rights(block)
        if key not in getattr(rights, right):
            raise self._nak(NAK_NOT_ALLOWED, f"key {key} may not {right} block {block}")
        if not -(2**32) < delta < 2**32:
            raise self._nak(NAK_INVALID, "operand is a signed 32-bit integer")
        value = self._value(block)
        result = value + delta
        if not -(2**31) <= result < 2**31:
            raise self._nak(NAK_NOT_ALLOWED, "value over- or underflow")
        self._transfer = result
        self._end()

    def transfer(self, block: int) -> None:
        """Write the transfer buffer into `block` as a value block (its own address byte kept)."""
        self._begin()
        key, rights = self._data_rights(block)
        if key not in rights.decrement:
            raise self._nak(NAK_NOT_ALLOWED, f"key {key} may not transfer to block {block}")
        if self._transfer is None:
            raise self._nak(NAK_NOT_ALLOWED, "nothing in the transfer buffer")
        old = self._block(block)
        address = old[12] if old[12] ^ 0xFF == old[13] else block
        self._commit(self.memory, block * 16, mifare.encode_value(self._transfer, address))
        self._end()

    # -- raw frames (what a PN532 InDataExchange or a PC/SC reader forwards)
    def command(self, frame: bytes) -> bytes:
        """MIFARE command frames as readers pass them on: 60/61 block key(6) uid(4) (auth A/B),
        30 block (read), A0 block data(16) (write), C1/C0 block value(4 LE) (increment /
        decrement), C2 block (restore), B0 block (transfer). Returns the card's data (16 bytes for
        a read, b"" otherwise); errors raise ChipError."""
        if not frame:
            raise self._nak(NAK_INVALID, "empty frame")
        op = frame[0]
        arg = frame[1] if len(frame) > 1 else -1
        if op in (0x60, 0x61) and len(frame) >= 8:
            self.authenticate(arg, KeyType.A if op == 0x60 else KeyType.B, bytes(frame[2:8]))
            return b""
        if op == 0x30 and len(frame) == 2:
            return self.read_block(arg)
        if op == 0xA0 and len(frame) == 18:
            self.write_block(arg, bytes(frame[2:18]))
            return b""
        if op in (0xC0, 0xC1) and len(frame) == 6:
            delta = int.from_bytes(frame[2:6], "little")
            (self.increment if op == 0xC1 else self.decrement)(arg, delta)
            return b""
        if op == 0xC2 and len(frame) in (2, 6):
            self.restore(arg)
            return b""
        if op == 0xB0 and len(frame) == 2:
            self.transfer(arg)
            return b""
        self._check_present()
        raise ChipSilent(f"no answer to unknown frame {bytes(frame[:2]).hex()}")

    # -- persistence
    def to_dict(self) -> dict:
        return {
            "chip": "mifare_classic",
            "uid": self.uid.hex(),
            "four_k": self.blocks == 256,
            "memory": self.memory.hex(),
            "blocked_sectors": sorted(self.blocked_sectors),
        }

    @classmethod
    def from_dict(cls, d: dict) -> MifareClassic:
        card = cls(bytes.fromhex(d["uid"]), bool(d["four_k"]), bytes.fromhex(d["memory"]))
        card.blocked_sectors = set(d.get("blocked_sectors", []))
        return card
