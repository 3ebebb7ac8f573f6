"""Emulated reader hardware for tests and benchmarks: the lowest layer that can run here.

Each emulator plays the chip a real driver talks to (a PN532 on a pseudo-terminal, an ACR122U
behind pcscd's virtual reader, an MFRC522 behind a fake spidev); the cards in the field are the
pure-Python chip models of kiosk/reader/chips.py, seen through field.Field."""
