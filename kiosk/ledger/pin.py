"""PINs are never stored in clear: scrypt over HMAC(pepper, PIN) with a per-member salt.

The pepper is a secret kept outside the store (provisioned per device or per chain), so a copied
store alone does not allow brute-forcing the short PIN space offline."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class PinHashParams:
    n: int = 2**14  # about 50 ms on a Raspberry Pi 4; slow enough to hurt brute force
    r: int = 8
    p: int = 1


DEFAULT_PARAMS = PinHashParams()
FAST_FOR_TESTS = PinHashParams(n=2**4, r=1, p=1)


def hash_pin(
    pin: str, pepper: bytes, params: PinHashParams = DEFAULT_PARAMS, salt: bytes | None = None
) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = _derive(pin, pepper, salt, params)
    return f"scrypt${params.n}${params.r}${params.p}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, pepper: bytes, stored: str) -> bool:
    try:
        algo, n, r, p, salt_hex, digest_hex = stored.split("$")
        params = PinHashParams(int(n), int(r), int(p))
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    if algo != "scrypt":
        return False
    return hmac.compare_digest(_derive(pin, pepper, salt, params), expected)


def _derive(pin: str, pepper: bytes, salt: bytes, params: PinHashParams) -> bytes:
    keyed = hmac.new(pepper, pin.encode(), hashlib.sha256).digest()
    return hashlib.scrypt(keyed, salt=salt, n=params.n, r=params.r, p=params.p, dklen=32)
