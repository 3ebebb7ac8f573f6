"""The card master key file: the one secret every card key is diversified from.

The technician brings it on a USB stick (16 raw bytes, or 32 hex digits in a text file);
provision stores it as 32 hex digits and a newline (the form the card layer's SiteKeys reads),
mode 600, owned by the service user. Its value is never
printed, not even in an error message."""

from __future__ import annotations

import re
from pathlib import Path

KEY_BYTES = 16  # AES-128, as NXP AN10922 diversification uses


class KeyFileError(ValueError):
    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def parse_master_key(data: bytes, path: Path | str = "<memory>") -> bytes:
    """16 raw bytes, or 32 hex digits (spaces, colons and a final newline allowed)."""
    if len(data) == KEY_BYTES:
        key = data
    else:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError(path, f"must be {KEY_BYTES} raw bytes or {2 * KEY_BYTES} hex "
                                     f"digits (found {len(data)} bytes)") from None
        digits = re.sub(r"[\s:]", "", text)
        if not re.fullmatch(r"[0-9A-Fa-f]*", digits) or len(digits) != 2 * KEY_BYTES:
            raise KeyFileError(path, f"must be {KEY_BYTES} raw bytes or {2 * KEY_BYTES} hex "
                                     f"digits (found {len(data)} bytes)")
        key = bytes.fromhex(digits)
    if key == bytes(KEY_BYTES) or len(set(key)) == 1:
        raise KeyFileError(path, "is a constant byte pattern, not a real key")
    return key


def read_master_key(path: Path) -> bytes:
    """Read and check a master key file; the error names the file, never the content."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(path, "file not found") from None
    except PermissionError:
        raise KeyFileError(path, "permission denied (the kiosk user must own it)") from None
    except IsADirectoryError:
        raise KeyFileError(path, "is a directory") from None
    return parse_master_key(data, path)
