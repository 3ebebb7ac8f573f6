"""open_reader picks the driver the configuration names and imports only that one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.app.config import READER_DRIVERS, ReaderConfig
from kiosk.reader.base import NotSupported, Reader, ReaderGone
from kiosk.reader.factory import make_reader, open_reader


def test_every_configurable_driver_has_a_class():
    for driver in READER_DRIVERS:
        reader = make_reader(ReaderConfig(driver=driver, port=""))
        assert isinstance(reader, Reader)


def test_unknown_driver_is_a_typed_error():
    with pytest.raises(NotSupported):
        make_reader(ReaderConfig(driver="nfc-magic"))


def test_simulated_opens_and_finds_no_card():
    with open_reader(ReaderConfig(driver="simulated")) as reader:
        assert reader.wait_for_card(0.01) is None


def test_missing_hardware_is_reader_gone(tmp_path):
    with pytest.raises(ReaderGone):
        open_reader(ReaderConfig(driver="pn532", port=str(tmp_path / "no-such-tty")))


def test_rc522_port_names_bus_and_device():
    reader = make_reader(ReaderConfig(driver="rc522", port="1.2"))
    assert (reader.bus, reader.device) == (1, 2)


def test_choosing_a_driver_imports_no_other_reader_library():
    code = (
        "import sys; from kiosk.app.config import ReaderConfig; "
        "from kiosk.reader.factory import make_reader; "
        "make_reader(ReaderConfig(driver='simulated')); "
        "print(sorted(m for m in ('nfc', 'smartcard', 'spidev', 'gpiozero') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
