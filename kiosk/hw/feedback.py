"""Status LEDs (ready / ok / error) and a buzzer, as the session's Feedback.

Each call is quick and never raises: gpiozero runs blinks and beeps on its own background
threads, and a GPIO failure is logged once rather than stopping a member's session."""

from __future__ import annotations

import logging

from gpiozero import LED, Buzzer

log = logging.getLogger(__name__)


class GpioFeedback:
    def __init__(self, ready: int | str, ok: int | str, error: int | str, buzzer: int | str, pin_factory=None):
        self.ready_led = LED(ready, pin_factory=pin_factory)
        self.ok_led = LED(ok, pin_factory=pin_factory)
        self.error_led = LED(error, pin_factory=pin_factory)
        self.buzzer = Buzzer(buzzer, pin_factory=pin_factory)
        self._factory_name = type(self.ready_led.pin_factory).__name__
        self._failed = ""
        self.ready()

    def _safely(self, what: str, action) -> None:
        try:
            action()
        except Exception as exc:  # GPIO trouble must not break the session
            if not self._failed:
                log.error("GPIO %s failed, hardware feedback may be wrong: %s", what, exc)
            self._failed = f"{what}: {exc}"

    def tap(self) -> None:
        self._safely("tap", lambda: self.buzzer.beep(on_time=0.05, off_time=0.05, n=1, background=True))

    def ok(self) -> None:
        def show() -> None:
            self.error_led.off()
            self.ok_led.blink(on_time=2.0, off_time=0.1, n=1, background=True)
            self.buzzer.beep(on_time=0.1, off_time=0.05, n=1, background=True)

        self._safely("ok", show)

    def error(self) -> None:
        def show() -> None:
            self.ok_led.off()
            self.error_led.blink(on_time=0.3, off_time=0.2, n=3, background=True)
            self.buzzer.beep(on_time=0.1, off_time=0.1, n=3, background=True)

        self._safely("error", show)

    def ready(self) -> None:
        def show() -> None:
            self.ok_led.off()
            self.error_led.off()
            self.ready_led.on()

        self._safely("ready", show)

    def describe(self) -> str:
        return f"error: {self._failed}" if self._failed else f"ok ({self._factory_name})"

    def close(self) -> None:
        for device in (self.ready_led, self.ok_led, self.error_led, self.buzzer):
            device.close()
