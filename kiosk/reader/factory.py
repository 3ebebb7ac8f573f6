"""Open the reader the configuration names; each driver's library is imported only when used."""

from __future__ import annotations

from kiosk.config import ReaderConfig
from kiosk.reader.base import NotSupported, Reader


def open_reader(config: ReaderConfig) -> Reader:
    """Build and open the driver for `config.driver` ("pn532", "pcsc", "rc522", "simulated").

    `config.port` means: pn532 a serial path or nfcpy path (default tty:S0:pn532); pcsc a
    substring of the PC/SC reader name (default: the first reader); rc522 "bus.device" of the
    SPI device (default 0.0); simulated whatever the simulated reader takes (a card file)."""
    reader = make_reader(config)
    reader.open()
    return reader


def make_reader(config: ReaderConfig) -> Reader:
    """The driver object, not yet opened."""
    driver, port = config.driver, config.port
    if driver == "pn532":
        from kiosk.reader.pn532 import Pn532Reader

        return Pn532Reader(port or "tty:S0:pn532")
    if driver == "pcsc":
        from kiosk.reader.pcsc import PcscReader

        return PcscReader(port)
    if driver == "rc522":
        from kiosk.reader.rc522 import Rc522Reader

        bus, _, device = (port or "0.0").partition(".")
        return Rc522Reader(bus=int(bus), device=int(device or 0))
    if driver == "simulated":
        from kiosk.reader import simulated

        return simulated.from_config(config)
    raise NotSupported(f"reader driver {driver!r}")
