"""The PC/SC driver through real pyscard and a real pcscd, whose vpcd reader holds our
emulated ACR122U with a chip model on it."""

from __future__ import annotations

import os
import time

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardGone, CardType, KeyType, NotSupported, ReaderGone
from kiosk.reader.chips import new_classic, new_ntag, new_ntag424
from tests.emulators import pcscd
from tests.emulators.acr122u import Acr122uEmulator
from tests.emulators.field import CRC_ERROR, Field

FF = mifare.TRANSPORT_KEY
why_not = pcscd.available()
pytestmark = pytest.mark.skipif(bool(why_not), reason=why_not or "pcscd available")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with pcscd.Pcscd(tmp_path_factory.mktemp("pcscd")) as d:
        # libpcsclite reads this once per process, at the first context
        os.environ["PCSCLITE_CSOCK_NAME"] = str(d.socket)
        yield d


@pytest.fixture
def field():
    return Field()


@pytest.fixture
def acr122u(daemon, field):
    with Acr122uEmulator(field, daemon.port) as emu:
        yield emu


@pytest.fixture
def reader(daemon, acr122u):
    from kiosk.reader.pcsc import PcscReader

    r = PcscReader("Virtual PCD")
    r.open()
    # pcscd polls vpcd every 0.4 s: let it see the last test's card leave before a new one
    assert r.wait_for_removal(3.0)
    yield r
    r.close()


def test_pyscard_lists_the_virtual_reader(daemon):
    from smartcard.System import readers

    assert any("Virtual PCD" in str(r) for r in readers())


def test_no_card(reader):
    assert reader.wait_for_card(0.3) is None


def test_classic_uid_type_auth_read_write(reader, field, acr122u):
    card = new_classic(bytes.fromhex("CAFEF00D"))
    field.place(card)
    info = reader.wait_for_card(5.0)
    assert info.uid == bytes.fromhex("CAFEF00D")
    assert info.type == CardType.MIFARE_CLASSIC_1K and info.sak == 0x08
    assert reader.firmware().startswith("ACR122U")
    reader.mifare_auth(4, KeyType.A, FF)
    reader.mifare_write(6, bytes(range(16)))
    assert reader.mifare_read(6) == bytes(range(16))
    with pytest.raises(AuthFailed):
        reader.mifare_auth(8, KeyType.A, bytes(6))
    reader.mifare_auth(4, KeyType.A, FF)  # re-selected after the refusal
    assert reader.mifare_read(6) == bytes(range(16))
    with pytest.raises(NotSupported):
        reader.ntag_read(4)


def test_classic_4k(reader, field):
    field.place(new_classic(four_k=True))
    assert reader.wait_for_card(5.0).type == CardType.MIFARE_CLASSIC_4K


@pytest.mark.parametrize("kind,expected", [("ntag213", CardType.NTAG213),
                                           ("ntag216", CardType.NTAG216)])
def test_ntag(reader, field, kind, expected):
    tag = new_ntag(kind=kind)
    field.place(tag)
    info = reader.wait_for_card(5.0)
    assert info.type == expected and info.uid == tag.uid
    reader.ntag_write(5, b"PCSC")
    assert reader.ntag_read(5)[:4] == b"PCSC"
    assert reader.read_signature() == tag.read_sig()
    with pytest.raises(AuthFailed):
        reader.ntag_pwd_auth(b"nope")
    assert reader.ntag_pwd_auth(b"\xff" * 4) == b"\x00\x00"


def test_ntag_counter_once_per_tap_behind_the_password(reader, field):
    tag = new_ntag(kind="ntag213")
    tag.write(tag.variant.cfg0 + 1, b"\x18\x00\x00\x00")  # NFC_CNT_EN, NFC_CNT_PWD_PROT
    for tap in (1, 2):
        field.place(tag)
        reader.wait_for_card(5.0)
        reader.ntag_read(4)  # the first READ of the tap raises the counter
        with pytest.raises(AuthFailed):
            reader.ntag_read_counter()
        assert reader.ntag_read(0)[:3] == tag.uid[:3]  # re-selected after the NAK
        reader.ntag_pwd_auth(b"\xff" * 4)
        assert reader.ntag_read_counter() == tap == tag.nfc_counter
        field.remove()
        assert reader.wait_for_removal(3.0)


def test_ntag424(reader, field):
    tag = new_ntag424()
    field.place(tag)
    info = reader.wait_for_card(5.0)
    assert info.type == CardType.NTAG424_DNA and info.uid == tag.uid


def test_removal_and_card_gone_mid_exchange(reader, field):
    field.place(new_classic())
    reader.wait_for_card(5.0)
    reader.mifare_auth(4, KeyType.A, FF)
    field.tear_at(1)
    with pytest.raises(CardGone):
        reader.mifare_read(4)
    assert reader.wait_for_removal(5.0) is True


def test_rf_error_then_recovery(reader, field):
    field.place(new_classic())
    assert reader.wait_for_card(5.0) is not None
    reader.mifare_auth(4, KeyType.A, FF)
    field.inject(CRC_ERROR)
    with pytest.raises((CardGone, AuthFailed)):
        reader.mifare_read(4)
    reader.mifare_auth(4, KeyType.A, FF)
    assert reader.mifare_read(4) == bytes(16)


def test_pcscd_gone_then_back(reader, field, daemon):
    field.place(new_classic())
    reader.wait_for_card(5.0)
    daemon.stop()
    with pytest.raises(ReaderGone):
        reader.mifare_auth(4, KeyType.A, FF)
    with pytest.raises(ReaderGone):
        reader.wait_for_card(0.3)
    daemon.start()
    started = time.monotonic()
    info = reader.wait_for_card(10.0)
    assert info is not None, f"no card {time.monotonic() - started:.1f}s after pcscd restarted"
    assert reader.reconnects >= 1
    reader.mifare_auth(4, KeyType.A, FF)


def test_ntag424_apdus(reader, field):
    field.place(new_ntag424())
    reader.wait_for_card(5.0)
    assert reader.apdu(bytes.fromhex("00A4040007D276000085010100")) == b"\x90\x00"
    assert reader.apdu(bytes.fromhex("9060000000"))[-2:] == b"\x91\xaf"  # GetVersion, more
    assert reader.apdu(bytes.fromhex("90AF000000"))[-2:] == b"\x91\xaf"
    field.remove()  # pcscd polls the virtual reader: a swap without a lift may go unseen
    assert reader.wait_for_removal(5.0)
    field.place(new_classic())
    assert reader.wait_for_card(5.0) is not None
    with pytest.raises(NotSupported):
        reader.apdu(bytes.fromhex("00A4040007D276000085010100"))
