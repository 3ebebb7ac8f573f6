"""The PN532 emulator's clock is what bench/read.py reports against: air time per ISO/IEC
14443-A at 106 kbit/s, and a trace that counts every byte the line carried."""

from __future__ import annotations

import threading

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import KeyType
from kiosk.reader.chips import new_classic
from kiosk.reader.pn532 import Pn532Reader
from tests.emulators.field import Field
from tests.emulators.pn532 import Pn532Emulator

FC = 13.56e6
BIT = 128 / FC
FDT = 1172 / FC  # the least frame delay time at every change of direction


def air(bits: int, turns: int) -> float:
    return bits * BIT + turns * FDT


def test_air_time_of_a_classic_tap_follows_the_standard():
    field = Field()
    card = new_classic(bytes.fromhex("DEADBEEF"))
    field.place(card)
    start = field.rf_seconds
    field.activate()
    # REQA 7 bits, ATQA 2 B, ANTICOLLISION 2 B, UID + BCC 5 B, SELECT 9 B, SAK + CRC 3 B: each
    # byte 9 bits with parity, each frame a start and an end bit; five changes of direction
    activation = air(9 + 20 + 20 + 47 + 83 + 29, 5)
    assert field.rf_seconds - start == pytest.approx(activation)
    start = field.rf_seconds
    field.authenticate(7, KeyType.A, mifare.TRANSPORT_KEY, card.uid)
    # AUTH + CRC 4 B, nT 4 B, nR aR 8 B, aT 4 B
    assert field.rf_seconds - start == pytest.approx(air(38 + 38 + 74 + 38, 3))
    start = field.rf_seconds
    assert field.transceive(bytes([0x30, 4])) == bytes(16)
    # READ + CRC 4 B, 16 data + CRC 18 B
    assert field.rf_seconds - start == pytest.approx(air(38 + 164, 1))


def test_a_classic_write_from_the_pn532_is_two_phases_and_programming():
    field = Field()
    card = new_classic()
    field.place(card)
    field.activate()
    field.authenticate(7, KeyType.A, mifare.TRANSPORT_KEY, card.uid)
    start = field.rf_seconds
    assert field.transceive(bytes([0xA0, 4]) + bytes(16), 2.5e-3, address_phase=True) == b""
    # A0 block + CRC, 4-bit ACK, data + CRC, programming, 4-bit ACK
    expected = air(38 + 6 + 164 + 6, 2) + 2.5e-3
    assert field.rf_seconds - start == pytest.approx(expected)


@pytest.fixture
def rig(tmp_path):
    field = Field()
    with Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        reader = Pn532Reader(emu.path)
        reader.open()
        yield field, emu, reader
        reader.close()


def test_trace_counts_every_byte_on_the_line(rig):
    field, emu, reader = rig
    card = new_classic()
    field.place(card)
    emu.reset_counters()
    reader.firmware()
    reader.wait_for_card(1.0)
    reader.mifare_auth(4, KeyType.A, mifare.TRANSPORT_KEY)
    reader.mifare_read(4)
    assert [e.code for e in emu.trace] == [0x02, 0x32, 0x4A, 0x40, 0x40]
    assert sum(e.host_bytes for e in emu.trace) == emu.bytes_in
    assert sum(e.ack_bytes + e.reply_bytes for e in emu.trace) == emu.bytes_out
    read = emu.trace[-1]
    assert (read.host_bytes, read.reply_bytes) == (12, 26)  # D4 40 01 30 04; D5 41 00 + 16


def test_waiting_for_a_card_is_not_counted_as_air_time(rig):
    field, emu, reader = rig
    emu.reset_counters()
    card = new_classic(bytes.fromhex("DEADBEEF"))
    threading.Timer(0.2, field.place, (card,)).start()
    assert reader.wait_for_card(2.0) is not None
    (poll,) = [e for e in emu.trace if e.code == 0x4A]
    assert poll.air_s == pytest.approx(air(9 + 20 + 20 + 47 + 83 + 29, 5))
    assert poll.reply_at - poll.ack_at > 0.15  # the reply waited for the card in real time
