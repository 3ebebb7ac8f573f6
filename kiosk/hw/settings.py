"""The [gpio] table of kiosk.toml: which BCM pin drives which device, checked field by field."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.app.config_error import ConfigError

_PINS = ("led_ready", "led_ok", "led_error", "buzzer", "cash_pulse", "cash_enable")


@dataclass(frozen=True)
class GpioSettings:
    """BCM pin numbers; None leaves that device out."""

    led_ready: int | None = None
    led_ok: int | None = None
    led_error: int | None = None
    buzzer: int | None = None
    cash_pulse: int | None = None
    cash_enable: int | None = None  # the acceptor's enable (inhibit) input, on while a payment waits
    fen_per_pulse: int = 100  # what one acceptor pulse is worth
    debounce_ms: int = 20
    pin_factory: str = ""  # e.g. "mock" for a desktop demo; '' = gpiozero's choice on a Pi


def parse_gpio(table: dict, source: str = "<memory>") -> GpioSettings:
    """Check the [gpio] table field by field (ConfigError names the field)."""
    if not isinstance(table, dict):
        raise ConfigError(source, "gpio", "must be a table ([gpio])")
    known = set(_PINS) | {"fen_per_pulse", "debounce_ms", "pin_factory"}
    for key in table:
        if key not in known:
            raise ConfigError(source, f"gpio.{key}", f"unknown field (expected one of {sorted(known)})")
    values: dict = {}
    for key in _PINS:
        if key in table:
            pin = table[key]
            if isinstance(pin, bool) or not isinstance(pin, int) or not 0 <= pin <= 27:
                raise ConfigError(source, f"gpio.{key}", "must be a BCM pin number 0..27")
            values[key] = pin
    used = [values[k] for k in values]
    if len(used) != len(set(used)):
        raise ConfigError(source, "gpio", "two devices on the same pin")
    for key, lo, hi in (("fen_per_pulse", 1, 1_000_000), ("debounce_ms", 0, 1000)):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(source, f"gpio.{key}", f"must be an integer {lo}..{hi}")
            values[key] = value
    if "pin_factory" in table:
        if not isinstance(table["pin_factory"], str):
            raise ConfigError(source, "gpio.pin_factory", "must be a string")
        values["pin_factory"] = table["pin_factory"]
    return GpioSettings(**values)
