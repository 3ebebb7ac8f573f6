"""The reader contract, once, run against every registered driver through its emulator: the
PN532 driver over nfcpy on a pty to the emulated chip, the PC/SC driver through pyscard and a
real pcscd holding the emulated ACR122U, the RC522 driver against the MFRC522 register model,
and the simulated reader. What a driver's Capabilities row says it cannot do must raise
NotSupported; everything else must behave the same on all four. Faults are injected in the
chip models, which every rig shares, so the same tear or RF error reaches every driver.

Driver-specific behaviour (polling, baud rates, watchdogs, unplugging, the daemon going away)
stays in each driver's own test file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from kiosk.reader import mifare
from kiosk.reader.base import AuthFailed, CardGone, CardInfo, CardType, KeyType, NotSupported
from kiosk.reader.chips import Chip, Ntag, new_classic, new_ntag, new_ntag424
from kiosk.reader.drivers import DRIVERS
from kiosk.reader.tag import TagReader
from tests.emulators.field import Field

FF = mifare.TRANSPORT_KEY
SELECT_NDEF_APP = bytes.fromhex("00A4040007D276000085010100")


@dataclass
class Rig:
    """One driver with a card slot: place() and remove() move chips in and out of its field."""

    name: str
    reader: TagReader
    place: Callable[[Chip], None]
    remove: Callable[[], None]
    wait: float  # how long a card takes to be seen (pcscd polls its readers)

    def tap(self, chip: Chip) -> CardInfo:
        self.place(chip)
        info = self.reader.wait_for_card(self.wait)
        assert info is not None, f"{self.name}: no card seen"
        return info

    def lift(self) -> None:
        self.remove()
        assert self.reader.wait_for_removal(self.wait)


def _pn532_rig(tmp_path) -> Iterator[Rig]:
    from kiosk.reader.pn532 import Pn532Reader
    from tests.emulators.pn532 import Pn532Emulator

    field = Field()
    with Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        with Pn532Reader(emu.path, poll_interval=0.005) as reader:
            yield Rig("pn532", reader, field.place, field.remove, 1.0)


def _pcsc_rig(request) -> Iterator[Rig]:
    from kiosk.reader.pcsc import PcscReader
    from tests.emulators.acr122u import Acr122uEmulator

    daemon = request.getfixturevalue("pcsc_daemon")
    field = Field()
    with Acr122uEmulator(field, daemon.port):
        with PcscReader("Virtual PCD") as reader:
            assert reader.wait_for_removal(3.0)  # pcscd must see the last test's card leave
            yield Rig("pcsc", reader, field.place, field.remove, 5.0)


def _rc522_rig() -> Iterator[Rig]:
    from kiosk.reader.rc522 import Rc522Reader
    from tests.emulators.mfrc522 import FakeSpiDev, Mfrc522Model

    field = Field()
    model = Mfrc522Model(field)
    with Rc522Reader(spi_factory=lambda: FakeSpiDev(model), poll_interval=0.001) as reader:
        yield Rig("rc522", reader, field.place, field.remove, 0.5)


def _simulated_rig() -> Iterator[Rig]:
    from kiosk.reader.simulated import SimulatedReader

    reader = SimulatedReader()
    yield Rig("simulated", reader, reader.place, reader.remove, 0.5)


@pytest.fixture(params=sorted(DRIVERS))
def rig(request, tmp_path) -> Iterator[Rig]:
    make = {"pn532": lambda: _pn532_rig(tmp_path), "pcsc": lambda: _pcsc_rig(request),
            "rc522": _rc522_rig, "simulated": _simulated_rig}
    assert set(make) == set(DRIVERS), "a registered driver without an emulator rig"
    yield from make[request.param]()


def test_every_driver_is_a_tag_reader_with_its_registered_capabilities():
    for spec in DRIVERS.values():
        reader = spec.build("")
        assert isinstance(reader, TagReader)
        assert reader.capabilities == spec.capabilities


def test_no_card_is_none(rig):
    assert rig.reader.wait_for_card(0.2) is None


def test_firmware_as_the_capabilities_say(rig):
    if rig.reader.capabilities.firmware_without_card:
        assert rig.reader.firmware()
    else:
        with pytest.raises(NotSupported):
            rig.reader.firmware()
        rig.tap(new_classic())
        assert rig.reader.firmware()


@pytest.mark.parametrize("four_k,expected", [(False, CardType.MIFARE_CLASSIC_1K),
                                             (True, CardType.MIFARE_CLASSIC_4K)])
def test_classic_identity(rig, four_k, expected):
    card = new_classic(bytes.fromhex("CAFEF00D"), four_k=four_k)
    info = rig.tap(card)
    assert info.uid == card.uid and info.type == expected
    assert info.sak == (0x18 if four_k else 0x08)


def test_classic_auth_read_write_and_refusals_leave_the_card_usable(rig):
    card = new_classic()
    rig.tap(card)
    r = rig.reader
    r.mifare_auth(4, KeyType.A, FF)
    r.mifare_write(5, bytes(range(16)))
    assert r.mifare_read(5) == bytes(range(16))
    assert card.memory[80:96] == bytes(range(16))
    with pytest.raises(AuthFailed):
        r.mifare_auth(8, KeyType.A, bytes(6))  # wrong key
    r.mifare_auth(4, KeyType.A, FF)  # re-selected after the refusal
    assert r.mifare_read(5) == bytes(range(16))
    with pytest.raises((AuthFailed, CardGone)):
        r.mifare_read(8)  # another sector than the one authenticated: NAK
    r.mifare_auth(4, KeyType.A, FF)
    assert r.mifare_read(5) == bytes(range(16))
    with pytest.raises(ValueError):
        r.mifare_write(5, b"short")
    with pytest.raises(NotSupported):
        r.ntag_read(4)


def test_classic_access_bits_refuse_a_write_with_key_a(rig):
    key_b = bytes.fromhex("B0B1B2B3B4B5")
    rig.tap(new_classic())
    r = rig.reader
    access = mifare.encode_access_bits(((1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 1)))
    r.mifare_auth(7, KeyType.A, FF)
    r.mifare_write(7, mifare.trailer(FF, access, key_b))
    r.mifare_auth(4, KeyType.A, FF)
    with pytest.raises((AuthFailed, CardGone)):  # the ACR122U cannot tell a NAK from a loss
        r.mifare_write(4, b"x" * 16)
    r.mifare_auth(4, KeyType.B, key_b)
    r.mifare_write(4, b"y" * 16)
    assert r.mifare_read(4) == b"y" * 16


@pytest.mark.parametrize("kind,expected", [("ntag213", CardType.NTAG213),
                                           ("ntag215", CardType.NTAG215),
                                           ("ntag216", CardType.NTAG216),
                                           ("ultralight_ev1", CardType.ULTRALIGHT)])
def test_ntag_pages_signature_and_password(rig, kind, expected):
    tag = new_ntag(kind=kind)
    info = rig.tap(tag)
    r = rig.reader
    assert info.type == expected and info.uid == tag.uid and len(info.uid) == 7
    assert r.ntag_read(0)[:3] == tag.uid[:3]
    r.ntag_write(4, b"KSK1")
    assert r.ntag_read(4)[:4] == b"KSK1"
    assert r.read_signature() == tag.read_sig()
    with pytest.raises(AuthFailed):
        r.ntag_pwd_auth(b"1234")
    assert r.ntag_pwd_auth(b"\xff" * 4) == b"\x00\x00"  # factory password, PACK 0000
    with pytest.raises(NotSupported):
        r.mifare_read(4)


def test_ntag_write_past_the_end_is_refused_and_the_tag_answers_again(rig):
    rig.tap(new_ntag(kind="ntag213"))
    with pytest.raises((AuthFailed, CardGone)):  # the ACR122U cannot tell a NAK from a loss
        rig.reader.ntag_write(200, b"KSK1")
    assert len(rig.reader.ntag_read(4)) == 16


def test_ntag_counter_once_per_tap_behind_the_password(rig):
    tag = new_ntag(kind="ntag213")
    tag.write(tag.variant.cfg0 + 1, b"\x18\x00\x00\x00")  # NFC_CNT_EN, NFC_CNT_PWD_PROT
    r = rig.reader
    seen = []
    for _ in range(2):
        rig.tap(tag)
        r.ntag_read(4)  # the first READ after each power-up raises the counter
        with pytest.raises(AuthFailed):
            r.ntag_read_counter()  # behind the password
        assert r.ntag_read(0)[:3] == tag.uid[:3]  # selected again after the NAK
        r.ntag_pwd_auth(b"\xff" * 4)
        seen.append(r.ntag_read_counter())
        assert seen[-1] == tag.nfc_counter  # (a re-select that powers the card up counts too)
        rig.lift()
    assert 1 <= seen[0] < seen[1]


def test_first_ultralight_without_get_version(rig):
    tag = Ntag(bytes.fromhex("04112233445566"), "ultralight", bytes(32))
    assert rig.tap(tag).type == CardType.ULTRALIGHT
    assert rig.reader.ntag_read(0)[:3] == tag.uid[:3]


def test_ntag424_identity_and_apdus_as_the_capabilities_say(rig):
    tag = new_ntag424()
    info = rig.tap(tag)
    r = rig.reader
    assert info.type == CardType.NTAG424_DNA and info.uid == tag.uid
    with pytest.raises(NotSupported):
        r.ntag_read(0)
    if not r.capabilities.iso_dep:
        with pytest.raises(NotSupported):
            r.apdu(SELECT_NDEF_APP)
        return
    assert r.apdu(SELECT_NDEF_APP) == b"\x90\x00"
    assert r.apdu(bytes.fromhex("9060000000"))[-2:] == b"\x91\xaf"  # GetVersion, more
    assert r.apdu(bytes.fromhex("90AF000000"))[-2:] == b"\x91\xaf"
    rig.lift()
    rig.tap(new_classic())
    with pytest.raises(NotSupported):
        r.apdu(SELECT_NDEF_APP)


def test_a_card_torn_away_mid_write_is_card_gone(rig):
    card = new_classic()
    rig.tap(card)
    rig.reader.mifare_auth(4, KeyType.A, FF)
    card.tear(after_writes=0, after_bytes=5)
    with pytest.raises(CardGone):
        rig.reader.mifare_write(4, b"w" * 16)
    assert card.memory[64:80] == b"w" * 5 + bytes(11)
    assert rig.reader.wait_for_removal(rig.wait) is True


def test_an_rf_error_is_card_gone_and_the_card_is_read_after_it(rig):
    card = new_classic()
    rig.tap(card)
    r = rig.reader
    r.mifare_auth(4, KeyType.A, FF)
    card.inject_rf_errors(1)
    with pytest.raises((CardGone, AuthFailed)):  # the ACR122U cannot tell a NAK from a loss
        r.mifare_read(4)
    if r.selected() is None:  # the driver lost the card: it comes back with the next poll
        assert r.wait_for_card(rig.wait) is not None
    r.mifare_auth(4, KeyType.A, FF)
    assert r.mifare_read(4) == bytes(16)


def test_removal(rig):
    rig.tap(new_classic())
    assert rig.reader.wait_for_removal(0.05) is False
    rig.remove()
    assert rig.reader.wait_for_removal(rig.wait) is True
    with pytest.raises(CardGone):
        rig.reader.mifare_read(4)


def test_a_swap_without_a_lift_as_the_capabilities_say(rig):
    if not rig.reader.capabilities.sees_swap:
        pytest.skip(f"{rig.name} polls the field: a quick swap can go unseen (Capabilities)")
    rig.tap(new_classic())
    rig.place(new_classic())
    assert rig.reader.wait_for_removal(rig.wait) is True
