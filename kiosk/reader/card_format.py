"""The membership card's on-card format: values, typed errors, and pure codecs of the bytes.

A card is a signed hint; the ledger is the record. Everything here is pure (no reader): the
parsers take the bytes a card gave and raise only CardFormatError, so they can be fuzzed.

Identity record, 48 bytes (MIFARE Classic sector 1 blocks 4-6; NTAG21x pages 4-15):
    0  "KM"  magic           2  version (1)       3  kind: 1 Classic, 2 NTAG21x
    4  card_seq (u16 BE)     6  issued_on (u16 BE, days since 2000-01-01)
    8  member id length      9  member id (UTF-8, up to 31 bytes, zero padded)
    40 MAC: AES-CMAC(mac key, "KM-ID" || UID || bytes 0..39), first 8 bytes
Purse slot, 32 bytes (Classic sector 2 blocks 8-9 = slot 0, sector 3 blocks 12-13 = slot 1):
    0  "KP"  magic           2  version (1)       3  zero
    4  counter (u32 BE)      8  balance fen (i32 BE)   12 points (u32 BE)
    16 last device tag (u32 BE)   20 zero (4)
    24 MAC: AES-CMAC(mac key, "KM-PU" || UID || identity bytes 0..39 || bytes 0..23), 8 bytes
The two slots are written alternately, the newer counter in the one not holding the newest
valid state, so a torn write can only spoil the slot being written: the reader takes the
valid slot with the highest counter and always finds the old state or the new one."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.hazmat.primitives import constant_time

from kiosk.ledger.card_rule import REPORTED, Refusal, Verdict, judge_record  # noqa: F401 - the card layer's answers
from kiosk.reader.keys import CardKeys, cmac

VERSION = 1
ID_MAGIC = b"KM"
PURSE_MAGIC = b"KP"
KIND_CLASSIC = 1
KIND_NTAG = 2
IDENTITY_SIZE = 48
SLOT_SIZE = 32
MAC_SIZE = 8
MEMBER_ID_MAX = 31
EPOCH = date(2000, 1, 1)


class CardFormatError(Exception):
    """The card's bytes are not a valid membership card; the message never holds key material."""


class CardNotRecognised(CardFormatError):
    """Not one of ours: a bank or transit card, a foreign tag, garbage."""


class CardBlank(CardNotRecognised):
    """A blank card still in its transport state: one that sign-up may issue."""


class CardMacError(CardFormatError):
    """Ours by the look of it, but a MAC, PACK or originality signature does not check: forged,
    tampered with or cloned. Report it to HQ."""


class CardVersionError(CardFormatError):
    """A format version this kiosk does not know (a newer kiosk wrote it)."""


@dataclass(frozen=True)
class PurseHint:
    """What the card last saw; a hint for display and clone detection, never the balance."""

    balance_fen: int
    points: int
    counter: int
    last_device: int  # device_tag() of the kiosk that wrote it


@dataclass(frozen=True)
class MemberCard:
    member_id: str
    card_seq: int
    issued_on: date
    purse: PurseHint | None  # None on NTAG cards, which carry no purse
    uid: bytes = b""
    tap_counter: int | None = None  # NTAG: the chip's NFC counter; None if it could not be read

    @property
    def card_counter(self) -> int | None:
        """The card's rising counter, the one clone and replay checks compare: the purse
        counter on Classic, the tap counter on NTAG (None when the card shows neither)."""
        return self.purse.counter if self.purse is not None else self.tap_counter


def device_tag(device_id: str) -> int:
    """The 32-bit tag a purse slot keeps for the device that wrote it (CRC-32 of its id)."""
    return zlib.crc32(device_id.encode("utf-8"))


def _mac(key: bytes, label: bytes, uid: bytes, data: bytes) -> bytes:
    return cmac(key, label + uid + data)[:MAC_SIZE]


def _mac_ok(candidates: Sequence[CardKeys], label: bytes, uid: bytes, data: bytes, mac: bytes):
    return any(constant_time.bytes_eq(_mac(k.mac_key, label, uid, data), mac) for k in candidates)


# -- identity record
def encode_identity(
    keys: CardKeys, kind: int, member_id: str, card_seq: int, issued_on: date
) -> bytes:
    mid = member_id.encode("utf-8")
    if not 1 <= len(mid) <= MEMBER_ID_MAX:
        raise ValueError(f"member id must be 1 to {MEMBER_ID_MAX} bytes of UTF-8 on the card")
    if not 0 <= card_seq <= 0xFFFF:
        raise ValueError("card_seq is 0..65535")
    days = (issued_on - EPOCH).days
    if not 0 <= days <= 0xFFFF:
        raise ValueError("issue date out of range (2000..2179)")
    body = (
        ID_MAGIC
        + bytes((VERSION, kind))
        + card_seq.to_bytes(2, "big")
        + days.to_bytes(2, "big")
        + bytes((len(mid),))
        + mid.ljust(MEMBER_ID_MAX, b"\x00")
    )
    return body + _mac(keys.mac_key, b"KM-ID", keys.uid, body)


@dataclass(frozen=True)
class Identity:
    member_id: str
    card_seq: int
    issued_on: date
    kind: int
    body: bytes  # bytes 0..39, which purse MACs bind to


def decode_identity(
    uid: bytes, candidates: Sequence[CardKeys], data: bytes, verify: bool = True
) -> Identity:
    """The identity record; with verify=False its MAC is not checked (the caller then needs
    another proof, such as a purse slot whose MAC covers these bytes)."""
    if len(data) != IDENTITY_SIZE or data[0:2] != ID_MAGIC:
        raise CardNotRecognised("no membership record on this card")
    if data[2] != VERSION:
        raise CardVersionError(f"card format version {data[2]} is not supported")
    body, mac = data[:40], data[40:]
    if verify and not _mac_ok(candidates, b"KM-ID", uid, body, mac):
        raise CardMacError("membership record MAC does not check")
    kind, length = data[3], data[8]
    if kind not in (KIND_CLASSIC, KIND_NTAG) or not 1 <= length <= MEMBER_ID_MAX:
        raise CardMacError("membership record is malformed")
    if any(data[9 + length : 40]):
        raise CardMacError("membership record is malformed")
    try:
        member_id = data[9 : 9 + length].decode("utf-8")
    except UnicodeDecodeError:
        raise CardMacError("membership record is malformed") from None
    return Identity(
        member_id=member_id,
        card_seq=int.from_bytes(data[4:6], "big"),
        issued_on=EPOCH + timedelta(days=int.from_bytes(data[6:8], "big")),
        kind=kind,
        body=bytes(body),
    )


# -- purse slots
def encode_slot(keys: CardKeys, identity_body: bytes, purse: PurseHint) -> bytes:
    if not 0 <= purse.counter <= 0xFFFFFFFF:
        raise ValueError("purse counter is a u32")
    if not -(2**31) <= purse.balance_fen < 2**31:
        raise ValueError("balance hint is an i32 of fen")
    if not 0 <= purse.points <= 0xFFFFFFFF or not 0 <= purse.last_device <= 0xFFFFFFFF:
        raise ValueError("points and device tag are u32")
    body = (
        PURSE_MAGIC
        + bytes((VERSION, 0))
        + purse.counter.to_bytes(4, "big")
        + purse.balance_fen.to_bytes(4, "big", signed=True)
        + purse.points.to_bytes(4, "big")
        + purse.last_device.to_bytes(4, "big")
        + bytes(4)
    )
    return body + _mac(keys.mac_key, b"KM-PU", keys.uid, identity_body + body)


def decode_slot(
    uid: bytes, candidates: Sequence[CardKeys], identity_body: bytes, data: bytes
) -> PurseHint | None:
    """The slot's purse, or None when it does not check (never written, torn, or tampered)."""
    if len(data) != SLOT_SIZE or data[0:2] != PURSE_MAGIC or data[2] != VERSION:
        return None
    body, mac = data[:24], data[24:]
    if not _mac_ok(candidates, b"KM-PU", uid, identity_body + body, mac):
        return None
    return PurseHint(
        counter=int.from_bytes(body[4:8], "big"),
        balance_fen=int.from_bytes(body[8:12], "big", signed=True),
        points=int.from_bytes(body[12:16], "big"),
        last_device=int.from_bytes(body[16:20], "big"),
    )


def newest_slot(slots: Sequence[PurseHint | None]) -> int | None:
    """Index of the valid slot with the highest counter (slot 0 on a tie), None if none."""
    best: int | None = None
    for i, slot in enumerate(slots):
        if slot is not None and (best is None or slot.counter > slots[best].counter):  # type: ignore[union-attr]
            best = i
    return best


@dataclass(frozen=True)
class ClassicParts:
    identity: Identity
    slots: tuple[PurseHint | None, PurseHint | None]
    newest: int  # index of the slot holding the current state


def parse_classic_parts(uid: bytes, candidates: Sequence[CardKeys], image: bytes) -> ClassicParts:
    """Identity (48) || slot 0 (32) || slot 1 (32), checked. A valid slot's MAC also covers the
    identity bytes, so an identity whose own MAC was spoilt (a rekey torn in that block) is
    still proven by a slot; with no valid slot the card is refused. Raises only
    CardFormatError."""
    if len(image) != IDENTITY_SIZE + 2 * SLOT_SIZE:
        raise CardNotRecognised("application image has the wrong size")
    head = image[:IDENTITY_SIZE]
    try:
        ident = decode_identity(uid, candidates, head)
        proven = True
    except CardMacError:
        ident = decode_identity(uid, candidates, head, verify=False)
        proven = False
    if ident.kind != KIND_CLASSIC:
        raise CardMacError("record kind does not match the chip")
    slot_bytes = [image[IDENTITY_SIZE + i * SLOT_SIZE :][:SLOT_SIZE] for i in range(2)]
    slots = (
        decode_slot(uid, candidates, ident.body, slot_bytes[0]),
        decode_slot(uid, candidates, ident.body, slot_bytes[1]),
    )
    best = newest_slot(slots)
    if best is None:
        why = "neither purse slot checks" if proven else "membership record MAC does not check"
        raise CardMacError(why)
    return ClassicParts(ident, slots, best)


def parse_classic_image(uid: bytes, candidates: Sequence[CardKeys], image: bytes) -> MemberCard:
    """A Classic card from its application bytes. Raises only CardFormatError."""
    parts = parse_classic_parts(uid, candidates, image)
    ident = parts.identity
    purse = parts.slots[parts.newest]
    return MemberCard(ident.member_id, ident.card_seq, ident.issued_on, purse, bytes(uid))


def parse_ntag_token(uid: bytes, candidates: Sequence[CardKeys], token: bytes) -> MemberCard:
    """An NTAG21x card from its 48-byte token. Raises only CardFormatError."""
    ident = decode_identity(uid, candidates, token)
    if ident.kind != KIND_NTAG:
        raise CardMacError("record kind does not match the chip")
    return MemberCard(ident.member_id, ident.card_seq, ident.issued_on, None, bytes(uid))


# -- clone and replay
# A card shows a counter that only rises, and the ledger keeps the highest one it has seen per
# card; a lower one is an older copy (a clone, or a replayed image). Classic: the purse counter,
# which a kiosk raises by rewriting the hint after every move of money or points. NTAG21x: the
# chip's own NFC counter, which rises by one at every tap and cannot be set back; nothing is
# written, the ledger learns it from the txns made at a tap. A copy taken at tap n shows n+1 at
# its first use, so it is refused once the genuine card has made a txn at tap n+2 or later.
# Either way the first to show the higher counter wins: a copy used first (or a chip that
# lies about its counter) gets the genuine card refused instead, reported the same way.
def judge(
    read: MemberCard | CardFormatError,
    last_counter: int | None = None,
    current_card_seq: int | None = None,
    member_id: str | None = None,
) -> Verdict:
    """Accept or refuse what a tap read, given the ledger's view of that card: the highest
    counter it has seen (purse or tap counter), the member's current card_seq, and the member
    it maps the UID to (any of them None when unknown)."""
    if isinstance(read, CardMacError):
        return Verdict(False, Refusal.MAC_FAILED, str(read))
    if isinstance(read, CardVersionError):
        return Verdict(False, Refusal.UNSUPPORTED_VERSION, str(read))
    if isinstance(read, CardFormatError):
        return Verdict(False, Refusal.NOT_RECOGNISED, str(read))
    return judge_record(
        read.member_id, read.card_seq, read.card_counter, last_counter, current_card_seq, member_id
    )
