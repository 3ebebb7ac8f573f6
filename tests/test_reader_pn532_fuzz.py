"""Hostile bytes at every parser of reader bytes: the emulator's frame parser, and nfcpy plus
our PN532 driver reading whatever a broken or malicious reader sends back."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.reader import identify
from kiosk.reader.base import CardInfo, CardType, KeyType, ReaderError
from kiosk.reader.pn532 import Pn532Reader, _parse_target
from tests.emulators.pn532_frames import ACK, Ack, Bad, Command, FrameParser, Nack, frame

EXAMPLES = 2000 if os.environ.get("KIOSK_FULL") else 300


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=20))
def test_frame_parser_takes_any_bytes_in_any_chunks(data, cuts):
    whole = FrameParser().feed(data)
    parser, events, at = FrameParser(), [], 0
    for cut in cuts:
        events += parser.feed(data[at : at + cut])
        at += cut
    events += parser.feed(data[at:])
    assert all(isinstance(e, Command | Ack | Nack | Bad) for e in whole)
    assert events == whole  # how the UART happens to chunk the stream changes nothing
    assert all(len(e.info) <= 265 for e in events if isinstance(e, Command))


@settings(max_examples=EXAMPLES)
@given(st.binary(min_size=1, max_size=300), st.binary(max_size=40), st.binary(max_size=40))
def test_frames_round_trip_through_noise(info, before, after):
    before = before.replace(b"\x00\xff", b"\x01\xff")  # noise without a start code
    events = FrameParser().feed(before + frame(info) + after)
    assert Command(info, events[0].preamble if events else 0) in events


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=40))
def test_target_parser_is_total(data):
    try:
        atqa, sak, uid, ats = _parse_target(data)
    except ReaderError:
        return
    assert len(atqa) == 2 and len(uid) in (4, 7, 10) and 0 <= sak <= 255


@settings(max_examples=EXAMPLES)
@given(st.integers(0, 255), st.one_of(st.none(), st.binary(max_size=12)), st.binary(max_size=20))
def test_classify_is_total(sak, version, ats):
    assert isinstance(identify.classify(sak, version, ats), CardType)


class ScriptedTransport:
    """The lowest layer nfcpy's chipset talks to, answering with hypothesis' bytes."""

    TYPE = "TTY"

    def __init__(self, answers: list[bytes]):
        self.answers = list(answers)
        self.baudrate = 115200

    def write(self, frame: bytes) -> None:
        pass

    def read(self, timeout: int) -> bytearray:
        if not self.answers:
            raise OSError(110, "timeout")
        return bytearray(self.answers.pop(0))

    def close(self) -> None:
        pass


answers = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.just(ACK),
        st.binary(max_size=40).map(lambda b: frame(b"\xd5\x41" + b)),
        st.binary(max_size=40).map(lambda b: frame(b"\xd5\x4b" + b)),
        st.binary(max_size=40).map(lambda b: frame(b"\xd5\x43" + b)),
        st.binary(max_size=40).map(lambda b: frame(b"\xd5\x03" + b)),
        st.binary(max_size=5).map(lambda b: frame(b"\xd5\x33" + b)),
    ),
    max_size=8,
)

OPERATIONS = {
    "firmware": lambda r: r.firmware(),
    "activate": lambda r: r._activate(),
    "wait": lambda r: r.wait_for_card(0.0),
    "removal": lambda r: r.wait_for_removal(0.0),
    "auth": lambda r: r.mifare_auth(4, KeyType.A, b"\xff" * 6),
    "read": lambda r: r.mifare_read(4),
    "write": lambda r: r.mifare_write(4, bytes(16)),
    "ntag_read": lambda r: r.ntag_read(4),
    "pwd": lambda r: r.ntag_pwd_auth(b"\xff" * 4),
    "sig": lambda r: r.read_signature(),
}


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(answers, st.sampled_from(sorted(OPERATIONS)), st.sampled_from([CardType.MIFARE_CLASSIC_1K,
                                                                      CardType.NTAG213]))
def test_driver_turns_any_reader_answer_into_typed_errors(script, op, kind):
    import nfc.clf.pn532

    logging.getLogger("nfc").setLevel(logging.CRITICAL)
    reader = Pn532Reader("/dev/null", poll_interval=0.0)
    chipset = nfc.clf.pn532.Chipset(ScriptedTransport(script), logging.getLogger("fuzz"))
    reader._device = SimpleNamespace(chipset=chipset, close=lambda: None)
    reader._connect = lambda: reader._device  # "reconnecting" finds the same scripted line
    reader._card = CardInfo(bytes.fromhex("04112233"), kind, b"\x04\x00", 0x08)
    try:
        OPERATIONS[op](reader)
    except ReaderError:
        pass
