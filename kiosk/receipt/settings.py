"""The [printer] table of kiosk.toml, checked field by field (ConfigError names the file and the
field). Off by default: a kiosk without a printer prints nothing and misses nothing.

    [printer]
    kind = "usb"            # off | usb | serial | file
    usb_vendor = 0x0416     # usb: the ids `lsusb` shows
    usb_product = 0x5011
    width_dots = 576        # 576 for 80 mm paper, 384 for 58 mm
    store_name = "静安寺店"  # printed at the top (default: [device] store)

    kind = "serial" takes `device` (/dev/ttyUSB0) and `baudrate`; kind = "file" takes `device`
    (a printer the kernel's usblp driver shows as /dev/usb/lp0)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from kiosk.app.config_error import ConfigError
from kiosk.ledger.rules_fields import visible_text

KINDS = ("off", "usb", "serial", "file")
WIDTHS_DOTS = (384, 576)  # 58 mm and 80 mm paper at 203 dpi, the common heads
BAUDRATES = (9600, 19200, 38400, 57600, 115200)
STORE_NAME_MAX = 40
_ONLY_FOR = {"usb_vendor": ("usb",), "usb_product": ("usb",), "baudrate": ("serial",), "device": ("serial", "file")}


@dataclass(frozen=True)
class PrinterSettings:
    kind: str = "off"
    usb_vendor: int = 0
    usb_product: int = 0
    device: str = ""  # serial: the port; file: the printer's device file
    baudrate: int = 9600
    width_dots: int = 576
    store_name: str = ""  # "" = the [device] store id
    timeout_s: int = 5  # how long a USB or serial write may take before it counts as failed

    @property
    def width_chars(self) -> int:
        """Columns of the printer's own font A (12 dots wide): the text lines' width."""
        return self.width_dots // 12

    def describe(self) -> str:
        if self.kind == "usb":
            return f"USB printer {self.usb_vendor:04x}:{self.usb_product:04x}"
        if self.kind in ("serial", "file"):
            return f"{self.kind} printer {self.device}"
        return "no printer"


def _int(table: dict, key: str, source: str, lo: int, hi: int, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(source, f"printer.{key}", f"must be an integer {lo}..{hi}, got {value!r}")
    return value


def parse_printer(table: dict, source: str = "<memory>") -> PrinterSettings:
    """Check the [printer] table; an unknown key, a wrong type or a setting that does not belong
    to the chosen kind is refused, never silently ignored."""
    if not isinstance(table, dict):
        raise ConfigError(source, "printer", f"must be a table ([printer]), got {type(table).__name__}")
    known = {f.name for f in fields(PrinterSettings)}
    for key in table:
        if key not in known:
            raise ConfigError(source, f"printer.{key}", f"unknown setting (expected one of {sorted(known)})")
    kind = table.get("kind", "off")
    if kind not in KINDS:
        raise ConfigError(source, "printer.kind", f"must be one of {KINDS}, got {kind!r}")
    for key, kinds in _ONLY_FOR.items():
        if key in table and kind not in kinds:
            raise ConfigError(source, f"printer.{key}", f"only applies to kind = {' or '.join(kinds)}, not {kind!r}")
    values = {
        "kind": kind,
        "usb_vendor": _int(table, "usb_vendor", source, 1, 0xFFFF, 1) if kind == "usb" else 0,
        "usb_product": _int(table, "usb_product", source, 1, 0xFFFF, 1) if kind == "usb" else 0,
        "baudrate": _int(table, "baudrate", source, 1, 10**7, 9600),
        "width_dots": _int(table, "width_dots", source, 0, 10**4, 576),
        "timeout_s": _int(table, "timeout_s", source, 1, 60, 5),
    }
    if kind == "usb":
        for key in ("usb_vendor", "usb_product"):
            if key not in table:
                raise ConfigError(source, f"printer.{key}", "is missing (the printer's USB id as `lsusb` "
                                  "shows it, e.g. usb_vendor = 0x0416)")
    if values["baudrate"] not in BAUDRATES:
        raise ConfigError(source, "printer.baudrate", f"must be one of {BAUDRATES}, got {values['baudrate']}")
    if values["width_dots"] not in WIDTHS_DOTS:
        raise ConfigError(source, "printer.width_dots", f"must be one of {WIDTHS_DOTS} (58 mm or 80 mm paper), "
                          f"got {values['width_dots']}")
    device = table.get("device", "")
    if not isinstance(device, str):
        raise ConfigError(source, "printer.device", f"must be a string, got {type(device).__name__}")
    if kind in ("serial", "file") and (not device.startswith("/") or "\x00" in device):
        example = "/dev/ttyUSB0" if kind == "serial" else "/dev/usb/lp0"
        raise ConfigError(source, "printer.device", f"must be an absolute device path like {example}, got {device!r}")
    store_name = table.get("store_name", "")
    if not isinstance(store_name, str):
        raise ConfigError(source, "printer.store_name", f"must be a string, got {type(store_name).__name__}")
    if len(store_name) > STORE_NAME_MAX or not visible_text(store_name):
        raise ConfigError(source, "printer.store_name", f"must be at most {STORE_NAME_MAX} characters without "
                          "control or invisible characters")
    return PrinterSettings(device=device, store_name=store_name.strip(), **values)
