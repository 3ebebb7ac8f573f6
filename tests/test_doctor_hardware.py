"""The doctor's reader checks against the readers branch's emulated PN532 on a pty, through
nfcpy's real driver: firmware, a card read and verified, no card, an unplugged reader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("kiosk.reader.factory", reason="the reader drivers (branch readers) are "
                    "not merged")
pytest.importorskip("tests.emulators.pn532", reason="the PN532 emulator is not merged")

from kiosk.reader.chips import new_classic  # noqa: E402
from kiosk.reader.keys import SiteKeys  # noqa: E402
from kiosk.reader.simulated import SimulatedReader  # noqa: E402

from kiosk.doctor.checks import Context, Status  # noqa: E402
from kiosk.doctor.integrations import check_card_read, check_reader  # noqa: E402
from kiosk.reader import card as card_layer  # noqa: E402
from tests.emulators.field import Field  # noqa: E402
from tests.emulators.pn532 import Pn532Emulator  # noqa: E402

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
