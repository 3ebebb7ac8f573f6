"""The doctor's reader checks against the readers branch's emulated PN532 on a pty, through
nfcpy's real driver: firmware, a card read and verified, no card, an unplugged reader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kiosk.doctor.checks import Context, Status
from kiosk.doctor.integrations import check_card_read, check_reader

WHY = "the reader drivers and the PN532 emulator (branch readers) are not merged"
pytest.importorskip("kiosk.reader.factory", reason=WHY)
card_layer = pytest.importorskip("kiosk.reader.card", reason=WHY)
new_classic = pytest.importorskip("kiosk.reader.chips", reason=WHY).new_classic
SiteKeys = pytest.importorskip("kiosk.reader.keys", reason=WHY).SiteKeys
SimulatedReader = pytest.importorskip("kiosk.reader.simulated", reason=WHY).SimulatedReader
Field = pytest.importorskip("tests.emulators.field", reason=WHY).Field
Pn532Emulator = pytest.importorskip("tests.emulators.pn532", reason=WHY).Pn532Emulator

MASTER = bytes.fromhex("8f3a1c2d4e5f60718293a4b5c6d7e8f9")


@pytest.fixture
def field():
    return Field()


@pytest.fixture
def kiosk(tmp_path, field):
    with Pn532Emulator(field, link=tmp_path / "ttyPN532") as emu:
        key = tmp_path / "master.key"
        key.write_text(MASTER.hex() + "\n")
        key.chmod(0o600)
        config = tmp_path / "kiosk.toml"
        config.write_text(
            f'[device]\nid = "K-1"\nstore = "S-1"\ndata_dir = "{tmp_path}"\n'
            f'[reader]\ndriver = "pn532"\nport = "{tmp_path / "ttyPN532"}"\n'
            f'[secrets]\ncard_master_key_file = "{key}"\ncard_system_id = "test-chain"\n')
        yield Context(root=Path("/"), config_path=config, ntp_server=None, card_wait_s=0.3), emu


def test_reader_firmware(kiosk):
    ctx, _ = kiosk
    r = check_reader(ctx)
    assert r.status == Status.OK and "PN532 v1.6" in r.detail, r


def test_card_read_test(kiosk, field):
    ctx, _ = kiosk
    assert check_card_read(ctx).status == Status.SKIP
    chip = new_classic()
    helper = SimulatedReader()  # personalise the card off the reader, then lay it on
    helper.place(chip)
    card_layer.issue_card(helper, helper.wait_for_card(0), SiteKeys(MASTER, b"test-chain"),
                          "M-K-1-3", 1, date(2026, 11, 1))
    helper.remove()
    field.place(chip)
    r = check_card_read(ctx)
    assert r.status == Status.OK and "member M-K-1-3" in r.detail, r


def test_unplugged_reader_fails_with_a_fix(kiosk):
    ctx, emu = kiosk
    emu.unplug()
    r = check_reader(ctx)
    assert r.status == Status.FAIL and "did not answer" in r.detail, r
    assert r.fix
