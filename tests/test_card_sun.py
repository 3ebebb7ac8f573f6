"""NTAG 424 DNA SUN: AN12196's worked example, and the emulated chip's rising counter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.reader.card_format import CardFormatError, CardMacError
from kiosk.reader.card_sun import make_sun_url, ndef_uri_file, read_sun, verify_sun
from kiosk.reader.chips import Ntag424

ZERO = bytes(16)
PICC = bytes.fromhex("EF963FF7828658A599F3041510671E88")
MAC = bytes.fromhex("94EED9EE65337086")


def test_an12196_example():
    msg = verify_sun(ZERO, ZERO, PICC, MAC)
    assert msg.uid == bytes.fromhex("04DE5F1EACC040") and msg.counter == 61


def test_an12196_example_altered_fails():
    with pytest.raises(CardMacError):
        verify_sun(ZERO, ZERO, PICC, bytes.fromhex("94EED9EE65337087"))
    with pytest.raises(CardMacError):
        verify_sun(ZERO, b"\x01" * 16, PICC, MAC)


def test_emulated_chip_counter_rises_with_each_tap():
    meta, file = b"m" * 16, b"f" * 16
    uid = bytes.fromhex("04112233445566")
    chip = Ntag424(
        uid,
        sun=lambda u, c: ndef_uri_file(make_sun_url(meta, file, u, c, "https://k.example/t", b"r")),
    )
    seen = []
    for _ in range(3):
        chip.place()
        chip.select()
        assert chip.apdu(bytes.fromhex("00A4040007D276000085010100"))[-2:] == b"\x90\x00"
        assert chip.apdu(bytes.fromhex("00A4000C02E104"))[-2:] == b"\x90\x00"
        data = chip.apdu(bytes.fromhex("00B0000000"))
        msg = read_sun(meta, file, data[:-2])
        assert msg.uid == uid
        seen.append(msg.counter)
    assert seen == [1, 2, 3]


@given(st.binary(max_size=300))
def test_read_sun_raises_only_the_typed_error(data):
    try:
        read_sun(ZERO, ZERO, data)
    except CardFormatError:
        pass
