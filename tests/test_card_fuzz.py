"""Fuzz: the card parsers, fed random and mutated images, raise only CardFormatError, and a
mutation never yields a member or purse that was not written. 100,000 images by default
(KIOSK_FUZZ_IMAGES to change); the whole read path over the simulated reader gets random chips."""

import os
import random
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.reader.card import read_member_card
from kiosk.reader.card_classic import APP_ACCESS
from kiosk.reader.card_format import (
    IDENTITY_SIZE,
    KIND_CLASSIC,
    KIND_NTAG,
    CardFormatError,
    PurseHint,
    encode_identity,
    encode_slot,
    parse_classic_image,
    parse_ntag_token,
)
from kiosk.reader.chips import MifareClassic, Ntag
from kiosk.reader.simulated import SimulatedReader
from tests.card_helpers import SIGNERS, SITE

IMAGES = int(os.environ.get("KIOSK_FUZZ_IMAGES", "100000"))
UID = bytes.fromhex("0A0B0C0D")
KEYS = [SITE.for_card(UID)]
IDENT = encode_identity(KEYS[0], KIND_CLASSIC, "M-fuzz-1", 3, date(2026, 5, 1))
OLDER = PurseHint(100, 1, 6, 7)
NEWER = PurseHint(200, 2, 7, 7)
VALID = IDENT + encode_slot(KEYS[0], IDENT[:40], OLDER) + encode_slot(KEYS[0], IDENT[:40], NEWER)
NTAG_UID = bytes.fromhex("04010203040506")
NTAG_KEYS = [SITE.for_card(NTAG_UID)]
TOKEN = encode_identity(NTAG_KEYS[0], KIND_NTAG, "M-fuzz-2", 1, date(2026, 5, 1))


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    choice = rng.randrange(6)
    if choice == 0:  # flip bits
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif choice == 1:  # overwrite bytes
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif choice == 2:  # a torn block: prefix of random bytes
        block = rng.randrange(len(b) // 16)
        cut = rng.randrange(17)
        b[block * 16 : block * 16 + cut] = rng.randbytes(cut)
    elif choice == 3:  # zero or FF a block
        block = rng.randrange(len(b) // 16)
        b[block * 16 : block * 16 + 16] = bytes([rng.choice((0, 0xFF))]) * 16
    elif choice == 4:  # swap blocks
        i, j = rng.randrange(len(b) // 16), rng.randrange(len(b) // 16)
        bi, bj = b[i * 16 : i * 16 + 16], b[j * 16 : j * 16 + 16]
        b[i * 16 : i * 16 + 16], b[j * 16 : j * 16 + 16] = bj, bi
    else:  # wrong length
        return bytes(b[: rng.randrange(len(b))]) + rng.randbytes(rng.randrange(3))
    return bytes(b)


def _check_classic(image: bytes) -> bool:
    """True when the image parsed (then it must be the state written, or the older one)."""
    try:
        card = parse_classic_image(UID, KEYS, image)
    except CardFormatError:
        return False
    assert (card.member_id, card.card_seq, card.issued_on) == ("M-fuzz-1", 3, date(2026, 5, 1))
    assert card.purse in (OLDER, NEWER)
    return True


def _check_ntag(token: bytes) -> bool:
    try:
        card = parse_ntag_token(NTAG_UID, NTAG_KEYS, token)
    except CardFormatError:
        return False
    assert card.member_id == "M-fuzz-2"
    return True


def test_parsers_survive_random_and_mutated_images():
    rng = random.Random(20261123)
    counts = {"random": 0, "mutated": 0, "ntag": 0, "accepted": 0}
    for i in range(IMAGES):
        kind = i % 10
        if kind < 3:
            image = rng.randbytes(rng.choice((len(VALID), len(VALID), rng.randrange(200))))
            if rng.random() < 0.5 and len(image) >= 3:  # get past the magic check
                image = b"KM\x01" + image[3:]
            counts["accepted"] += _check_classic(image)
            counts["random"] += 1
        elif kind < 9:
            image = _mutate(rng, VALID)
            for _ in range(rng.randrange(3)):
                image = _mutate(rng, image) if len(image) >= 16 else image
            counts["accepted"] += _check_classic(image)
            counts["mutated"] += 1
        else:
            counts["accepted"] += _check_ntag(
                _mutate(rng, TOKEN) if rng.random() < 0.8 else rng.randbytes(48)
            )
            counts["ntag"] += 1
    assert counts["random"] + counts["mutated"] + counts["ntag"] == IMAGES
    # some mutations (of the older slot, or swaps of identical blocks) leave a valid card
    assert 0 < counts["accepted"] < IMAGES / 2


def test_the_valid_image_parses():
    assert parse_classic_image(UID, KEYS, VALID).purse == NEWER
    assert parse_ntag_token(NTAG_UID, NTAG_KEYS, TOKEN).member_id == "M-fuzz-2"


@settings(max_examples=2000, deadline=None)
@given(st.binary(min_size=0, max_size=160))
def test_hypothesis_random_images(data):
    _check_classic(data)
    _check_classic(VALID[: len(data) % len(VALID)] + data)
    _check_ntag(data[:IDENTITY_SIZE])


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6))
def test_hypothesis_mutations_of_a_valid_image(edits):
    b = bytearray(VALID)
    for pos, value in edits:
        b[pos] = value
    _check_classic(bytes(b))


def test_read_path_over_random_chips():
    """Random memories behind the simulated reader: typed errors only, through the driver."""
    rng = random.Random(7)
    reader = SimulatedReader()
    for i in range(300):
        if i % 2:
            chip = MifareClassic(UID, memory=rng.randbytes(64 * 16))
            if rng.random() < 0.5:  # our keys in the trailers, random data
                for sector in (1, 2, 3):
                    t = (sector * 4 + 3) * 16
                    chip.memory[t : t + 16] = KEYS[0].key_a + APP_ACCESS + b"\x69" + KEYS[0].key_b
                    chip.memory[sector * 64 : sector * 64 + 48] = _mutate(rng, VALID)[:48].ljust(
                        48, b"\x00"
                    )
        else:
            chip = Ntag(NTAG_UID, "ntag213", rng.randbytes(32), rng.randbytes(45 * 4))
        reader.place(chip)
        info = reader.wait_for_card(0)
        try:
            read_member_card(reader, info, SITE, SIGNERS)
        except CardFormatError:
            pass
