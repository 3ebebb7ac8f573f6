"""LEDs, buzzer and cash-acceptor pulses, through gpiozero (MockFactory off a Pi)."""
