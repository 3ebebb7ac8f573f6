"""Counting a cash acceptor's pulses on one GPIO line, with debounce.

A mechanical acceptor's contact chatters: every edge closer than `debounce_s` to the previous
edge (either direction) is noise, and only an activation after a quiet line counts. Times come
from the pin factory's ticks (the edge times gpiozero reports), so the rule is tested at the pin."""

from __future__ import annotations

import threading

from gpiozero import DigitalInputDevice, DigitalOutputDevice


class CashPulseCounter:
    """The acceptor's pulse line, and optionally its enable line (acceptors refuse money while
    it is off, so nothing is taken when no payment waits)."""

    def __init__(
        self,
        pin: int | str,
        *,
        debounce_s: float = 0.02,
        pull_up: bool = True,
        enable_pin: int | str | None = None,
        pin_factory=None,
    ):
        if debounce_s < 0:
            raise ValueError("debounce_s must not be negative")
        self.debounce_s = debounce_s
        # acceptors usually pull an open-collector line low for each pulse: pull-up, active low
        self._device = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=pin_factory)
        self._factory = self._device.pin_factory
        self._lock = threading.Lock()
        self._count = 0
        self._ignored = 0
        self._last_edge = None
        self._device.when_activated = self._activated
        self._device.when_deactivated = self._deactivated
        self._enable = None
        if enable_pin is not None:
            self._enable = DigitalOutputDevice(enable_pin, initial_value=False, pin_factory=pin_factory)

    def enable(self) -> None:
        if self._enable is not None:
            self._enable.on()

    def disable(self) -> None:
        if self._enable is not None:
            self._enable.off()

    @property
    def enabled(self) -> bool | None:
        """None when the acceptor has no enable line (it always takes money)."""
        return None if self._enable is None else bool(self._enable.value)

    @property
    def count(self) -> int:
        """Pulses counted since start; never goes down (the payment adapter takes differences)."""
        with self._lock:
            return self._count

    @property
    def ignored(self) -> int:
        """Activations dropped as bounce (for the staff menu / diagnostics)."""
        with self._lock:
            return self._ignored

    def _quiet_since_last_edge(self) -> bool:
        now = self._factory.ticks()
        last, self._last_edge = self._last_edge, now
        return last is None or self._factory.ticks_diff(now, last) >= self.debounce_s

    def _activated(self) -> None:
        with self._lock:
            if self._quiet_since_last_edge():
                self._count += 1
            else:
                self._ignored += 1

    def _deactivated(self) -> None:
        with self._lock:
            self._quiet_since_last_edge()

    def close(self) -> None:
        self._device.close()
        if self._enable is not None:
            self._enable.close()
