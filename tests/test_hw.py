"""GPIO devices driven at the pin level through gpiozero's MockFactory (edge times injected)."""

from __future__ import annotations

import logging
import os

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.app.config import ConfigError
from kiosk.hw import setup as hw_setup
from kiosk.hw.feedback import GpioFeedback
from kiosk.hw.pulses import CashPulseCounter
from kiosk.hw.settings import GpioSettings, parse_gpio
from kiosk.hw.setup import open_hardware
from kiosk.payment.cash_acceptor import CashAcceptorPayment
from kiosk.payment.port import PaymentRequest, PaymentState

PULSE_PIN = 17


class SteppedFactory(MockFactory):
    """gpiozero's mock pins, with the edge clock under the test's control."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def ticks(self):  # noqa: D102 - gpiozero asks the factory for edge times
        return self.now

    @staticmethod
    def ticks_diff(later, earlier):
        return later - earlier


@pytest.fixture
def factory():
    f = SteppedFactory()
    yield f
    f.reset()


def pulse(factory: SteppedFactory, width: float = 0.05, gap: float = 0.05, chatter: int = 0) -> None:
    """One acceptor pulse (line pulled low), optionally with contact chatter on both edges."""
    pin = factory.pin(PULSE_PIN)
    pin.drive_low()
    for _ in range(chatter):
        factory.now += 0.001
        pin.drive_high()
        factory.now += 0.001
        pin.drive_low()
    factory.now += width
    pin.drive_high()
    for _ in range(chatter):
        factory.now += 0.001
        pin.drive_low()
        factory.now += 0.001
        pin.drive_high()
    factory.now += gap


def test_clean_pulses_are_counted(factory):
    counter = CashPulseCounter(PULSE_PIN, debounce_s=0.02, pin_factory=factory)
    for _ in range(7):
        pulse(factory)
    assert counter.count == 7
    assert counter.ignored == 0


def test_chatter_is_debounced(factory):
    counter = CashPulseCounter(PULSE_PIN, debounce_s=0.02, pin_factory=factory)
    for _ in range(5):
        pulse(factory, chatter=3)
    assert counter.count == 5
    assert counter.ignored == 30  # 3 extra activations at each edge of each pulse


def test_without_debounce_chatter_counts(factory):
    """The same signal with debounce off over-counts: proves the test above can fail."""
    counter = CashPulseCounter(PULSE_PIN, debounce_s=0.0, pin_factory=factory)
    pulse(factory, chatter=2)
    assert counter.count == 5


def test_pulses_faster_than_debounce_are_merged(factory):
    counter = CashPulseCounter(PULSE_PIN, debounce_s=0.02, pin_factory=factory)
    pulse(factory, width=0.005, gap=0.005)
    pulse(factory, width=0.005, gap=0.005)
    assert counter.count == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0.025, 0.2)), min_size=0, max_size=20))
def test_any_chatter_counts_each_pulse_once(pulses):
    f = SteppedFactory()
    try:
        counter = CashPulseCounter(PULSE_PIN, debounce_s=0.02, pin_factory=f)
        for chatter, width in pulses:
            pulse(f, width=width, gap=0.03, chatter=chatter)
        assert counter.count == len(pulses)
    finally:
        f.reset()


def test_cash_acceptor_payment_confirms_on_counted_pulses(factory):
    counter = CashPulseCounter(PULSE_PIN, debounce_s=0.02, pin_factory=factory)
    pulse(factory)  # money inserted before this payment is not counted for it
    payment = CashAcceptorPayment(counter, fen_per_pulse=1000)
    payment.start(PaymentRequest("r1", "04A1B2C3", 3000))
    pulse(factory, chatter=2)
    pulse(factory)
    status = payment.poll()
    assert (status.state, status.received_fen) == (PaymentState.PENDING, 2000)
    pulse(factory)
    status = payment.poll()
    assert status.state is PaymentState.CONFIRMED
    assert status.received_fen == 3000
    assert status.payment_ref == "acceptor:r1"


def test_feedback_drives_leds_and_buzzer(factory):
    fb = GpioFeedback(5, 6, 13, 19, pin_factory=factory)
    ready, ok, err, buzzer = (factory.pin(n) for n in (5, 6, 13, 19))
    assert (ready.state, ok.state, err.state) == (True, False, False)
    fb.error()
    fb.error_led._blink_thread.join(3)
    fb.buzzer._blink_thread.join(3)
    err.assert_states([False, True, False, True, False, True, False])
    assert any(s.state for s in buzzer.states)
    fb.ready()
    assert (ready.state, ok.state, err.state) == (True, False, False)
    fb.tap()
    fb.buzzer._blink_thread.join(3)
    assert buzzer.state is False
    assert fb.describe().startswith("ok")
    fb.close()


def test_off_a_pi_hardware_is_disabled_and_said_once(monkeypatch, caplog):
    monkeypatch.setattr(hw_setup, "on_raspberry_pi", lambda: False)
    monkeypatch.setattr(hw_setup, "_said_disabled", False)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    settings = GpioSettings(led_ready=5, led_ok=6, led_error=13, buzzer=19, cash_pulse=17)
    with caplog.at_level(logging.WARNING, logger="kiosk.hw.setup"):
        first = open_hardware(settings)
        second = open_hardware(settings)
    assert first.feedback is None and first.pulses is None
    assert first.note.startswith("disabled: not a Raspberry Pi")
    assert second.note == first.note
    assert [r.getMessage() for r in caplog.records].count(
        "hardware feedback disabled: not a Raspberry Pi and no gpio pin factory configured"
    ) == 1


def test_configured_mock_factory_builds_devices():
    hw = open_hardware(GpioSettings(led_ready=5, led_ok=6, led_error=13, buzzer=19, cash_pulse=17, pin_factory="mock"))
    try:
        assert hw.note == "ok"
        assert hw.feedback is not None and hw.pulses is not None
    finally:
        hw.close()


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"led_ok": 40}, "gpio.led_ok"),
        ({"buzzer": True}, "gpio.buzzer"),
        ({"led_ok": 5, "buzzer": 5}, "gpio"),
        ({"fen_per_pulse": 0}, "gpio.fen_per_pulse"),
        ({"debounce_ms": "20"}, "gpio.debounce_ms"),
        ({"colour": "red"}, "gpio.colour"),
    ],
)
def test_bad_gpio_config_names_the_field(table, field):
    with pytest.raises(ConfigError) as err:
        parse_gpio(table, "kiosk.toml")
    assert err.value.field == field


def test_acceptor_enabled_only_while_a_payment_waits_and_stray_money_is_reported(factory):
    counter = CashPulseCounter(PULSE_PIN, debounce_s=0.02, enable_pin=22, pin_factory=factory)
    enable = factory.pin(22)
    payment = CashAcceptorPayment(counter, fen_per_pulse=500)
    assert enable.state is False and counter.enabled is False
    pulse(factory)  # a coin forced in while disabled (or an acceptor without the line)
    assert payment.take_stray_fen() == 500
    assert payment.take_stray_fen() == 0  # reported once
    pulse(factory)
    payment.start(PaymentRequest("r2", "04A1B2C3", 1000))
    assert enable.state is True
    assert payment.take_stray_fen() == 0  # not while a payment waits
    pulse(factory)
    pulse(factory)
    assert payment.poll().state is PaymentState.CONFIRMED
    assert enable.state is False
    assert payment.take_stray_fen() == 500  # the coin before the payment started
    payment.start(PaymentRequest("r3", "04A1B2C3", 5000))
    pulse(factory)
    status = payment.cancel()
    assert (status.state, status.received_fen, enable.state) == (PaymentState.FAILED, 500, False)
    pulse(factory)
    assert payment.take_stray_fen() == 500
    counter.close()


def test_a_named_pin_factory_changes_no_process_global(monkeypatch):
    """gpio.pin_factory reaches the devices without touching the environment or gpiozero's
    process-wide default (another part of the process may rely on either)."""
    from gpiozero import Device

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    before = Device.pin_factory
    hw = open_hardware(GpioSettings(led_ready=5, led_ok=6, led_error=13, buzzer=19,
                                    pin_factory="mock"))
    try:
        assert hw.note == "ok"
        assert "GPIOZERO_PIN_FACTORY" not in os.environ
        assert Device.pin_factory is before
    finally:
        hw.close()


def test_an_unknown_pin_factory_disables_hardware_and_leaves_the_process_alone(monkeypatch):
    from gpiozero import Device

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    before = Device.pin_factory
    hw = open_hardware(GpioSettings(led_ready=5, led_ok=6, led_error=13, buzzer=19,
                                    pin_factory="nosuch"))
    assert hw.feedback is None and "nosuch" in hw.note
    assert "GPIOZERO_PIN_FACTORY" not in os.environ
    assert Device.pin_factory is before


def test_a_device_failing_midway_releases_the_ones_already_built():
    class NoPin17(MockFactory):
        def pin(self, spec, **kwargs):
            if spec == PULSE_PIN:
                raise OSError("pin 17 is busy")
            return super().pin(spec, **kwargs)

    factory = NoPin17()
    hw = open_hardware(GpioSettings(led_ready=5, led_ok=6, led_error=13, buzzer=19,
                                    cash_pulse=PULSE_PIN), pin_factory=factory)
    assert hw.feedback is None and "pin 17 is busy" in hw.note
    GpioFeedback(5, 6, 13, 19, pin_factory=factory).close()  # the LED pins were given back
