"""The PN532 driver, running nfcpy's real PN532 driver over a pty to the emulated chip."""

from __future__ import annotations

import os
import threading
import time

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import CardGone, CardType, KeyType, ReaderGone
from kiosk.reader.chips import new_classic
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
    from kiosk.app.config import ReaderConfig
    from kiosk.reader.factory import open_reader

    with open_reader(ReaderConfig(driver="pn532", port=emulator.path)) as r:
        assert isinstance(r, Pn532Reader)
        assert r.firmware() == "PN532 v1.6"
