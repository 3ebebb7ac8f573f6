"""Hostile bytes from a PC/SC reader: whatever pcscd hands back, the driver raises only its typed
errors; and the emulated ACR122U answers any APDU without failing."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.reader.base import CardInfo, CardType, KeyType, ReaderError
from tests.emulators.acr122u import Acr122uEmulator
from tests.emulators.field import Field

scard = pytest.importorskip("smartcard.scard")

EXAMPLES = 2000 if os.environ.get("KIOSK_FULL") else 300
hresults = st.sampled_from([0, 0, 0, 0x80100069, 0x80100016, 0x8010001D, 0x80100017, 0x80100004])


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=40))
def test_atr_parser_is_total(atr):
    from kiosk.reader.pcsc import sak_from_atr

    try:
        sak, historical = sak_from_atr(atr)
    except ReaderError:
        return
    assert 0 <= sak <= 255 and len(historical) <= 15


OPERATIONS = {
    "connect": lambda r: r._connect_card(),
    "auth": lambda r: r.mifare_auth(4, KeyType.B, b"\x00" * 6),
    "read": lambda r: r.mifare_read(4),
    "write": lambda r: r.mifare_write(4, bytes(16)),
    "ntag_read": lambda r: r.ntag_read(4),
    "ntag_write": lambda r: r.ntag_write(4, b"abcd"),
    "pwd": lambda r: r.ntag_pwd_auth(b"\xff" * 4),
    "sig": lambda r: r.read_signature(),
    "firmware": lambda r: r.firmware(),
}


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(hresults, st.binary(max_size=40)), max_size=6),
       st.sampled_from(sorted(OPERATIONS)),
       st.sampled_from([CardType.MIFARE_CLASSIC_1K, CardType.NTAG213]))
def test_driver_turns_any_reader_answer_into_typed_errors(monkeypatch_answers, op, kind):
    from kiosk.reader import pcsc

    answers = list(monkeypatch_answers)

    def next_answer():
        return answers.pop(0) if answers else (0x80100069, b"")

    def transmit(handle, protocol, apdu):
        hresult, data = next_answer()
        return hresult, list(data)

    def status(handle):
        hresult, data = next_answer()
        return hresult, "Virtual PCD 00 00", 0x34, 2, list(data)

    def connect(context, name, share, protocols):
        return next_answer()[0], 1, 2

    def reconnect(handle, share, protocols, init):
        return next_answer()[0], 2

    saved = {n: getattr(scard, n) for n in ("SCardTransmit", "SCardStatus", "SCardConnect",
                                            "SCardReconnect", "SCardDisconnect",
                                            "SCardReleaseContext")}
    scard.SCardTransmit, scard.SCardStatus = transmit, status
    scard.SCardConnect, scard.SCardReconnect = connect, reconnect
    scard.SCardDisconnect = lambda handle, disposition: 0
    scard.SCardReleaseContext = lambda context: 0
    try:
        reader = pcsc.PcscReader()
        reader._context, reader.reader_name = 1, "Virtual PCD 00 00"
        reader._card_handle, reader._protocol = 1, 2
        reader._card = CardInfo(bytes.fromhex("04112233"), kind, b"", 0x08)
        try:
            OPERATIONS[op](reader)
        except ReaderError:
            pass
    finally:
        for name, fn in saved.items():
            setattr(scard, name, fn)


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=300))
def test_emulated_acr122u_answers_any_apdu(apdu):
    from kiosk.reader.chips import new_classic

    field = Field(new_classic())
    emu = Acr122uEmulator(field)
    emu._activate()
    answer = emu.apdu(apdu)
    assert isinstance(answer, bytes) and len(answer) >= 2
