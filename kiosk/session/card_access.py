"""The card layer (kiosk.reader.card) as the session's CardAccess: classify a tap, issue a card.

Staff cards are not a card format: they are listed by UID in the configuration
([session] staff_cards), so any card a store already has can become a staff card and be
withdrawn without rewriting it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from kiosk.reader.base import CardInfo, Reader
from kiosk.reader.card import DEFAULT_SIGNERS, issue_card, read_member_card, update_purse
from kiosk.reader.card_format import (
    CardBlank,
    CardFormatError,
    CardMacError,
    CardNotRecognised,
    CardVersionError,
)
from kiosk.reader.keys import CardKeys, SiteKeys
from kiosk.session.inputs import CardKind, CardRead


class FormatCardAccess:
    """`signers`: the public keys an NTAG's originality signature may verify against (NXP's;
    the simulator and the tests add the key their chip models are signed with)."""

    def __init__(
        self,
        keys: SiteKeys | Sequence[SiteKeys | CardKeys],
        device_id: str,
        today: Callable[[], date],
        signers: Sequence[bytes] = DEFAULT_SIGNERS,
    ):
        self.keys = keys
        self.issue_keys = keys if isinstance(keys, SiteKeys | CardKeys) else keys[0]
        self.device_id = device_id
        self.today = today
        self.signers = signers

    def read(self, reader: Reader, info: CardInfo) -> CardRead:
        uid = info.uid.hex().upper()
        try:
            card = read_member_card(reader, info, self.keys, self.signers)
        except CardBlank:
            return CardRead(uid, CardKind.BLANK)
        except CardMacError:
            return CardRead(uid, CardKind.FOREIGN, "mac_failed")
        except CardVersionError:
            return CardRead(uid, CardKind.FOREIGN, "unsupported_version")
        except CardNotRecognised:
            return CardRead(uid, CardKind.FOREIGN, "not_recognised")
        except CardFormatError:
            return CardRead(uid, CardKind.FOREIGN, "bad_format")
        return CardRead(
            uid, CardKind.MEMBER, member_id=card.member_id, card_seq=card.card_seq, card_counter=card.card_counter
        )

    def issue(self, reader: Reader, info: CardInfo, member_id: str, card_seq: int, replacing: str = "") -> None:
        issue_card(
            reader, info, self.issue_keys, member_id, card_seq, self.today(), self.device_id,
            signers=self.signers, replacing=replacing,
        )

    def write_purse(self, reader: Reader, info: CardInfo, balance_fen: int, points: int) -> int:
        hint = update_purse(reader, info, self.keys, balance_fen, points, self.device_id)
        return hint.counter if hint is not None else 0
