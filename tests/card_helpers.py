"""Shared set-up for the card-format tests: a site, a simulated reader, issued cards."""

from datetime import date

from kiosk.reader import originality
from kiosk.reader.card import issue_card
from kiosk.reader.chips import new_classic, new_ntag
from kiosk.reader.keys import SiteKeys
from kiosk.reader.simulated import SimulatedReader

SITE = SiteKeys(bytes.fromhex("000102030405060708090A0B0C0D0E0F"), b"test-chain")
OTHER_SITE = SiteKeys(bytes.fromhex("F0E0D0C0B0A090807060504030201000"), b"test-chain")
SIGNERS = (originality.TEST_PUBLIC_KEY,)
ISSUED = date(2026, 11, 23)


def tap(reader: SimulatedReader, chip):
    reader.place(chip)
    return reader.wait_for_card(0)


def issued_classic(reader: SimulatedReader, member_id="M-k1-7", seq=1, balance=1000, points=10):
    chip = new_classic()
    info = tap(reader, chip)
    issue_card(reader, info, SITE, member_id, seq, ISSUED, "kiosk-1", balance, points)
    return chip, info


def issued_ntag(reader: SimulatedReader, kind="ntag213", member_id="M-k1-8"):
    chip = new_ntag(kind=kind)
    info = tap(reader, chip)
    issue_card(reader, info, SITE, member_id, 1, ISSUED, signers=SIGNERS)
    return chip, info
