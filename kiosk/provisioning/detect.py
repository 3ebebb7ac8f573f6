"""Finding the card reader a technician plugged in: UART and SPI device nodes, USB PN53x
readers, and PC/SC readers (through pcscd, when pyscard and pcscd are there)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

UART_PORTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")
SPI_PORTS = ("/dev/spidev0.0", "/dev/spidev0.1")  # offered as rc522 ports "0.0", "0.1"
# USB readers nfcpy drives directly (PN533 family) and USB-serial chips PN532 boards sit behind.
USB_PN53X = {("04cc", "2533"): "NXP PN533", ("04e6", "5591"): "SCM SCL3711",
             ("054c", "02e1"): "Sony RC-S360", ("054c", "06c1"): "Sony RC-S380"}
USB_SERIAL = {("1a86", "7523"): "CH340", ("10c4", "ea60"): "CP210x", ("0403", "6001"): "FT232",
              ("067b", "2303"): "PL2303"}


@dataclass(frozen=True)
class Candidate:
    driver: str  # a value of config.READER_DRIVERS
    port: str
    description: str


def device_node(driver: str, port: str) -> str | None:
    """The /dev node a configured reader opens (its registry entry's device_node, in the port
    syntax the driver takes); None when the reader is reached some other way (USB, pcscd,
    simulated) or the driver is unknown."""
    from kiosk.reader.drivers import DRIVERS

    spec = DRIVERS.get(driver)
    return spec.device_node(port) if spec is not None else None


def _usb_ids(sys_dir: Path) -> list[tuple[str, str, str]]:
    """(vendor, product, bus:device) of every USB device in sysfs."""
    found = []
    for dev in sorted((sys_dir / "bus/usb/devices").glob("*")):
        try:
            vendor = (dev / "idVendor").read_text().strip()
            product = (dev / "idProduct").read_text().strip()
            bus = int((dev / "busnum").read_text())
            num = int((dev / "devnum").read_text())
        except (OSError, ValueError):
            continue
        found.append((vendor, product, f"{bus:03d}:{num:03d}"))
    return found


def pcsc_readers() -> list[str]:
    """Reader names pcscd knows, or [] when pyscard or pcscd is missing."""
    try:
        from smartcard.System import readers
    except ImportError:
        return []
    try:
        return [str(r) for r in readers()]
    except Exception:  # pcscd not running: pyscard raises its own assorted errors
        return []


def detect(dev_dir: Path = Path("/dev"), sys_dir: Path = Path("/sys"),
           with_pcsc: bool = True) -> list[Candidate]:
    """Every plausible reader on this machine, the most likely first."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for port in UART_PORTS:
        node = dev_dir / Path(port).name
        if node.exists() or node.is_symlink():
            real = os.path.realpath(node)
            label = f"UART ({Path(real).name})" if node.is_symlink() else "UART"
            if real in seen:
                continue
            seen.add(real)
            out.append(Candidate("pn532", str(dev_dir / Path(port).name), f"PN532 on {label}"))
    for node in sorted(dev_dir.glob("ttyUSB*")) + sorted(dev_dir.glob("ttyACM*")):
        out.append(Candidate("pn532", str(node), "PN532 on a USB serial adapter"))
    for vendor, product, busdev in _usb_ids(sys_dir):
        if (vendor, product) in USB_PN53X:
            name = USB_PN53X[(vendor, product)]
            out.append(Candidate("pn532", f"usb:{vendor}:{product}", f"{name} on USB {busdev}"))
    if with_pcsc:
        for name in pcsc_readers():
            out.append(Candidate("pcsc", name, f"PC/SC reader {name}"))
    for port in SPI_PORTS:
        node = dev_dir / Path(port).name
        if node.exists():
            out.append(Candidate("rc522", node.name.removeprefix("spidev"),
                                 f"RC522 on SPI ({node})"))
    return out
