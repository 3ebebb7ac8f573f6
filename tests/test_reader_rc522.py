"""The RC522 driver against an MFRC522 register model behind a fake spidev."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.reader import mifare
from kiosk.reader.base import (
    AuthFailed,
    CardGone,
    CardType,
    KeyType,
    NotSupported,
    ReaderError,
    ReaderGone,
)
from kiosk.reader.chips import Ntag, new_classic, new_ntag, new_ntag424
from kiosk.reader.rc522 import Rc522Reader, crc_a
from tests.emulators.field import CRC_ERROR, Field
from tests.emulators.mfrc522 import FakeSpiDev, Mfrc522Model
from tests.emulators.pn532_core import crc_a as emulator_crc_a

FF = mifare.TRANSPORT_KEY


@pytest.fixture
def field():
    return Field()


@pytest.fixture
def model(field):
    return Mfrc522Model(field)


@pytest.fixture
def reader(model):
    r = Rc522Reader(spi_factory=lambda: FakeSpiDev(model), poll_interval=0.001)
    r.open()
    yield r
    r.close()


def test_crc_a_matches_the_iso_example():
    assert crc_a(b"\x00\x00") == bytes.fromhex("A01E")  # ISO/IEC 14443-3 annex B
    assert crc_a(b"\x12\x34") == bytes.fromhex("26CF")
    assert crc_a(b"\x30\x04") == emulator_crc_a(b"\x30\x04")


def test_version_and_no_card(reader):
    assert reader.firmware() == "MFRC522 v2.0"
    assert reader.wait_for_card(0.05) is None


@pytest.mark.parametrize("uid", ["DEADBEEF", "04A1B2C3D4E5F6"])
def test_classic_select_auth_read_write(reader, field, uid):
    field.place(new_classic(bytes.fromhex(uid)))
    info = reader.wait_for_card(0.5)
    assert info.uid == bytes.fromhex(uid) and info.type == CardType.MIFARE_CLASSIC_1K
    assert info.atqa == b"\x04\x00" or len(info.uid) == 7
    reader.mifare_auth(4, KeyType.A, FF)
    reader.mifare_write(5, bytes(range(16)))
    assert reader.mifare_read(5) == bytes(range(16))
    with pytest.raises(AuthFailed):
        reader.mifare_auth(8, KeyType.A, bytes(6))
    with pytest.raises(AuthFailed):
        reader.mifare_read(8)  # not authenticated: the card NAKs, the driver re-selects
    reader.mifare_auth(4, KeyType.A, FF)
    assert reader.mifare_read(5) == bytes(range(16))


def test_classic_4k(reader, field):
    field.place(new_classic(four_k=True))
    assert reader.wait_for_card(0.5).type == CardType.MIFARE_CLASSIC_4K


@pytest.mark.parametrize("kind,expected", [("ntag213", CardType.NTAG213),
                                           ("ntag215", CardType.NTAG215),
                                           ("ntag216", CardType.NTAG216)])
def test_ntag(reader, field, kind, expected):
    tag = new_ntag(kind=kind)
    field.place(tag)
    info = reader.wait_for_card(0.5)
    assert info.type == expected and info.uid == tag.uid
    reader.ntag_write(4, b"RC52")
    assert reader.ntag_read(4)[:4] == b"RC52"
    assert reader.read_signature() == tag.read_sig()
    with pytest.raises(AuthFailed):
        reader.ntag_pwd_auth(b"1234")
    assert reader.ntag_pwd_auth(b"\xff" * 4) == b"\x00\x00"
    with pytest.raises(NotSupported):
        reader.mifare_auth(4, KeyType.A, FF)


def test_ntag_counter_once_per_tap_behind_the_password(reader, field):
    tag = new_ntag(kind="ntag213")
    tag.write(tag.variant.cfg0 + 1, b"\x18\x00\x00\x00")  # NFC_CNT_EN, NFC_CNT_PWD_PROT
    for tap in (1, 2):
        field.remove()
        field.place(tag)
        reader.wait_for_card(0.5)
        reader.ntag_read(4)  # the first READ of the tap raises the counter
        with pytest.raises(AuthFailed):
            reader.ntag_read_counter()
        assert reader.ntag_read(0)[:3] == tag.uid[:3]  # re-selected after the NAK
        reader.ntag_pwd_auth(b"\xff" * 4)
        assert reader.ntag_read_counter() == tap == tag.nfc_counter


def test_first_ultralight(reader, field):
    field.place(Ntag(bytes.fromhex("04112233445566"), "ultralight", bytes(32)))
    assert reader.wait_for_card(0.5).type == CardType.ULTRALIGHT
    assert reader.ntag_read(0)[:3] == bytes.fromhex("041122")


def test_ntag424_via_rats(reader, field):
    field.place(new_ntag424())
    info = reader.wait_for_card(0.5)
    assert info.type == CardType.NTAG424_DNA and info.ats


def test_card_gone_mid_exchange(reader, field):
    field.place(new_classic())
    reader.wait_for_card(0.5)
    reader.mifare_auth(4, KeyType.A, FF)
    field.tear_at(1)
    with pytest.raises(CardGone):
        reader.mifare_read(4)
    assert reader.wait_for_removal(0.2) is True


def test_torn_between_the_two_write_phases(reader, field):
    card = new_classic()
    field.place(card)
    reader.wait_for_card(0.5)
    reader.mifare_auth(4, KeyType.A, FF)
    field.tear_at(2)  # after the address phase, before the data phase reaches the card
    with pytest.raises(CardGone):
        reader.mifare_write(4, b"q" * 16)
    assert card.memory[64:80] == bytes(16)


def test_rf_error_then_recovery(reader, field):
    field.place(new_classic())
    reader.wait_for_card(0.5)
    reader.mifare_auth(4, KeyType.A, FF)
    field.inject(CRC_ERROR)
    with pytest.raises(CardGone):
        reader.mifare_read(4)
    assert reader.wait_for_card(0.5) is not None
    reader.mifare_auth(4, KeyType.A, FF)
    assert reader.mifare_read(4) == bytes(16)


def test_removal(reader, field):
    field.place(new_classic())
    reader.wait_for_card(0.5)
    assert reader.wait_for_removal(0.02) is False
    field.remove()
    assert reader.wait_for_removal(0.2) is True


def test_unplugged_then_back(reader, field, model):
    field.place(new_classic())
    reader.wait_for_card(0.5)
    model.unplugged = True
    with pytest.raises(ReaderGone):
        reader.mifare_auth(4, KeyType.A, FF)
    with pytest.raises(ReaderGone):
        reader.wait_for_card(0.1)
    model.unplugged = False
    model.soft_reset()  # it comes back powered up afresh
    assert reader.wait_for_card(1.0) is not None
    assert reader.reconnects >= 1
    reader.mifare_auth(4, KeyType.A, FF)


def test_reset_pin_is_pulsed(model):
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    r = Rc522Reader(spi_factory=lambda: FakeSpiDev(model), reset_pin=25, pin_factory=factory)
    r.open()
    states = [state for _, state in factory.pin(25).states]
    assert states[-2:] == [False, True]
    r.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=8), st.integers(0, 2))
def test_garbage_from_the_fifo_gives_typed_errors(answers, op):
    """Whatever the chip hands back from its FIFO, the driver raises only its own errors."""
    model = Mfrc522Model(Field(new_classic()))
    scripted = list(answers)

    def air(frame, last_bits):
        if not scripted:
            raise CardGone("script over")
        data = scripted.pop(0)
        return data, len(data) % 8

    model._air = air
    r = Rc522Reader(spi_factory=lambda: FakeSpiDev(model), poll_interval=0.0,
                    answer_timeout=0.0)
    r.open()
    try:
        if op == 0:
            r.wait_for_card(0.0)
        else:
            from kiosk.reader.base import CardInfo

            r._card = CardInfo(bytes.fromhex("01020304"), CardType.MIFARE_CLASSIC_1K)
            r.mifare_read(4) if op == 1 else r.mifare_write(4, bytes(16))
    except ReaderError:
        pass


def test_ntag424_apdus(reader, field):
    field.place(new_ntag424())
    reader.wait_for_card(0.5)
    assert reader.apdu(bytes.fromhex("00A4040007D276000085010100")) == b"\x90\x00"
    assert reader.apdu(bytes.fromhex("9060000000"))[-2:] == b"\x91\xaf"  # GetVersion, more
    assert reader.apdu(bytes.fromhex("90AF000000"))[-2:] == b"\x91\xaf"
    field.place(new_classic())
    reader.wait_for_card(0.5)
    with pytest.raises(NotSupported):
        reader.apdu(bytes.fromhex("00A4040007D276000085010100"))
