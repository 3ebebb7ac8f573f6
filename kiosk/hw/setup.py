"""Turning the [gpio] configuration into devices, or into "no hardware feedback" off a Pi.

On a Raspberry Pi gpiozero picks its pin factory (lgpio, or RPi.GPIO from the `pi` extra).
Elsewhere, unless a factory is configured (GPIOZERO_PIN_FACTORY or gpio.pin_factory), the
kiosk runs without LEDs, buzzer and cash acceptor, and says so once in the log."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.hw.settings import GpioSettings

log = logging.getLogger(__name__)
_MODEL = Path("/proc/device-tree/model")
_said_disabled = False


@dataclass
class Hardware:
    feedback: object | None  # GpioFeedback, or None when disabled
    pulses: object | None  # CashPulseCounter, or None
    note: str  # why hardware is off, or the factory in use

    def close(self) -> None:
        for device in (self.feedback, self.pulses):
            if device is not None:
                device.close()


def on_raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in _MODEL.read_text(errors="replace")
    except OSError:
        return False


def _disabled(reason: str) -> Hardware:
    global _said_disabled
    if not _said_disabled:
        log.warning("hardware feedback disabled: %s", reason)
        _said_disabled = True
    return Hardware(None, None, f"disabled: {reason}")


def named_pin_factory(name: str):
    """The gpiozero pin factory registered under `name` (gpiozero's own entry points, so
    "mock", "lgpio", "rpigpio", ... as GPIOZERO_PIN_FACTORY takes them), built for this kiosk
    alone: neither the environment nor gpiozero's process-wide default is changed."""
    from importlib.metadata import entry_points  # here: 50 ms of start-up for a factory only tests name

    from gpiozero.exc import BadPinFactory

    group = entry_points(group="gpiozero_pin_factories")
    for wanted in (name, name.lower()):
        for ep in group:
            if ep.name == wanted:
                return ep.load()()
    raise BadPinFactory(f"no gpiozero pin factory named {name!r}")


def open_hardware(settings: GpioSettings, pin_factory=None) -> Hardware:
    """Build the devices the settings name; any failure disables hardware instead of the kiosk.
    A configured gpio.pin_factory is handed to each device; GPIOZERO_PIN_FACTORY alone is
    left for gpiozero to read, as it does."""
    factory_name = settings.pin_factory or os.environ.get("GPIOZERO_PIN_FACTORY", "")
    if pin_factory is None and not factory_name and not on_raspberry_pi():
        return _disabled("not a Raspberry Pi and no gpio pin factory configured")
    feedback = pulses = None
    try:
        if pin_factory is None and settings.pin_factory:
            pin_factory = named_pin_factory(settings.pin_factory)
        from kiosk.hw.feedback import GpioFeedback
        from kiosk.hw.pulses import CashPulseCounter

        leds = (settings.led_ready, settings.led_ok, settings.led_error, settings.buzzer)
        if all(pin is not None for pin in leds):
            feedback = GpioFeedback(*leds, pin_factory=pin_factory)
        if settings.cash_pulse is not None:
            pulses = CashPulseCounter(
                settings.cash_pulse,
                debounce_s=settings.debounce_ms / 1000,
                enable_pin=settings.cash_enable,
                pin_factory=pin_factory,
            )
    except Exception as exc:
        Hardware(feedback, pulses, "").close()
        return _disabled(f"{type(exc).__name__}: {exc}")
    if feedback is None and pulses is None:
        return _disabled("no pins configured in [gpio]")
    return Hardware(feedback, pulses, "ok")
