"""NXP originality signatures (READ_SIG): ECDSA over curve secp128r1 (SEC 2) of the raw UID,
no hashing, signature r || s (16 bytes each), as in NXP AN11350.

`cryptography` has no secp128r1, so the arithmetic is here in plain Python: verification is
a few milliseconds. Signing exists only so emulated chips can carry a signature from a test
key; real chips are signed by NXP, whose public key is NXP_NTAG21X_PUBLIC_KEY."""

from __future__ import annotations

import functools
import hashlib
import hmac

P = 0xFFFFFFFDFFFFFFFFFFFFFFFFFFFFFFFF
A = 0xFFFFFFFDFFFFFFFFFFFFFFFFFFFFFFFC
B = 0xE87579C11079F43DD824993C2CEE5ED3
G = (0x161FF7528B899B2D0C28607CA52C5B86, 0xCF5AC8395BAFEB13C02DA292DDED7A83)
N = 0xFFFFFFFE0000000075A30D1B9038A115

# NXP AN11350, "NTAG21x (2013)"
NXP_NTAG21X_PUBLIC_KEY = bytes.fromhex(
    "04494E1A386D3D3CFE3DC10E5DE68A499B1C202DB5B132393E89ED19FE5BE8BC61"
)
# MIFARE Ultralight EV1
NXP_ULTRALIGHT_EV1_PUBLIC_KEY = bytes.fromhex(
    "0490933BDCD6E99B4E255E3DA55389A827564E11718E017292FAF23226A96614B8"
)

Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def on_curve(point: tuple[int, int]) -> bool:
    x, y = point
    return (y * y - (x * x * x + A * x + B)) % P == 0


def _decode_point(public_key: bytes) -> tuple[int, int]:
    if len(public_key) != 33 or public_key[0] != 0x04:
        raise ValueError("expected an uncompressed secp128r1 point (04 || x || y)")
    point = int.from_bytes(public_key[1:17], "big"), int.from_bytes(public_key[17:33], "big")
    if not on_curve(point):
        raise ValueError("public key is not on secp128r1")
    return point


def _message(uid: bytes) -> int:
    e = int.from_bytes(uid, "big")
    excess = len(uid) * 8 - N.bit_length()
    return e >> excess if excess > 0 else e


@functools.lru_cache(maxsize=4096)
def verify(uid: bytes, signature: bytes, public_key: bytes = NXP_NTAG21X_PUBLIC_KEY) -> bool:
    """True when `signature` (32 bytes r || s) is a valid ECDSA signature of `uid`. Cached:
    a member's card tapped again costs nothing (about 2 ms in pure Python otherwise)."""
    if len(signature) != 32:
        return False
    q = _decode_point(public_key)
    r, s = int.from_bytes(signature[:16], "big"), int.from_bytes(signature[16:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    w = pow(s, -1, N)
    point = _add(_mul(_message(uid) * w % N, G), _mul(r * w % N, q))
    return point is not None and point[0] % N == r


def public_key_of(private_key: int) -> bytes:
    point = _mul(private_key, G)
    assert point is not None
    return b"\x04" + point[0].to_bytes(16, "big") + point[1].to_bytes(16, "big")


def sign(uid: bytes, private_key: int) -> bytes:
    """Deterministic ECDSA signature (nonce from HMAC of key and UID), for emulated chips."""
    counter = 0
    while True:
        seed = hmac.new(private_key.to_bytes(16, "big"), uid + bytes((counter,)), hashlib.sha256)
        k = int.from_bytes(seed.digest(), "big") % N
        point = _mul(k, G) if k else None
        counter += 1
        if point is None:
            continue
        r = point[0] % N
        s = pow(k, -1, N) * (_message(uid) + r * private_key) % N
        if r and s:
            return r.to_bytes(16, "big") + s.to_bytes(16, "big")


# A key for emulated chips in tests and the demo; a kiosk that trusts it accepts test cards only.
TEST_PRIVATE_KEY = 0x0123456789ABCDEF0FEDCBA987654321
TEST_PUBLIC_KEY = public_key_of(TEST_PRIVATE_KEY)
