"""The reader drivers the kiosk knows: configuration, the factory, provisioning and the doctor
all read this one list. A driver module declares its DriverSpec as DRIVER; adding a driver is
that module plus one line here (docs/architecture.md, "How to add a reader driver").

Importing a driver module is cheap: each imports its hardware library (nfcpy, pyscard,
spidev, gpiozero) only when a reader opens."""

from __future__ import annotations

from kiosk.reader import pcsc, pn532, rc522, simulated
from kiosk.reader.base import NotSupported
from kiosk.reader.spec import DriverSpec

DRIVERS: dict[str, DriverSpec] = {
    spec.name: spec for spec in (pn532.DRIVER, pcsc.DRIVER, rc522.DRIVER, simulated.DRIVER)
}
NAMES: tuple[str, ...] = tuple(DRIVERS)


def driver(name: str) -> DriverSpec:
    """The registry entry for `[reader] driver`; NotSupported names the known ones."""
    try:
        return DRIVERS[name]
    except KeyError:
        raise NotSupported(f"reader driver {name!r} (known: {', '.join(NAMES)})") from None
