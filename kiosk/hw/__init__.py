"""GPIO: status LEDs, buzzer and the cash acceptor's pulse line, on gpiozero devices."""
