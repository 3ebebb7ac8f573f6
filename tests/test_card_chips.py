"""The chip models behave like the datasheets say, since every emulator and the card format's
tests stand on them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.reader import mifare, originality
from kiosk.reader.base import CardType, KeyType
from kiosk.reader.chips import (
    ChipAuthError,
    ChipNak,
    ChipSilent,
    MifareClassic,
    Ntag,
    chip_from_dict,
    new_classic,
    new_ntag,
    new_ntag424,
)

FF = mifare.TRANSPORT_KEY
KA = bytes.fromhex("A0A1A2A3A4A5")
KB = bytes.fromhex("B0B1B2B3B4B5")
UID4 = bytes.fromhex("DEADBEEF")

conds = st.tuples(*[st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1))] * 4)


@given(conds)
def test_access_bits_round_trip(c):
    assert mifare.decode_access_bits(mifare.encode_access_bits(c)) == c


def test_transport_access_bits_are_the_datasheet_ones():
    assert mifare.decode_access_bits(bytes.fromhex("FF0780")) == ((0, 0, 0),) * 3 + ((0, 0, 1),)


@given(st.binary(min_size=3, max_size=3))
def test_access_bits_decode_is_total(data):
    try:
        c = mifare.decode_access_bits(data)
    except mifare.AccessBitsError:
        return
    assert mifare.encode_access_bits(c) == data


@given(st.integers(-(2**31), 2**31 - 1), st.integers(0, 255))
def test_value_block_round_trip(v, a):
    assert mifare.decode_value(mifare.encode_value(v, a)) == (v, a)


def test_classic_identity_and_manufacturer_block():
    c = MifareClassic(UID4)
    assert c.card_type == CardType.MIFARE_CLASSIC_1K and c.atqa == b"\x04\x00" and c.sak == 0x08
    c4 = MifareClassic(UID4, four_k=True)
    assert c4.card_type == CardType.MIFARE_CLASSIC_4K and c4.sak == 0x18 and c4.blocks == 256
    c.authenticate(0, KeyType.A, FF)
    b0 = c.read_block(0)
    assert b0[:4] == UID4 and b0[4] == 0xDE ^ 0xAD ^ 0xBE ^ 0xEF
    with pytest.raises(ChipNak):
        c.write_block(0, bytes(16))


def test_classic_wrong_key_mutes_until_select():
    c = new_classic()
    with pytest.raises(ChipAuthError):
        c.authenticate(4, KeyType.A, KA)
    with pytest.raises(ChipSilent):
        c.authenticate(4, KeyType.A, FF)
    c.select()
    c.authenticate(4, KeyType.A, FF)
    assert c.read_block(5) == bytes(16)


def test_classic_session_covers_one_sector_only():
    c = new_classic()
    c.authenticate(4, "A", FF)
    with pytest.raises(ChipNak):
        c.read_block(8)


def test_trailer_read_hides_key_a():
    c = new_classic()
    c.authenticate(7, "A", FF)
    t = c.read_block(7)
    assert t[:6] == bytes(6) and t[6:10] == bytes.fromhex("FF078069") and t[10:] == FF


def _personalise(c: MifareClassic, sector: int = 1) -> None:
    """Data blocks: key A read, key B read/write (100); trailer 011."""
    access = mifare.encode_access_bits(((1, 0, 0),) * 3 + ((0, 1, 1),))
    c.authenticate(mifare.trailer_block(sector), "A", FF)
    c.write_block(mifare.trailer_block(sector), mifare.trailer(KA, access, KB))


def test_access_bits_enforced_key_a_read_only_key_b_read_write():
    c = new_classic()
    _personalise(c)
    c.select()
    c.authenticate(4, "A", KA)
    assert c.read_block(4) == bytes(16)
    with pytest.raises(ChipNak):
        c.write_block(4, b"x" * 16)
    c.select()
    c.authenticate(4, "B", KB)
    c.write_block(4, b"x" * 16)
    assert c.read_block(4) == b"x" * 16
    with pytest.raises(ChipAuthError):
        c.authenticate(4, "A", FF)  # transport key replaced


def test_trailer_write_keeps_parts_the_key_may_not_change():
    c = new_classic()
    _personalise(c)
    c.select()
    c.authenticate(7, "A", KA)  # under 011 key A may write nothing in the trailer
    with pytest.raises(ChipNak):
        c.write_block(7, mifare.TRANSPORT_TRAILER)
    c.select()
    c.authenticate(7, "B", KB)
    c.write_block(7, mifare.TRANSPORT_TRAILER)  # key B may: all three parts
    c.select()
    c.authenticate(7, "A", FF)


def test_readable_key_b_grants_nothing():
    c = new_classic()  # transport trailer 001: key B readable
    c.authenticate(4, "B", FF)
    with pytest.raises(ChipNak):
        c.read_block(4)


def test_malformed_access_bits_block_the_sector_for_good():
    c = new_classic()
    c.authenticate(7, "A", FF)
    c.write_block(7, FF + b"\x00\x00\x00\x69" + FF)
    assert 1 in c.blocked_sectors
    c.select()
    with pytest.raises(ChipAuthError):
        c.authenticate(4, "A", FF)


def test_value_block_operations_follow_access_bits():
    c = new_classic()
    access = mifare.encode_access_bits(((1, 1, 0), (0, 0, 1), (0, 0, 0), (0, 1, 1)))
    c.authenticate(7, "A", FF)
    c.write_block(4, mifare.encode_value(100, 4))
    c.write_block(5, mifare.encode_value(50, 5))
    c.write_block(7, mifare.trailer(KA, access, KB))
    c.select()
    c.authenticate(4, "A", KA)
    c.decrement(4, 30)
    c.transfer(4)
    assert mifare.decode_value(c.read_block(4)) == (70, 4)
    with pytest.raises(ChipNak):
        c.increment(4, 1)  # 110: increment by key B only
    c.select()
    c.authenticate(4, "B", KB)
    c.increment(4, 5)
    c.transfer(4)
    c.decrement(5, 10)  # 001: decrement allowed, write is not
    c.transfer(5)
    assert mifare.decode_value(c.read_block(5)) == (40, 5)
    with pytest.raises(ChipNak):
        c.write_block(5, bytes(16))
    c.select()
    c.authenticate(4, "A", KA)
    assert mifare.decode_value(c.read_block(4)) == (75, 4)


def test_raw_frames():
    c = new_classic()
    assert c.command(b"\x60\x04" + FF + c.uid) == b""
    assert c.command(b"\xa0\x04" + b"z" * 16) == b""
    assert c.command(b"\x30\x04") == b"z" * 16


@pytest.mark.parametrize("cut", range(17))
def test_tearing_leaves_a_byte_prefix(cut):
    c = new_classic()
    c.authenticate(4, "A", FF)
    c.write_block(4, b"o" * 16)
    c.tear(after_writes=1, after_bytes=cut)
    c.write_block(5, b"a" * 16)
    with pytest.raises(ChipSilent):
        c.write_block(4, b"n" * 16)
    assert not c.present
    with pytest.raises(ChipSilent):
        c.read_block(4)
    c.place()
    c.select()
    c.authenticate(4, "A", FF)
    assert c.read_block(4) == b"n" * cut + b"o" * (16 - cut)
    assert c.read_block(5) == b"a" * 16


def test_rf_error_before_and_after():
    c = new_classic()
    c.authenticate(4, "A", FF)
    c.inject_rf_errors(1)
    with pytest.raises(ChipSilent):
        c.write_block(4, b"1" * 16)
    assert c.read_block(4) == bytes(16)
    c.inject_rf_errors(1, after=True)
    with pytest.raises(ChipSilent):
        c.write_block(4, b"2" * 16)
    assert c.read_block(4) == b"2" * 16


def test_ntag_identity_version_and_layout():
    for kind, ctype, last in [
        ("ntag213", CardType.NTAG213, 0x0F),
        ("ntag215", CardType.NTAG215, 0x11),
        ("ntag216", CardType.NTAG216, 0x13),
    ]:
        t = new_ntag(kind=kind)
        assert t.card_type == ctype and t.atqa == b"\x44\x00" and t.sak == 0
        assert t.get_version() == bytes.fromhex("000404020100") + bytes((last, 3))
        head = t.read(0)
        assert head[0:3] == t.uid[0:3] and head[4:8] == t.uid[3:7] and head[12] == 0xE1


def test_plain_ultralight_does_not_know_get_version():
    t = Ntag(bytes.fromhex("04112233445566"), "ultralight")
    with pytest.raises(ChipSilent):
        t.get_version()
    t.select()
    assert len(t.read(4)) == 16


def test_ntag_read_rolls_over_and_hides_password():
    t = new_ntag()
    assert len(t.read(44)) == 16
    t.write(0x2B, b"pwd!")
    assert t.read(0x2B)[:4] == bytes(4)


def test_ntag_password_protection():
    t = new_ntag()
    t.write(4, b"memb")
    t.write(0x2B, b"pwd!")
    t.write(0x2C, b"OK\x00\x00")
    t.write(0x2A, b"\x83\x00\x00\x00")  # PROT, AUTHLIM=3
    t.write(0x29, b"\x04\x00\x00\x04")  # AUTH0 = 4
    t.place()
    t.select()
    with pytest.raises(ChipNak):
        t.read(4)
    t.select()
    assert t.read(0)[:3] == t.uid[:3]
    with pytest.raises(ChipAuthError):
        t.pwd_auth(b"nope")
    t.select()
    assert t.pwd_auth(b"pwd!") == b"OK"
    assert t.read(4)[:4] == b"memb"
    t.write(5, b"more")
    t.place()
    t.select()
    with pytest.raises(ChipNak):
        t.write(5, b"evil")


def test_ntag_authlim_disables_pwd_auth():
    t = new_ntag()
    t.write(0x2B, b"pwd!")
    t.write(0x2A, b"\x01\x00\x00\x00")  # AUTHLIM=1: two failures allowed
    for _ in range(2):
        t.select()
        with pytest.raises(ChipAuthError):
            t.pwd_auth(b"nope")
    t.select()
    with pytest.raises(ChipNak):
        t.pwd_auth(b"pwd!")


def test_ntag_lock_bits_and_otp():
    t = new_ntag()
    t.write(2, b"\xff\xff\x10\x00")  # lock page 4
    assert t.read(2)[2] == 0x10
    with pytest.raises(ChipNak):
        t.write(4, b"abcd")
    t.select()
    t.write(3, b"\x00\x00\x00\x0f")
    t.write(3, b"\x00\x00\x00\xf0")
    assert t.read(3)[:4] == bytes((0xE1, 0x10, 0x12, 0xFF))


def test_ntag_signature_verifies():
    t = new_ntag()
    assert originality.verify(t.uid, t.read_sig(), originality.TEST_PUBLIC_KEY)
    assert not originality.verify(t.uid, t.read_sig())  # not NXP's key


def test_real_nxp_signatures_verify():
    for uid, sig in [
        ("04E10CDA993C80", "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3"),
        ("04DB0BDA993C80", "6048EFD9417CD10F6B7F1818D471A7FE5B46868D2EABDC6307A1E0AAE139D8D0"),
    ]:
        assert originality.verify(bytes.fromhex(uid), bytes.fromhex(sig))
        assert not originality.verify(bytes.fromhex(uid)[::-1], bytes.fromhex(sig))


def test_ntag_tearing_at_each_byte():
    for cut in range(5):
        t = new_ntag()
        t.write(4, b"oooo")
        t.tear(after_bytes=cut)
        with pytest.raises(ChipSilent):
            t.write(4, b"nnnn")
        t.place()
        t.select()
        assert t.read(4)[:4] == b"n" * cut + b"o" * (4 - cut)


def test_ntag424_is_recognisable():
    c = new_ntag424()
    assert c.card_type == CardType.NTAG424_DNA and c.sak == 0x20 and c.ats
    assert c.apdu(bytes.fromhex("9060000000"))[-2:] == b"\x91\xaf"
    assert c.apdu(bytes.fromhex("00A4040007D276000085010100"))[-2:] == b"\x90\x00"


def test_persistence_round_trip():
    for chip in (new_classic(), new_classic(four_k=True), new_ntag(kind="ntag215"), new_ntag424()):
        again = chip_from_dict(chip.to_dict())
        assert type(again) is type(chip) and again.to_dict() == chip.to_dict()
    with pytest.raises(ValueError):
        chip_from_dict({"chip": "mifare_classic", "uid": "zz"})
