"""Membership cards on MIFARE Classic, over the Reader interface: read, issue, purse update,
rekey and wipe. Layout and codecs are in card_format.

Sectors 1 (identity, blocks 4-6), 2 (purse slot 0, blocks 8-9) and 3 (purse slot 1, blocks
12-13). Their trailers hold the card's diversified key A (read only) and key B (read/write):
data blocks 100, trailer 011 (MF1S50 tables 7-8). Issue writes the purse slots before the
identity, so a card pulled mid-issue reads as blank or foreign, never as a half member; the
issue can simply be run again. A trailer torn mid-write can corrupt its access bits, which
blocks the sector for good on a real chip: such a card fails issue with CardFormatError and
must be discarded. Purse updates never touch a trailer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardInfo, KeyType, NotSupported, Reader
from kiosk.reader.card_format import (
    KIND_CLASSIC,
    CardBlank,
    CardFormatError,
    CardMacError,
    CardNotRecognised,
    MemberCard,
    PurseHint,
    encode_identity,
    encode_slot,
    parse_classic_image,
    parse_classic_parts,
)
from kiosk.reader.keys import CardKeys

IDENTITY_SECTOR = 1
SLOT_SECTORS = (2, 3)
APP_SECTORS = (IDENTITY_SECTOR, *SLOT_SECTORS)
APP_ACCESS = mifare.encode_access_bits(((1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 1)))
_FF = mifare.TRANSPORT_KEY


def _blocks(sector: int, count: int) -> list[int]:
    first = mifare.first_block(sector)
    return [first + i for i in range(count)]


def _auth_any(
    reader: Reader, sector: int, key_type: KeyType, keys: Sequence[bytes]
) -> bytes | None:
    """Authenticate with the first key that works; None if none does."""
    block = mifare.trailer_block(sector)
    for key in keys:
        try:
            reader.mifare_auth(block, key_type, key)
            return key
        except AuthFailed:
            continue
    return None


def _read_sector(reader: Reader, sector: int, count: int) -> bytes:
    return b"".join(reader.mifare_read(b) for b in _blocks(sector, count))


def read_image(reader: Reader, candidates: Sequence[CardKeys]) -> bytes:
    """Identity || slot 0 || slot 1 as on the card, authenticating with key A. Raises
    CardNotRecognised (or CardBlank) when our keys do not open the identity sector."""
    keys_a = [k.key_a for k in candidates]
    if _auth_any(reader, IDENTITY_SECTOR, KeyType.A, keys_a) is None:
        if _auth_any(reader, IDENTITY_SECTOR, KeyType.A, [_FF]) is not None:
            raise CardBlank("blank MIFARE Classic card")
        raise CardNotRecognised("MIFARE Classic card with keys that are not ours")
    try:
        image = _read_sector(reader, IDENTITY_SECTOR, 3)
        for sector in SLOT_SECTORS:
            if _auth_any(reader, sector, KeyType.A, keys_a) is None:
                raise CardMacError(f"sector {sector} does not open with this card's keys")
            image += _read_sector(reader, sector, 2)
    except AuthFailed:
        raise CardMacError("application sector refuses its own key") from None
    return image


def read(reader: Reader, info: CardInfo, candidates: Sequence[CardKeys]) -> MemberCard:
    return parse_classic_image(info.uid, candidates, read_image(reader, candidates))


def update_purse(
    reader: Reader,
    info: CardInfo,
    keys: CardKeys,
    balance_fen: int,
    points: int,
    last_device: int,
    candidates: Sequence[CardKeys] = (),
) -> PurseHint:
    """Write the new hint into the slot that does not hold the newest valid state, with the
    counter one above it. Two block writes; a tear at any byte leaves old or new."""
    parts = parse_classic_parts(
        info.uid, [keys, *candidates], read_image(reader, [keys, *candidates])
    )
    current = parts.slots[parts.newest]
    assert current is not None
    new = PurseHint(balance_fen, points, current.counter + 1, last_device)
    target = 1 - parts.newest
    data = encode_slot(keys, parts.identity.body, new)
    sector = SLOT_SECTORS[target]
    if _auth_any(reader, sector, KeyType.B, [keys.key_b]) is None:
        raise CardMacError(f"sector {sector} refuses this card's key B")
    first = mifare.first_block(sector)
    reader.mifare_write(first, data[:16])
    reader.mifare_write(first + 1, data[16:])
    return new


def _open_for_writing(
    reader: Reader, sector: int, key_bs: Sequence[bytes]
) -> tuple[str, bytes] | None:
    """Authenticate to write a sector: with one of `key_bs` (already ours) or, failing
    that, with the transport key A (blank)."""
    key = _auth_any(reader, sector, KeyType.B, key_bs)
    if key is not None:
        return "ours", key
    if _auth_any(reader, sector, KeyType.A, [_FF]) is not None:
        return "transport", _FF
    return None


def _write_sector(
    reader: Reader, sector: int, data: bytes, new_trailer: bytes, key_bs: Sequence[bytes]
) -> None:
    """Write the sector's data blocks, then its trailer."""
    opened = _open_for_writing(reader, sector, key_bs)
    if opened is None:
        raise CardNotRecognised(f"sector {sector} opens with neither our keys nor transport keys")
    data = data.ljust(3 * 16, b"\x00")
    for i, block in enumerate(_blocks(sector, 3)):
        reader.mifare_write(block, data[16 * i : 16 * i + 16])
    reader.mifare_write(mifare.trailer_block(sector), new_trailer)


def issue(
    reader: Reader,
    info: CardInfo,
    keys: CardKeys,
    member_id: str,
    card_seq: int,
    issued_on: date,
    purse: PurseHint,
    replacing: str = "",
) -> MemberCard:
    """Personalise a blank card (or finish an interrupted issue of this same card). A card that
    carries `replacing` (a pre-issued card's reserved member id) first gets its identity sector's
    transport keys back, one write after which it reads as blank: a pull at any point leaves it
    reading as the pre-issued card or as a blank one, and this runs again."""
    try:
        existing: MemberCard | None = read(reader, info, [keys])
    except CardFormatError:
        existing = None
    if existing is not None and replacing and existing.member_id == replacing:
        if _open_for_writing(reader, IDENTITY_SECTOR, [keys.key_b]) is None:
            raise CardNotRecognised(f"sector {IDENTITY_SECTOR} refuses this card's own key")
        try:
            reader.mifare_write(mifare.trailer_block(IDENTITY_SECTOR), mifare.TRANSPORT_TRAILER)
        except AuthFailed:
            raise CardFormatError("card refused a write during issue") from None
        existing = None
    if existing is not None:
        if (existing.member_id, existing.card_seq) == (member_id, card_seq):
            return existing  # an earlier attempt finished but its answer was lost
        raise CardFormatError(f"card already issued to a member (card #{existing.card_seq})")
    identity = encode_identity(keys, KIND_CLASSIC, member_id, card_seq, issued_on)
    trailer = mifare.trailer(keys.key_a, APP_ACCESS, keys.key_b)
    try:
        for sector in SLOT_SECTORS:
            _write_sector(
                reader, sector, encode_slot(keys, identity[:40], purse), trailer, [keys.key_b]
            )
        _write_sector(reader, IDENTITY_SECTOR, identity, trailer, [keys.key_b])
    except AuthFailed:
        raise CardFormatError("card refused a write during issue: discard it") from None
    return read(reader, info, [keys])


def rekey(reader: Reader, info: CardInfo, old: CardKeys, new: CardKeys) -> MemberCard:
    """Move a card from `old` keys to `new`: re-MAC every record, change every trailer.
    The older purse slot is rewritten first (the current state, counter + 1), then the other,
    then the identity, whose torn MAC a valid slot still proves; so a pull at any data write
    reads as the current state and rekey can simply be run again. A trailer torn mid-write may
    block its sector for good (see the module notes)."""
    candidates = [new, old]
    parts = parse_classic_parts(info.uid, candidates, read_image(reader, candidates))
    ident = parts.identity
    current = parts.slots[parts.newest]
    assert current is not None
    bumped = PurseHint(
        current.balance_fen, current.points, current.counter + 1, current.last_device
    )
    identity = encode_identity(new, KIND_CLASSIC, ident.member_id, ident.card_seq, ident.issued_on)
    trailer = mifare.trailer(new.key_a, APP_ACCESS, new.key_b)
    key_bs = [new.key_b, old.key_b]
    try:
        for index in (1 - parts.newest, parts.newest):
            data = encode_slot(new, identity[:40], bumped)
            _write_sector(reader, SLOT_SECTORS[index], data, trailer, key_bs)
        _write_sector(reader, IDENTITY_SECTOR, identity, trailer, key_bs)
    except AuthFailed:
        raise CardFormatError("card refused a write during rekey") from None
    return read(reader, info, [new])


def wipe(reader: Reader, info: CardInfo, candidates: Sequence[CardKeys]) -> None:
    """Back to transport state (zeros, keys FFFFFFFFFFFF, access FF0780): identity first, so a
    pulled card stops reading as a member at once. Resumable."""
    key_bs = [k.key_b for k in candidates]
    try:
        for sector in APP_SECTORS:
            _write_sector(reader, sector, b"", mifare.TRANSPORT_TRAILER, key_bs)
    except (AuthFailed, NotSupported):
        raise CardFormatError("card refused a write during wipe") from None
