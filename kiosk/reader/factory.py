"""Open the reader the configuration names (kiosk.reader.drivers lists them)."""

from __future__ import annotations

from kiosk.app.config import ReaderConfig
from kiosk.reader.base import Reader
from kiosk.reader.drivers import driver


def open_reader(config: ReaderConfig) -> Reader:
    """Build and open the driver for `config.driver`; what `config.port` means is each
    driver's port_help (pn532 a serial or nfcpy path, pcsc a reader-name substring, rc522
    "bus.device", simulated a card file)."""
    reader = make_reader(config)
    reader.open()
    return reader


def make_reader(config: ReaderConfig) -> Reader:
    """The driver object, not yet opened; NotSupported for a driver nobody registered."""
    return driver(config.driver).build(config.port)
