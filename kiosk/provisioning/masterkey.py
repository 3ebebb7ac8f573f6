"""The card master key file: the one secret every card key is diversified from.

The technician brings it on a USB stick (16 raw bytes, or 32 hex digits in a text file);
provision stores it as 32 hex digits and a newline (the form the card layer's SiteKeys reads),
mode 600, owned by the service user. Its value is never printed, not even in an error message.
What counts as a key is decided once, in kiosk.reader.keys, for provisioning, doctor and run."""

from __future__ import annotations

from kiosk.reader.keys import KEY_BYTES, KeyFileError, parse_master_key, read_master_key

__all__ = ["KEY_BYTES", "KeyFileError", "parse_master_key", "read_master_key"]
