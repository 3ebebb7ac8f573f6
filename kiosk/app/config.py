"""The kiosk's configuration file (/etc/kiosk/kiosk.toml), checked field by field.

A bad value names the file, the field and what was expected, and nothing is loaded."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from kiosk.app.config_error import ConfigError
from kiosk.hw.settings import GpioSettings, parse_gpio
from kiosk.reader import drivers as reader_drivers
from kiosk.receipt.settings import PrinterSettings, parse_printer
from kiosk.session.settings import SessionSettings, parse_session
from kiosk.till.settings import TillSettings, parse_till

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
READER_DRIVERS = reader_drivers.NAMES  # the registry: kiosk/reader/drivers.py
LOCALES = ("zh_CN", "en")
SCREENS = ("800x480", "1024x600", "1280x800")
ROLES = ("kiosk", "counter")  # counter: the till's second device at the cash desk (docs/pos-api.md)
COUNTER_SCREENS = ("480x320", "800x480")  # a counter's small display: 3.5" 480x320, or the 7" panel
ROTATIONS = (0, 90, 180, 270)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
# MQTT allows 0..65535, but 0 turns dead-link detection off (the last will never fires) and an
# hour is already far longer than any broker's idle timeout.
KEEPALIVE_RANGE = (5, 3600)


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    store: str
    data_dir: Path
    locale: str = "zh_CN"
    screen: str = "800x480"
    rotation: int = 0  # degrees the UI turns the picture (a screen mounted upside down: 180)
    role: str = "kiosk"  # "counter": the compact layout of kiosk/ui/theme.py, at COUNTER_SCREENS


@dataclass(frozen=True)
class ReaderConfig:
    driver: str = "simulated"
    port: str = ""


@dataclass(frozen=True)
class HqConfig:
    host: str = ""  # empty: no HQ configured, the kiosk runs standalone
    port: int = 1883
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_s: int = 30


@dataclass(frozen=True)
class SecretsConfig:
    card_master_key_file: Path | None = None
    pin_pepper_file: Path | None = None
    card_system_id: str = "kiosk"  # the chain's system identifier in card key diversification


@dataclass(frozen=True)
class Config:
    device: DeviceConfig
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    hq: HqConfig = field(default_factory=HqConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    rules_file: Path | None = None
    source: str = "<defaults>"
    session: SessionSettings = field(default_factory=SessionSettings)  # [session], kiosk/session/settings.py
    gpio: GpioSettings = field(default_factory=GpioSettings)  # [gpio], kiosk/hw/settings.py
    printer: PrinterSettings = field(default_factory=PrinterSettings)  # [printer], kiosk/receipt/settings.py
    till: TillSettings = field(default_factory=TillSettings)  # [till], kiosk/till/settings.py


def _get(table: dict, key: str, kind: type, path: Path | str, prefix: str, default=...):
    name = f"{prefix}.{key}"
    if key not in table:
        if default is ...:
            raise ConfigError(path, name, "is missing")
        return default
    value = table[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(path, name, f"must be {kind.__name__}, got {type(value).__name__}")
    return value


def _int(table: dict, key: str, path: Path | str, prefix: str, lo: int, hi: int, default: int) -> int:
    value = _get(table, key, int, path, prefix, default)
    if not lo <= value <= hi:
        raise ConfigError(path, f"{prefix}.{key}", f"must be between {lo} and {hi}, got {value}")
    return value


def _path(table: dict, key: str, path: Path | str, prefix: str, example: str) -> Path:
    """A required path: absolute (the service's working directory is not the technician's)."""
    value = _get(table, key, str, path, prefix)
    if not value.startswith("/") or "\x00" in value:
        raise ConfigError(path, f"{prefix}.{key}", f"must be an absolute path like {example}, got {value!r}")
    return Path(value)


def _optional_path(table: dict, key: str, path: Path | str, prefix: str) -> Path | None:
    """An optional path: left out (or "") for none, else absolute."""
    if not _get(table, key, str, path, prefix, ""):
        return None
    return _path(table, key, path, prefix, f"/etc/kiosk/{key.removesuffix('_file')}")


SECTION_KEYS = {"rules": {"file"}}  # sections whose keys are not a dataclass's fields


def _section(data: dict, name: str, cls: type, path: Path | str) -> dict:
    """The table `name`, refusing a non-table and any key the section does not know (a typo
    must not silently fall back to a default)."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(path, name, f"must be a table ([{name}]), got {type(table).__name__}")
    known = SECTION_KEYS.get(name) or {f.name for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(path, f"{name}.{key}", f"unknown setting (expected one of "
                              f"{sorted(known)})")
    return table


def parse_config(data: dict, path: Path | str = "<memory>") -> Config:
    """Build a Config from parsed TOML, refusing unknown tables, unknown keys and wrong types."""
    known = {"device", "reader", "hq", "secrets", "rules", "session", "gpio", "printer", "till"}
    for key in data:
        if key not in known:
            raise ConfigError(path, key, f"unknown section (expected one of {sorted(known)})")
    if "device" not in data:
        raise ConfigError(path, "device", "section is missing")
    dev = _section(data, "device", DeviceConfig, path)
    device = DeviceConfig(
        id=_get(dev, "id", str, path, "device"),
        store=_get(dev, "store", str, path, "device"),
        data_dir=_path(dev, "data_dir", path, "device", "/var/lib/kiosk"),
        locale=_get(dev, "locale", str, path, "device", "zh_CN"),
        screen=_get(dev, "screen", str, path, "device", "800x480"),
        rotation=_get(dev, "rotation", int, path, "device", 0),
        role=_get(dev, "role", str, path, "device", "kiosk"),
    )
    if device.role not in ROLES:
        raise ConfigError(path, "device.role", f'must be one of {ROLES} ("counter": the device at the cash desk)')
    if device.role == "counter":
        if "screen" not in dev:
            device = replace(device, screen=COUNTER_SCREENS[0])
        if device.screen not in COUNTER_SCREENS:
            raise ConfigError(path, "device.screen", f"a counter's display must be one of {COUNTER_SCREENS} "
                              f'(or set device.role = "kiosk" for {SCREENS})')
    for name, value in (("device.id", device.id), ("device.store", device.store)):
        if not _ID.match(value):
            raise ConfigError(path, name, "must be 1-64 letters, digits, '-' or '_'")
    if device.locale not in LOCALES:
        raise ConfigError(path, "device.locale", f"must be one of {LOCALES}")
    if device.role == "kiosk" and device.screen not in SCREENS:
        raise ConfigError(path, "device.screen", f"must be one of {SCREENS} (a counter's display, "
                          f'{COUNTER_SCREENS}, with device.role = "counter")')
    if device.rotation not in ROTATIONS:
        raise ConfigError(path, "device.rotation", f"must be one of {ROTATIONS}")

    rd = _section(data, "reader", ReaderConfig, path)
    reader = ReaderConfig(
        driver=_get(rd, "driver", str, path, "reader", "simulated"),
        port=_get(rd, "port", str, path, "reader", ""),
    )
    if reader.driver not in READER_DRIVERS:
        raise ConfigError(path, "reader.driver", f"must be one of {READER_DRIVERS}")

    hq_table = _section(data, "hq", HqConfig, path)
    hq = HqConfig(
        host=_get(hq_table, "host", str, path, "hq", ""),
        port=_int(hq_table, "port", path, "hq", 1, 65535, 1883),
        tls_ca=_optional_path(hq_table, "tls_ca", path, "hq"),
        tls_cert=_optional_path(hq_table, "tls_cert", path, "hq"),
        tls_key=_optional_path(hq_table, "tls_key", path, "hq"),
        keepalive_s=_int(hq_table, "keepalive_s", path, "hq", *KEEPALIVE_RANGE, 30),
    )
    if (hq.tls_cert is None) != (hq.tls_key is None):
        raise ConfigError(path, "hq.tls_key", "tls_cert and tls_key must be given together")

    sec = _section(data, "secrets", SecretsConfig, path)
    secrets = SecretsConfig(
        card_master_key_file=_optional_path(sec, "card_master_key_file", path, "secrets"),
        pin_pepper_file=_optional_path(sec, "pin_pepper_file", path, "secrets"),
        card_system_id=_get(sec, "card_system_id", str, path, "secrets", "kiosk"),
    )
    if not 1 <= len(secrets.card_system_id.encode("utf-8")) <= 21:
        raise ConfigError(path, "secrets.card_system_id", "must be 1 to 21 bytes")
    rules = _section(data, "rules", type(None), path)
    return Config(
        device=device,
        reader=reader,
        hq=hq,
        secrets=secrets,
        rules_file=_optional_path(rules, "file", path, "rules"),
        source=str(path),
        session=parse_session(data.get("session", {}), str(path)),
        gpio=parse_gpio(data.get("gpio", {}), str(path)),
        printer=parse_printer(data.get("printer", {}), str(path)),
        till=parse_till(data.get("till", {}), str(path)),
    )


def load_config(path: Path | str | None = None) -> Config:
    """Read and check the configuration; KIOSK_CONFIG overrides the default path."""
    path = Path(path or os.environ.get("KIOSK_CONFIG") or DEFAULT_PATH)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found (run `kiosk provision` to create it)") \
            from None
    except PermissionError:
        raise ConfigError(path, "", "permission denied (is the service user in its group?)") \
            from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    return parse_config(data, path)
