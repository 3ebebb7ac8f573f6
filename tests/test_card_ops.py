"""Issue, read, purse update, rekey and wipe through the simulated reader, on every chip."""

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardInfo, CardType, KeyType, NotSupported, Reader
from kiosk.reader.card import (
    issue_card,
    read_member_card,
    rekey_card,
    update_purse,
    wipe_card,
)
from kiosk.reader.card_format import (
    CardBlank,
    CardFormatError,
    CardMacError,
    CardNotRecognised,
    Refusal,
    device_tag,
    judge,
)
from kiosk.reader.chips import MifareClassic, Ntag, new_classic, new_ntag, new_ntag424
from kiosk.reader.simulated import SimulatedReader
from tests.card_helpers import ISSUED, OTHER_SITE, SIGNERS, SITE, issued_classic, issued_ntag, tap


@pytest.fixture
def reader():
    return SimulatedReader()


def test_classic_issue_read_update(reader):
    chip, info = issued_classic(reader)
    card = read_member_card(reader, info, SITE)
    assert (card.member_id, card.card_seq, card.issued_on) == ("M-k1-7", 1, ISSUED)
    assert (card.purse.balance_fen, card.purse.points, card.purse.counter) == (1000, 10, 0)
    for i in range(1, 6):
        hint = update_purse(reader, info, SITE, 1000 + i, 10 + i, "kiosk-2")
        assert hint.counter == i and hint.last_device == device_tag("kiosk-2")
        assert read_member_card(reader, info, SITE).purse == hint


def test_issue_replaces_transport_keys_and_sets_access_bits(reader):
    chip, info = issued_classic(reader)
    keys = SITE.for_card(info.uid)
    for sector in (1, 2, 3):
        block = mifare.first_block(sector)
        with pytest.raises(AuthFailed):
            reader.mifare_auth(block, KeyType.A, mifare.TRANSPORT_KEY)
        reader.mifare_auth(block, KeyType.A, keys.key_a)
        reader.mifare_read(block)
        with pytest.raises(AuthFailed):
            reader.mifare_write(block, bytes(16))  # key A: read only
        with pytest.raises(AuthFailed):
            reader.mifare_write(mifare.trailer_block(sector), mifare.TRANSPORT_TRAILER)
        reader.mifare_auth(block, KeyType.B, keys.key_b)
        original = reader.mifare_read(block)
        reader.mifare_write(block, original)  # key B: read/write
        trailer = chip.memory[mifare.trailer_block(sector) * 16 :][:16]
        assert mifare.decode_access_bits(bytes(trailer[6:9])) == (
            (1, 0, 0),
            (1, 0, 0),
            (1, 0, 0),
            (0, 1, 1),
        )


def test_unused_sectors_stay_in_transport_state(reader):
    chip, info = issued_classic(reader)
    reader.mifare_auth(16, KeyType.A, mifare.TRANSPORT_KEY)
    assert reader.mifare_read(16) == bytes(16)


def test_issue_refuses_a_card_of_someone_else_and_is_idempotent(reader):
    chip, info = issued_classic(reader)
    again = issue_card(reader, info, SITE, "M-k1-7", 1, ISSUED, "kiosk-1", 1000, 10)
    assert again.member_id == "M-k1-7"
    with pytest.raises(CardFormatError, match="already issued"):
        issue_card(reader, info, SITE, "M-other", 1, ISSUED)


def test_unknown_cards_are_not_recognised(reader):
    info = tap(reader, new_classic())
    with pytest.raises(CardBlank):
        read_member_card(reader, info, SITE)
    chip, info = issued_classic(reader)
    with pytest.raises(CardNotRecognised) as e:
        read_member_card(reader, info, OTHER_SITE)  # another chain's card
    assert not isinstance(e.value, CardBlank)
    for chip in (new_ntag424(), new_ntag(kind="ultralight")):
        info = tap(reader, chip)
        with pytest.raises(CardNotRecognised):
            read_member_card(reader, info, SITE)
    bank = CardInfo(bytes.fromhex("08123456"), CardType.UNKNOWN, b"\x04\x00", 0x20, b"\x06\x75")
    with pytest.raises(CardNotRecognised):
        read_member_card(reader, bank, SITE)


def test_clone_onto_another_uid_is_not_ours(reader):
    chip, info = issued_classic(reader)
    fake = MifareClassic(bytes.fromhex("11223344"), memory=bytes(chip.memory))
    info = tap(reader, fake)
    with pytest.raises(CardNotRecognised):
        read_member_card(reader, info, SITE)  # keys are diversified by UID: ours do not open it


def test_replayed_old_copy_is_refused_by_counter(reader):
    chip, info = issued_classic(reader)
    snapshot = bytes(chip.memory)
    last = update_purse(reader, info, SITE, 5000, 50, "kiosk-1").counter  # the ledger records it
    replay = MifareClassic(chip.uid, memory=snapshot)  # a magic card with the old image
    info = tap(reader, replay)
    card = read_member_card(reader, info, SITE)
    verdict = judge(card, last_counter=last)
    assert not verdict.accepted and verdict.reason == Refusal.COUNTER_ROLLBACK
    assert verdict.report_to_hq


def test_replaced_card_is_refused_by_seq(reader):
    chip, info = issued_classic(reader, seq=1)
    verdict = judge(read_member_card(reader, info, SITE), current_card_seq=2)
    assert verdict.reason == Refusal.OLD_CARD


def test_tampered_slot_falls_back_and_both_tampered_is_a_mac_failure(reader):
    chip, info = issued_classic(reader)
    update_purse(reader, info, SITE, 2000, 20, "kiosk-1")  # slot 1, counter 1
    chip.memory[13 * 16 + 5] ^= 0x01  # flip a bit in slot 1's MAC block
    assert read_member_card(reader, info, SITE).purse.counter == 0
    chip.memory[9 * 16 + 5] ^= 0x01
    tap(reader, chip)
    with pytest.raises(CardMacError):
        read_member_card(reader, info, SITE)


def test_classic_rekey_and_wipe(reader):
    chip, info = issued_classic(reader)
    update_purse(reader, info, SITE, 1234, 5, "kiosk-1")
    card = rekey_card(reader, info, SITE, OTHER_SITE)
    assert card.purse.balance_fen == 1234
    with pytest.raises(CardNotRecognised):
        read_member_card(reader, info, SITE)
    assert read_member_card(reader, info, [SITE, OTHER_SITE]).member_id == "M-k1-7"
    wipe_card(reader, info, OTHER_SITE)
    with pytest.raises(CardBlank):
        read_member_card(reader, info, OTHER_SITE)
    fresh = MifareClassic(chip.uid)
    assert chip.memory == fresh.memory  # exactly a transport-state card again
    issue_card(reader, info, SITE, "M-next", 1, ISSUED)
    assert read_member_card(reader, info, SITE).member_id == "M-next"


@pytest.mark.parametrize("kind", ["ntag213", "ntag215", "ntag216"])
def test_ntag_issue_read_rekey_wipe(reader, kind):
    chip, info = issued_ntag(reader, kind)
    card = read_member_card(reader, info, SITE, SIGNERS)
    assert card.member_id == "M-k1-8" and card.purse is None
    assert update_purse(reader, info, SITE, 1, 1, "kiosk-1") is None
    cfg0 = chip.variant.cfg0
    assert chip.memory[cfg0 * 4 + 3] == 4 and chip.memory[(cfg0 + 1) * 4] == 0x80 | 0x10 | 0x08  # PROT, counter
    assert bytes(chip.memory[(cfg0 + 2) * 4 :][:4]) == SITE.for_card(chip.uid).ntag_pwd
    chip.place()
    reader.wait_for_card(0)
    with pytest.raises(AuthFailed):
        reader.ntag_read(4)  # token is read-protected
    rekey_card(reader, info, SITE, OTHER_SITE, SIGNERS)
    with pytest.raises(CardNotRecognised):
        read_member_card(reader, info, SITE, SIGNERS)
    assert read_member_card(reader, info, OTHER_SITE, SIGNERS).member_id == "M-k1-8"
    assert chip.memory[(cfg0 + 1) * 4] == 0x98  # rekey keeps the counter on and protected
    counted = chip.nfc_counter
    wipe_card(reader, info, OTHER_SITE)
    with pytest.raises(CardBlank):
        read_member_card(reader, info, SITE, SIGNERS)
    assert chip.memory == Ntag(chip.uid, kind, chip.signature).memory  # ACCESS back to 00 too
    assert chip.nfc_counter == counted  # the counter itself can never go back


def test_ntag_tap_counter_rises_once_per_tap_and_needs_the_password(reader):
    chip, info = issued_ntag(reader)
    first = read_member_card(reader, info, SITE, SIGNERS).tap_counter
    assert first is not None and first == chip.nfc_counter >= 1
    assert read_member_card(reader, info, SITE, SIGNERS).tap_counter == first  # the same tap
    for n in (1, 2, 3):
        info = tap(reader, chip)
        card = read_member_card(reader, info, SITE, SIGNERS)
        assert card.tap_counter == card.card_counter == first + n
    info = tap(reader, chip)
    with pytest.raises(AuthFailed):
        reader.ntag_read_counter()  # NFC_CNT_PWD_PROT: not without PWD_AUTH
    assert reader.ntag_pwd_auth(SITE.for_card(chip.uid).ntag_pwd) == SITE.for_card(chip.uid).ntag_pack
    assert reader.ntag_read_counter() == first + 3  # neither PWD_AUTH nor READ_CNT counts


def test_ntag_copy_showing_a_lower_tap_counter_is_refused(reader):
    chip, info = issued_ntag(reader)
    copy = Ntag(chip.uid, chip.kind, chip.signature, bytes(chip.memory))
    copy.nfc_counter = chip.nfc_counter  # copied now
    seen = [read_member_card(reader, tap(reader, chip), SITE, SIGNERS).card_counter for _ in range(2)]
    copied = read_member_card(reader, tap(reader, copy), SITE, SIGNERS)
    assert copied.member_id == "M-k1-8" and copied.card_counter == seen[0]
    assert judge(copied, last_counter=seen[0]).accepted  # one tap on: the copy cannot be told apart
    verdict = judge(copied, last_counter=seen[1])
    assert verdict.reason == Refusal.COUNTER_ROLLBACK and verdict.report_to_hq
    assert judge(read_member_card(reader, tap(reader, chip), SITE, SIGNERS), last_counter=seen[1]).accepted


def test_ntag_issued_before_the_counter_reads_without_one_until_rekeyed(reader):
    chip, info = issued_ntag(reader)
    chip.memory[(chip.variant.cfg0 + 1) * 4] = 0x80  # ACCESS as issue wrote it before: PROT only
    info = tap(reader, chip)
    card = read_member_card(reader, info, SITE, SIGNERS)
    assert card.member_id == "M-k1-8" and card.tap_counter is None and card.card_counter is None
    assert judge(card, last_counter=0).accepted  # the ledger never saw a counter on it
    assert judge(card, last_counter=7).reason == Refusal.COUNTER_ROLLBACK  # a copy hiding its counter
    card = rekey_card(reader, tap(reader, chip), SITE, OTHER_SITE, SIGNERS)
    assert card.tap_counter == chip.nfc_counter >= 1


class _NoReadCnt(SimulatedReader):
    """A reader that cannot send READ_CNT."""

    ntag_read_counter = Reader.ntag_read_counter


def test_ntag_read_through_a_reader_without_read_cnt_has_no_counter():
    reader = _NoReadCnt()
    with pytest.raises(NotSupported):
        reader.ntag_read_counter()
    chip, info = issued_ntag(reader)
    card = read_member_card(reader, tap(reader, chip), SITE, SIGNERS)
    assert card.member_id == "M-k1-8" and card.tap_counter is None


class _CounterlessNtag(Ntag):
    """An imitation that answers like an NTAG213 but refuses READ_CNT."""

    def _cmd_read_cnt(self, args: bytes) -> bytes:
        raise self._nak(0x0, "READ_CNT not implemented")


def test_ntag_that_refuses_read_cnt_after_the_password_is_not_genuine(reader):
    chip, info = issued_ntag(reader)
    fake = _CounterlessNtag(chip.uid, chip.kind, chip.signature, bytes(chip.memory))
    with pytest.raises(CardMacError, match="READ_CNT"):
        read_member_card(reader, tap(reader, fake), SITE, SIGNERS)
    assert read_member_card(reader, tap(reader, chip), SITE, SIGNERS).tap_counter == chip.nfc_counter

    chip, info = issued_ntag(reader)
    with pytest.raises(CardMacError, match="originality"):
        read_member_card(reader, info, SITE)  # default signers: NXP's key only
    clone = Ntag(chip.uid, "ntag213", bytes(32), bytes(chip.memory))
    info = tap(reader, clone)
    with pytest.raises(CardMacError, match="originality"):
        read_member_card(reader, info, SITE, SIGNERS)


def test_ntag_with_wrong_pack_is_a_fake(reader):
    chip, info = issued_ntag(reader)
    cfg0 = chip.variant.cfg0
    chip.memory[(cfg0 + 3) * 4] ^= 0xFF
    tap(reader, chip)
    with pytest.raises(CardMacError, match="PACK"):
        read_member_card(reader, info, SITE, SIGNERS)


def test_foreign_ntag_is_not_recognised(reader):
    tag = new_ntag()
    tag.write(tag.variant.cfg0 + 2, b"thei")  # someone else's password ...
    tag.write(tag.variant.cfg0, b"\x04\x00\x00\x04")  # ... protecting from page 4
    info = tap(reader, tag)
    with pytest.raises(CardNotRecognised) as e:
        read_member_card(reader, info, SITE, SIGNERS)
    assert not isinstance(e.value, CardBlank)
    with pytest.raises(CardNotRecognised):
        issue_card(reader, info, SITE, "M-x", 1, ISSUED, signers=SIGNERS)


@pytest.mark.parametrize(
    "chip",
    [
        MifareClassic(bytes.fromhex("01020304"), four_k=True),
        MifareClassic(bytes.fromhex("04112233445566")),
    ],
    ids=["4k", "7-byte-uid"],
)
def test_classic_variants(reader, chip):
    info = tap(reader, chip)
    issue_card(reader, info, SITE, "M-v", 2, ISSUED, "kiosk-1", 5, 6)
    assert update_purse(reader, info, SITE, 7, 8, "kiosk-1").counter == 1
    card = read_member_card(reader, info, SITE)
    assert (card.member_id, card.card_seq, card.purse.balance_fen) == ("M-v", 2, 7)
