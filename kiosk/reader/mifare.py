"""MIFARE Classic memory layout, access bits and value blocks, per NXP MF1S50yyX/V1 (rev 3.2) §8.

Shared by the chip model (which enforces the rules) and the card format (which writes trailers), so
the two cannot disagree. Access conditions are (C1, C2, C3) tuples of 0/1 for block 0, 1, 2 and the
trailer (index 3) of a sector; in a 4K card's 16-block sectors condition 0 covers blocks 0-4,
1 covers 5-9 and 2 covers 10-14."""

from __future__ import annotations

from dataclasses import dataclass

Cond = tuple[int, int, int]

TRANSPORT_KEY = bytes.fromhex("FFFFFFFFFFFF")
TRANSPORT_ACCESS = bytes.fromhex("FF0780")  # data blocks 000, trailer 001
DEFAULT_GPB = 0x69
BLOCK_SIZE = 16


class AccessBitsError(ValueError):
    """The three access bytes are not a valid (bit, inverted bit) encoding."""


def sector_count(blocks: int) -> int:
    return 16 if blocks == 64 else 40


def sector_of(block: int) -> int:
    return block // 4 if block < 128 else 32 + (block - 128) // 16


def first_block(sector: int) -> int:
    return sector * 4 if sector < 32 else 128 + (sector - 32) * 16


def blocks_in_sector(sector: int) -> int:
    return 4 if sector < 32 else 16


def trailer_block(sector: int) -> int:
    return first_block(sector) + blocks_in_sector(sector) - 1


def is_trailer(block: int) -> bool:
    return block == trailer_block(sector_of(block))


def condition_index(block: int) -> int:
    """Which of the four access conditions of its sector governs `block`."""
    sector = sector_of(block)
    offset = block - first_block(sector)
    if sector < 32:
        return offset
    return 3 if offset == 15 else offset // 5


def encode_access_bits(conds: tuple[Cond, Cond, Cond, Cond]) -> bytes:
    """Bytes 6..8 of a sector trailer for the four (C1, C2, C3) conditions."""
    c1 = c2 = c3 = 0
    for i, (b1, b2, b3) in enumerate(conds):
        c1 |= (b1 & 1) << i
        c2 |= (b2 & 1) << i
        c3 |= (b3 & 1) << i
    byte6 = ((~c2 & 0xF) << 4) | (~c1 & 0xF)
    byte7 = (c1 << 4) | (~c3 & 0xF)
    byte8 = (c3 << 4) | c2
    return bytes((byte6, byte7, byte8))


def decode_access_bits(data: bytes) -> tuple[Cond, Cond, Cond, Cond]:
    """Inverse of encode_access_bits; a malformed encoding raises AccessBitsError (a real card
    that meets one blocks the whole sector for good)."""
    if len(data) != 3:
        raise AccessBitsError("access bits are three bytes")
    b6, b7, b8 = data
    c1, c2, c3 = b7 >> 4, b8 & 0xF, b8 >> 4
    if (b6 & 0xF) != (~c1 & 0xF) or (b6 >> 4) != (~c2 & 0xF) or (b7 & 0xF) != (~c3 & 0xF):
        raise AccessBitsError(f"inverted access bits do not match: {data.hex()}")
    conds = tuple(((c1 >> i) & 1, (c2 >> i) & 1, (c3 >> i) & 1) for i in range(4))
    return conds  # type: ignore[return-value]


def trailer(key_a: bytes, access: bytes, key_b: bytes, gpb: int = DEFAULT_GPB) -> bytes:
    if len(key_a) != 6 or len(key_b) != 6 or len(access) != 3:
        raise ValueError("keys are 6 bytes, access bits 3")
    return key_a + access + bytes((gpb,)) + key_b


TRANSPORT_TRAILER = trailer(TRANSPORT_KEY, TRANSPORT_ACCESS, TRANSPORT_KEY)


# Who may do what, as sets of key types ("A", "B"); from MF1S50 tables 7 and 8.
@dataclass(frozen=True)
class DataRights:
    read: frozenset[str]
    write: frozenset[str]
    increment: frozenset[str]
    decrement: frozenset[str]  # also transfer and restore


@dataclass(frozen=True)
class TrailerRights:
    write_key_a: frozenset[str]
    read_access: frozenset[str]
    write_access: frozenset[str]
    read_key_b: frozenset[str]
    write_key_b: frozenset[str]


_AB, _A, _B, _NO = frozenset("AB"), frozenset("A"), frozenset("B"), frozenset()

DATA_RIGHTS: dict[Cond, DataRights] = {
    (0, 0, 0): DataRights(_AB, _AB, _AB, _AB),
    (0, 1, 0): DataRights(_AB, _NO, _NO, _NO),
    (1, 0, 0): DataRights(_AB, _B, _NO, _NO),
    (1, 1, 0): DataRights(_AB, _B, _B, _AB),
    (0, 0, 1): DataRights(_AB, _NO, _NO, _AB),
    (0, 1, 1): DataRights(_B, _B, _NO, _NO),
    (1, 0, 1): DataRights(_B, _NO, _NO, _NO),
    (1, 1, 1): DataRights(_NO, _NO, _NO, _NO),
}

TRAILER_RIGHTS: dict[Cond, TrailerRights] = {
    (0, 0, 0): TrailerRights(_A, _A, _NO, _A, _A),
    (0, 1, 0): TrailerRights(_NO, _A, _NO, _A, _NO),
    (1, 0, 0): TrailerRights(_B, _AB, _NO, _NO, _B),
    (1, 1, 0): TrailerRights(_NO, _AB, _NO, _NO, _NO),
    (0, 0, 1): TrailerRights(_A, _A, _A, _A, _A),
    (0, 1, 1): TrailerRights(_B, _AB, _B, _NO, _B),
    (1, 0, 1): TrailerRights(_NO, _AB, _B, _NO, _NO),
    (1, 1, 1): TrailerRights(_NO, _AB, _NO, _NO, _NO),
}


def key_b_readable(trailer_cond: Cond) -> bool:
    """If key B can be read it is data, not a key: the card refuses access after a key B auth."""
    return bool(TRAILER_RIGHTS[trailer_cond].read_key_b)


def encode_value(value: int, address: int) -> bytes:
    """A value block: value, ~value, value (signed 32-bit LE), addr, ~addr, addr, ~addr."""
    if not -(2**31) <= value < 2**31 or not 0 <= address <= 255:
        raise ValueError("value is a signed 32-bit integer, address one byte")
    v = (value & 0xFFFFFFFF).to_bytes(4, "little")
    inv = bytes(b ^ 0xFF for b in v)
    return v + inv + v + bytes((address, address ^ 0xFF, address, address ^ 0xFF))


def decode_value(block: bytes) -> tuple[int, int]:
    """(value, address) of a value block; ValueError if the redundant copies disagree."""
    if len(block) != 16:
        raise ValueError("a block is 16 bytes")
    v, inv, v2 = block[0:4], block[4:8], block[8:12]
    a = block[12:16]
    if v != v2 or bytes(b ^ 0xFF for b in inv) != v:
        raise ValueError("not a value block")
    if a[0] != a[2] or a[1] != a[3] or a[0] ^ 0xFF != a[1]:
        raise ValueError("not a value block (address bytes)")
    return int.from_bytes(v, "little", signed=True), a[0]
