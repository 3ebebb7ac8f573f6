"""The PC/SC driver through real pyscard and a real pcscd, whose vpcd reader holds our
emulated ACR122U with a chip model on it."""

from __future__ import annotations

import time

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardType, KeyType, NotSupported, ReaderGone
from kiosk.reader.chips import new_classic
from tests.emulators import pcscd
from tests.emulators.acr122u import Acr122uEmulator
from tests.emulators.field import Field

FF = mifare.TRANSPORT_KEY
why_not = pcscd.available()
pytestmark = pytest.mark.skipif(bool(why_not), reason=why_not or "pcscd available")


@pytest.fixture
def daemon(pcsc_daemon):
    return pcsc_daemon  # one pcscd per test process (tests/conftest.py)


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
