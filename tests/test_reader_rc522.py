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
    ReaderError,
    ReaderGone,
)
from kiosk.reader.chips import new_classic, new_ntag424
from kiosk.reader.rc522 import Rc522Reader, crc_a
from tests.emulators.field import Field
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


def test_ntag424_via_rats(reader, field):
    field.place(new_ntag424())
    info = reader.wait_for_card(0.5)
    assert info.type == CardType.NTAG424_DNA and info.ats


def test_torn_between_the_two_write_phases(reader, field):
    card = new_classic()
    field.place(card)
    reader.wait_for_card(0.5)
    reader.mifare_auth(4, KeyType.A, FF)
    field.tear_at(2)  # after the address phase, before the data phase reaches the card
    with pytest.raises(CardGone):
        reader.mifare_write(4, b"q" * 16)
    assert card.memory[64:80] == bytes(16)


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
