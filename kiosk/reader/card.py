"""Membership-card operations the session and provisioning call, whatever the chip.

Each takes the Reader, the CardInfo that wait_for_card returned, and keys: SiteKeys (derived
for the card's UID here), CardKeys, or a sequence of them (current first, then older ones while
a key rotation is under way). Errors: CardFormatError and its subclasses for anything about
the card's content (an unknown card is CardNotRecognised, never another exception), CardGone /
ReaderGone from the reader when the field itself fails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from kiosk.reader import card_classic, card_ntag
from kiosk.reader.base import AuthFailed, CardInfo, CardType, NotSupported, Reader
from kiosk.reader.card_format import (
    CardFormatError,
    CardNotRecognised,
    MemberCard,
    PurseHint,
    device_tag,
)
from kiosk.reader.keys import CardKeys, SiteKeys

KeySource = SiteKeys | CardKeys | Sequence[SiteKeys | CardKeys]
CLASSIC = (CardType.MIFARE_CLASSIC_1K, CardType.MIFARE_CLASSIC_4K)
NTAG = (CardType.NTAG213, CardType.NTAG215, CardType.NTAG216)
DEFAULT_SIGNERS = card_ntag.DEFAULT_SIGNERS


def card_keys(uid: bytes, keys: KeySource) -> list[CardKeys]:
    items = [keys] if isinstance(keys, SiteKeys | CardKeys) else list(keys)
    out = []
    for k in items:
        ck = k.for_card(uid) if isinstance(k, SiteKeys) else k
        if ck.uid != uid:
            raise ValueError("card keys belong to another UID")
        out.append(ck)
    if not out:
        raise ValueError("no keys given")
    return out


def _unsupported(info: CardInfo) -> CardNotRecognised:
    if info.type == CardType.NTAG424_DNA:
        return CardNotRecognised("NTAG 424 DNA: recognised, but not a card this system issues")
    return CardNotRecognised(f"{info.type} card: not a membership card")


def read_member_card(
    reader: Reader,
    info: CardInfo,
    keys: KeySource,
    signers: Sequence[bytes] = DEFAULT_SIGNERS,
) -> MemberCard:
    try:
        candidates = card_keys(info.uid, keys)
        if info.type in CLASSIC:
            return card_classic.read(reader, info, candidates)
        if info.type in NTAG:
            return card_ntag.read(reader, info, candidates, signers)
    except (AuthFailed, NotSupported, ValueError, IndexError) as e:
        raise CardNotRecognised(f"{info.type} card did not answer like ours ({e})") from None
    raise _unsupported(info)


def issue_card(
    reader: Reader,
    info: CardInfo,
    keys: SiteKeys | CardKeys,
    member_id: str,
    card_seq: int,
    issued_on: date,
    device_id: str = "",
    balance_fen: int = 0,
    points: int = 0,
    signers: Sequence[bytes] = DEFAULT_SIGNERS,
    replacing: str = "",
) -> MemberCard:
    """Personalise a blank card: write the record, replace transport keys, set access bits.
    Run it again after a tear to finish. Refuses a card issued to someone else, except a card
    that carries `replacing` (a pre-issued card's reserved member id): it is personalised anew."""
    (ck,) = card_keys(info.uid, keys)
    try:
        if info.type in CLASSIC:
            purse = PurseHint(balance_fen, points, 0, device_tag(device_id))
            return card_classic.issue(reader, info, ck, member_id, card_seq, issued_on, purse, replacing)
        if info.type in NTAG:
            return card_ntag.issue(reader, info, ck, member_id, card_seq, issued_on, signers, replacing)
    except (NotSupported, IndexError) as e:
        raise CardFormatError(f"cannot issue this card ({e})") from None
    raise _unsupported(info)


def update_purse(
    reader: Reader,
    info: CardInfo,
    keys: KeySource,
    balance_fen: int,
    points: int,
    device_id: str,
) -> PurseHint | None:
    """Write the new balance/points hint, tear-safe; None for cards without a purse (NTAG).
    Call it after the transaction is durable in the ledger; record the returned counter as
    the card's last seen only once this returns (a tear leaves the card at old or new)."""
    candidates = card_keys(info.uid, keys)
    if info.type not in CLASSIC:
        return None
    try:
        return card_classic.update_purse(
            reader,
            info,
            candidates[0],
            balance_fen,
            points,
            device_tag(device_id),
            candidates[1:],
        )
    except (AuthFailed, NotSupported, IndexError) as e:
        raise CardNotRecognised(f"card refused the purse update ({e})") from None


def rekey_card(
    reader: Reader,
    info: CardInfo,
    old: SiteKeys | CardKeys,
    new: SiteKeys | CardKeys,
    signers: Sequence[bytes] = DEFAULT_SIGNERS,
) -> MemberCard:
    (old_k,) = card_keys(info.uid, old)
    (new_k,) = card_keys(info.uid, new)
    if info.type in CLASSIC:
        return card_classic.rekey(reader, info, old_k, new_k)
    if info.type in NTAG:
        return card_ntag.rekey(reader, info, old_k, new_k, signers)
    raise _unsupported(info)


def wipe_card(reader: Reader, info: CardInfo, keys: KeySource) -> None:
    """A returned card back to its transport state, ready to be issued again."""
    candidates = card_keys(info.uid, keys)
    if info.type in CLASSIC:
        return card_classic.wipe(reader, info, candidates)
    if info.type in NTAG:
        return card_ntag.wipe(reader, info, candidates)
    raise _unsupported(info)
