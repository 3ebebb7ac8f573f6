"""Membership cards on NTAG213/215/216, over the Reader interface.

The 48-byte identity record (card_format) sits in pages 4-15. Issue sets the card's
diversified PWD and PACK, AUTH0 = 4 and, in the ACCESS byte, PROT (reads need the password
too), NFC_CNT_EN and NFC_CNT_PWD_PROT (the NFC counter runs and only READ_CNT after PWD_AUTH
shows it), so only a kiosk with the site key can read or change the token. The reader checks,
in this order: PWD_AUTH answers the expected PACK, the token's MAC, the NXP originality
signature when the chip offers READ_SIG (a genuine-looking token on a chip whose signature
fails is a clone), then reads the NFC counter as MemberCard.tap_counter. Foreign tags (no PWD
match) are "not recognised", never "forged", whatever their signature.

NTAG cards carry no purse hint; their rising counter is the chip's NFC counter, which it
raises itself at the first READ of every tap, so nothing is written at a tap. A card issued
before the counter was enabled reads with tap_counter None until it is rekeyed. AUTHLIM is
left 0 (no lock-out) so a stranger's failed guesses cannot make a member's card unreadable;
the password is 32 bits and guessing it takes a tag held to a reader for weeks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from kiosk.reader import originality
from kiosk.reader.base import AuthFailed, CardInfo, CardType, NotSupported, Reader
from kiosk.reader.card_format import (
    IDENTITY_SIZE,
    KIND_NTAG,
    CardBlank,
    CardFormatError,
    CardMacError,
    CardNotRecognised,
    MemberCard,
    encode_identity,
    parse_ntag_token,
)
from kiosk.reader.keys import CardKeys

TOKEN_PAGE = 4
TOKEN_PAGES = IDENTITY_SIZE // 4
CFG0_PAGE = {CardType.NTAG213: 0x29, CardType.NTAG215: 0x83, CardType.NTAG216: 0xE3}
DEFAULT_PWD = b"\xff\xff\xff\xff"
PROT = 0x80
NFC_CNT_EN = 0x10
NFC_CNT_PWD_PROT = 0x08
ACCESS = PROT | NFC_CNT_EN | NFC_CNT_PWD_PROT  # what issue sets (AUTHLIM 0, CFGLCK off)
DEFAULT_SIGNERS = (originality.NXP_NTAG21X_PUBLIC_KEY,)


def _cfg0(info: CardInfo) -> int:
    try:
        return CFG0_PAGE[info.type]
    except KeyError:
        raise CardNotRecognised(f"{info.type} cannot hold a membership card") from None


def _login(reader: Reader, candidates: Sequence[CardKeys]) -> CardKeys | None:
    """PWD_AUTH with each candidate's password; the PACK must be one of ours or the chip is a
    fake (any candidate's: a rekey cut short leaves the new PACK beside the old PWD)."""
    for keys in candidates:
        try:
            pack = reader.ntag_pwd_auth(keys.ntag_pwd)
        except AuthFailed:
            continue
        if pack not in {k.ntag_pack for k in candidates}:
            raise CardMacError("NTAG password accepted but PACK is wrong")
        return keys
    return None


def _read_token(reader: Reader) -> bytes:
    return b"".join(reader.ntag_read(TOKEN_PAGE + 4 * i) for i in range(TOKEN_PAGES // 4))


def _is_blank(reader: Reader, info: CardInfo) -> bool:
    """Unprotected (AUTH0 protects nothing): factory state, or an issue or wipe cut short.
    The default PWD_AUTH comes first so the configuration read is normally allowed; when it is
    refused, that refusal is the probe's last command (a refused read leaves the tag mute on
    readers that do not re-select it), and callers give up right after a False."""
    try:
        reader.ntag_pwd_auth(DEFAULT_PWD)
    except AuthFailed:
        pass
    try:
        return reader.ntag_read(_cfg0(info))[3] == 0xFF
    except AuthFailed:
        return False


def read(
    reader: Reader,
    info: CardInfo,
    candidates: Sequence[CardKeys],
    signers: Sequence[bytes] = DEFAULT_SIGNERS,
) -> MemberCard:
    _cfg0(info)
    if _login(reader, candidates) is None:
        if _is_blank(reader, info):
            raise CardBlank(f"blank {info.type}")
        raise CardNotRecognised(f"{info.type} protected by a password that is not ours")
    try:
        token = _read_token(reader)
    except AuthFailed:
        raise CardMacError("NTAG refuses to show the token after PWD_AUTH") from None
    card = parse_ntag_token(info.uid, candidates, token)
    check_originality(reader, info, signers)
    return replace(card, tap_counter=read_tap_counter(reader, info))


def read_tap_counter(reader: Reader, info: CardInfo) -> int | None:
    """The NFC counter, after PWD_AUTH. None on a card whose counter is off (issued before it
    was enabled) or through a reader that cannot send READ_CNT; a card of ours that refuses
    to show its configuration or counter after PWD_AUTH is not what it claims."""
    try:
        access = reader.ntag_read(_cfg0(info))[4]
    except AuthFailed:
        raise CardMacError("NTAG refuses to show its configuration after PWD_AUTH") from None
    if not access & NFC_CNT_EN:
        return None
    try:
        return reader.ntag_read_counter()
    except NotSupported:
        return None
    except AuthFailed:
        raise CardMacError("NTAG refuses READ_CNT after PWD_AUTH") from None


def check_originality(reader: Reader, info: CardInfo, signers: Sequence[bytes]) -> None:
    """Verify READ_SIG when the chip and reader offer it; a bad signature is a clone."""
    try:
        signature = reader.read_signature()
    except NotSupported:
        return
    except AuthFailed:
        raise CardMacError("chip claims to be an NTAG21x but refuses READ_SIG") from None
    if not any(originality.verify(info.uid, signature, key) for key in signers):
        raise CardMacError("NXP originality signature does not verify: not a genuine chip")


def _write_pages(reader: Reader, page: int, data: bytes) -> None:
    for i in range(0, len(data), 4):
        reader.ntag_write(page + i // 4, data[i : i + 4])


def _protect(reader: Reader, info: CardInfo, keys: CardKeys) -> None:
    """PACK before PWD (so our PWD never answers a foreign PACK), then ACCESS, AUTH0 last."""
    cfg0 = _cfg0(info)
    _write_pages(reader, cfg0 + 3, keys.ntag_pack + b"\x00\x00")
    _write_pages(reader, cfg0 + 2, keys.ntag_pwd)
    cfg = reader.ntag_read(cfg0)
    _write_pages(reader, cfg0 + 1, bytes((ACCESS,)) + cfg[5:8])
    _write_pages(reader, cfg0, cfg[0:3] + bytes((TOKEN_PAGE,)))


def _open(reader: Reader, info: CardInfo, candidates: Sequence[CardKeys]) -> None:
    """Get write access: one of our passwords, the default one, or no protection at all."""
    if _login(reader, candidates) is not None:
        return
    if not _is_blank(reader, info):
        raise CardNotRecognised(f"{info.type} protected by a password that is not ours")


def issue(
    reader: Reader,
    info: CardInfo,
    keys: CardKeys,
    member_id: str,
    card_seq: int,
    issued_on: date,
    signers: Sequence[bytes] = DEFAULT_SIGNERS,
    replacing: str = "",
) -> MemberCard:
    """Personalise a blank NTAG21x; running it again finishes an interrupted issue. A tag
    that is neither blank nor already ours is refused before anything is written; one of ours
    carrying `replacing` (a pre-issued card's reserved member id) gets the new token."""
    token = encode_identity(keys, KIND_NTAG, member_id, card_seq, issued_on)
    if _login(reader, [keys]) is None:
        if not _is_blank(reader, info):
            raise CardNotRecognised(f"{info.type} is not blank and not ours: cannot issue")
    else:
        try:
            existing = parse_ntag_token(info.uid, [keys], _read_token(reader))
        except CardFormatError:
            existing = None  # an issue that was cut short
        reserved = existing is not None and bool(replacing) and existing.member_id == replacing
        if existing is not None and not reserved and (existing.member_id, existing.card_seq) != (member_id, card_seq):
            raise CardFormatError(f"card already issued to a member (card #{existing.card_seq})")
    check_originality(reader, info, signers)
    try:
        _write_pages(reader, TOKEN_PAGE, token)
        _protect(reader, info, keys)
    except AuthFailed:
        raise CardFormatError("card refused a write during issue: discard it") from None
    return read(reader, info, [keys], signers)


def rekey(
    reader: Reader,
    info: CardInfo,
    old: CardKeys,
    new: CardKeys,
    signers: Sequence[bytes] = DEFAULT_SIGNERS,
) -> MemberCard:
    card = read(reader, info, [new, old], signers)
    token = encode_identity(new, KIND_NTAG, card.member_id, card.card_seq, card.issued_on)
    try:
        _open(reader, info, [new, old])
        _write_pages(reader, TOKEN_PAGE, token)
        _protect(reader, info, new)
    except AuthFailed:
        raise CardFormatError("card refused a write during rekey") from None
    return read(reader, info, [new], signers)


def wipe(reader: Reader, info: CardInfo, candidates: Sequence[CardKeys]) -> None:
    """Token zeroed first, then protection off (AUTH0, then the ACCESS byte to its factory 00:
    no PROT, counter off), then PWD and PACK back to the defaults (PWD first: our PWD must
    never sit beside a foreign PACK). Resumable. The NFC counter itself keeps its value."""
    cfg0 = _cfg0(info)
    try:
        _open(reader, info, candidates)
        _write_pages(reader, TOKEN_PAGE, bytes(IDENTITY_SIZE))
        cfg = reader.ntag_read(cfg0)
        _write_pages(reader, cfg0, cfg[0:3] + b"\xff")
        _write_pages(reader, cfg0 + 1, b"\x00" + cfg[5:8])
        _write_pages(reader, cfg0 + 2, DEFAULT_PWD)
        _write_pages(reader, cfg0 + 3, bytes(4))
    except AuthFailed:
        raise CardFormatError("card refused a write during wipe") from None
