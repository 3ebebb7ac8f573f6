"""The PN532 driver, running nfcpy's real PN532 driver over a pty to the emulated chip."""

from __future__ import annotations

import os
import threading
import time

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardGone, CardType, KeyType, NotSupported, ReaderGone
from kiosk.reader.chips import Ntag, new_classic, new_ntag, new_ntag424
from kiosk.reader.pn532 import Pn532Reader
from tests.emulators.field import CRC_ERROR, PARITY_ERROR, Field
from tests.emulators.pn532 import Pn532Emulator

FF = mifare.TRANSPORT_KEY
KEY_B = bytes.fromhex("B0B1B2B3B4B5")


@pytest.fixture
def field():
    return Field()


@pytest.fixture
def emulator(field, tmp_path):
    with Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        yield emu


@pytest.fixture
def reader(emulator):
    r = Pn532Reader(emulator.path, poll_interval=0.005)
    r.open()
    yield r
    r.close()


def test_firmware_and_line_speed(reader, emulator):
    assert reader.firmware() == "PN532 v1.6"
    assert emulator.baud == 115200  # nfcpy negotiated 921600 on the pty; the driver pinned it


def test_driver_can_keep_nfcpys_fast_uart(emulator):
    with Pn532Reader(emulator.path, baudrate=None) as r:
        assert r.firmware() == "PN532 v1.6"
    assert emulator.baud in (921600, 115200)  # close() sets 115200 again, as nfcpy does


def test_no_card_is_none_after_one_cancelled_poll_of_type_a(reader, emulator):
    emulator.reset_counters()
    started = time.monotonic()
    assert reader.wait_for_card(0.15) is None
    assert 0.14 < time.monotonic() - started < 1.0
    assert emulator.polled == {0: 1}  # one InListPassiveTarget; the chip retried inside it
    assert reader.firmware() == "PN532 v1.6"  # the host's ACK cancelled it: the chip listens


def test_card_placed_during_the_poll_is_found_by_that_poll(reader, field, emulator):
    emulator.reset_counters()
    card = new_classic()
    threading.Timer(0.05, field.place, (card,)).start()
    info = reader.wait_for_card(2.0)
    assert info is not None and info.uid == card.uid
    assert emulator.polled == {0: 1}


def test_classic_detected_with_uid_and_type(reader, field):
    card = new_classic(bytes.fromhex("DEADBEEF"))
    field.place(card)
    info = reader.wait_for_card(1.0)
    assert info.uid == bytes.fromhex("DEADBEEF")
    assert info.type == CardType.MIFARE_CLASSIC_1K
    assert info.atqa == b"\x04\x00" and info.sak == 0x08
    field.place(new_classic(four_k=True))
    assert reader.wait_for_card(1.0).type == CardType.MIFARE_CLASSIC_4K


def test_classic_auth_read_write(reader, field):
    field.place(new_classic())
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    reader.mifare_write(5, bytes(range(16)))
    assert reader.mifare_read(5) == bytes(range(16))
    assert reader.mifare_read(4) == bytes(16)
    with pytest.raises(AuthFailed):
        reader.mifare_auth(8, KeyType.A, bytes(6))
    reader.mifare_auth(4, KeyType.A, FF)  # the driver re-selected the card after the failure
    assert reader.mifare_read(5) == bytes(range(16))


def test_classic_access_bits_refuse_a_write_with_key_a(reader, field):
    field.place(new_classic())
    reader.wait_for_card(1.0)
    access = mifare.encode_access_bits(((1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 1)))
    reader.mifare_auth(7, KeyType.A, FF)
    reader.mifare_write(7, mifare.trailer(FF, access, KEY_B))
    reader.mifare_auth(4, KeyType.A, FF)
    assert reader.mifare_read(4) == bytes(16)
    with pytest.raises(AuthFailed):
        reader.mifare_write(4, b"x" * 16)  # a NAK: the card goes mute...
    reader.mifare_auth(4, KeyType.A, FF)  # ...and answers again in the same tap, re-selected
    assert reader.mifare_read(4) == bytes(16)
    reader.mifare_auth(4, KeyType.B, KEY_B)
    reader.mifare_write(4, b"y" * 16)
    assert reader.mifare_read(4) == b"y" * 16


def test_refused_read_and_ntag_write_leave_the_card_usable(reader, field):
    field.place(new_classic())
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    with pytest.raises(AuthFailed):
        reader.mifare_read(8)  # another sector than the one authenticated: NAK
    reader.mifare_auth(4, KeyType.A, FF)
    assert reader.mifare_read(4) == bytes(16)
    field.place(new_ntag(kind="ntag213"))
    reader.wait_for_card(1.0)
    with pytest.raises(AuthFailed):
        reader.ntag_write(200, b"KSK1")  # past the end of the memory: NAK
    assert len(reader.ntag_read(4)) == 16


@pytest.mark.parametrize("kind,expected", [
    ("ntag213", CardType.NTAG213), ("ntag215", CardType.NTAG215),
    ("ntag216", CardType.NTAG216), ("ultralight_ev1", CardType.ULTRALIGHT),
])
def test_ntag_type_pages_signature(reader, field, kind, expected):
    tag = new_ntag(kind=kind)
    field.place(tag)
    info = reader.wait_for_card(1.0)
    assert info.type == expected and info.uid == tag.uid and len(info.uid) == 7
    assert reader.ntag_read(0)[:3] == tag.uid[:3]
    reader.ntag_write(4, b"KSK1")
    assert reader.ntag_read(4)[:4] == b"KSK1"
    assert reader.read_signature() == tag.read_sig()
    with pytest.raises(NotSupported):
        reader.mifare_read(4)


def test_first_ultralight_without_get_version_stays_usable(reader, field):
    tag = Ntag(bytes.fromhex("04112233445566"), "ultralight", bytes(32))
    field.place(tag)
    assert reader.wait_for_card(1.0).type == CardType.ULTRALIGHT
    assert reader.ntag_read(0)[:3] == tag.uid[:3]


def test_ntag_password(reader, field):
    field.place(new_ntag(kind="ntag213"))
    reader.wait_for_card(1.0)
    with pytest.raises(AuthFailed):
        reader.ntag_pwd_auth(b"1234")
    assert reader.ntag_pwd_auth(b"\xff" * 4) == b"\x00\x00"  # factory password, PACK 0000
    assert reader.ntag_read(4) is not None


def test_ntag_counter_once_per_tap_behind_the_password(reader, field):
    tag = new_ntag(kind="ntag213")
    field.place(tag)
    reader.wait_for_card(1.0)
    reader.ntag_write(tag.variant.cfg0 + 1, b"\x18\x00\x00\x00")  # NFC_CNT_EN, NFC_CNT_PWD_PROT
    for tap in (1, 2):
        field.remove()
        field.place(tag)
        reader.wait_for_card(1.0)
        reader.ntag_read(4)  # the first READ of the tap raises the counter
        reader.ntag_pwd_auth(b"\xff" * 4)
        assert reader.ntag_read_counter() == tap == tag.nfc_counter
    field.remove()
    field.place(tag)
    reader.wait_for_card(1.0)
    with pytest.raises(AuthFailed):
        reader.ntag_read_counter()  # behind the password
    # re-selected after the NAK by a power cycle of the field, so this READ counts once more
    assert reader.ntag_read(0)[:3] == tag.uid[:3]
    reader.ntag_pwd_auth(b"\xff" * 4)
    assert reader.ntag_read_counter() == 3 == tag.nfc_counter


def test_ntag424_recognised(reader, field):
    tag = new_ntag424()
    field.place(tag)
    info = reader.wait_for_card(1.0)
    assert info.type == CardType.NTAG424_DNA and info.uid == tag.uid and info.ats
    with pytest.raises(NotSupported):
        reader.ntag_read(0)


def test_card_gone_mid_exchange(reader, field):
    card = new_classic()
    field.place(card)
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    field.tear_at(1)
    with pytest.raises(CardGone):
        reader.mifare_read(4)
    assert reader.wait_for_removal(0.5) is True


def test_card_torn_after_a_write_it_performed(reader, field):
    card = new_classic()
    field.place(card)
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    field.tear_at(1, after=True)
    with pytest.raises(CardGone):
        reader.mifare_write(4, b"z" * 16)
    field.place(card)
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    assert reader.mifare_read(4) == b"z" * 16  # written, only the answer was lost


def test_chip_level_tear_mid_write(reader, field):
    card = new_classic()
    field.place(card)
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    card.tear(after_writes=0, after_bytes=5)
    with pytest.raises(CardGone):
        reader.mifare_write(4, b"w" * 16)
    assert card.memory[64:80] == b"w" * 5 + bytes(11)


@pytest.mark.parametrize("status", [CRC_ERROR, PARITY_ERROR, 0x13])
def test_rf_errors_are_card_gone_and_recoverable(reader, field, status):
    field.place(new_classic())
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, FF)
    field.inject(status)
    with pytest.raises(CardGone, match=f"0x{status:02X}"):
        reader.mifare_read(4)
    assert reader.mifare_read(4) == bytes(16)


def test_rf_error_during_activation_is_retried(reader, field):
    field.place(new_classic())
    field.inject(CRC_ERROR)
    assert reader.wait_for_card(1.0) is not None


def test_removal(reader, field):
    field.place(new_classic())
    reader.wait_for_card(1.0)
    assert reader.wait_for_removal(0.05) is False
    field.remove()
    assert reader.wait_for_removal(0.5) is True


def test_unplug_gives_reader_gone_then_reconnects(reader, field, emulator):
    field.place(new_classic())
    reader.wait_for_card(1.0)
    emulator.unplug()
    with pytest.raises(ReaderGone):
        reader.mifare_auth(4, KeyType.A, FF)
    with pytest.raises(ReaderGone):
        reader.wait_for_card(0.1)  # still unplugged: typed error once the wait is over
    emulator.replug()
    info = reader.wait_for_card(2.0)
    assert info is not None and reader.reconnects >= 1
    reader.mifare_auth(4, KeyType.A, FF)


def test_watchdog_reinitialises_a_deaf_chip(reader, field, emulator):
    emulator.hang()
    field.place(new_classic())
    assert reader.wait_for_card(3.0) is not None
    assert reader.reconnects == 1


def test_watchdog_checks_an_idle_chip(field, emulator):
    with Pn532Reader(emulator.path, poll_interval=0.005, health_interval=0.05) as r:
        emulator.reset_counters()
        r._last_ok -= 1.0  # as if the kiosk had been idle
        assert r.wait_for_card(0.02) is None
        assert emulator.commands[0x02] == 1  # GetFirmwareVersion before polling


def test_garbage_on_the_line_does_not_kill_the_chip(reader, emulator):
    fd = os.open(emulator.tty_path, os.O_WRONLY | os.O_NOCTTY)
    try:
        os.write(fd, os.urandom(2000) + bytes.fromhex("0000ff05fbd4"))
    finally:
        os.close(fd)
    time.sleep(0.1)
    assert reader.firmware() == "PN532 v1.6"


def test_factory_opens_pn532(emulator):
    from kiosk.config import ReaderConfig
    from kiosk.reader.factory import open_reader

    with open_reader(ReaderConfig(driver="pn532", port=emulator.path)) as r:
        assert isinstance(r, Pn532Reader)
        assert r.firmware() == "PN532 v1.6"


def test_ntag424_apdus(reader, field):
    field.place(new_ntag424())
    reader.wait_for_card(1.0)
    assert reader.apdu(bytes.fromhex("00A4040007D276000085010100")) == b"\x90\x00"
    assert reader.apdu(bytes.fromhex("9060000000"))[-2:] == b"\x91\xaf"  # GetVersion, more
    assert reader.apdu(bytes.fromhex("90AF000000"))[-2:] == b"\x91\xaf"
    field.place(new_classic())
    reader.wait_for_card(1.0)
    with pytest.raises(NotSupported):
        reader.apdu(bytes.fromhex("00A4040007D276000085010100"))
