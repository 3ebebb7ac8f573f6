"""Key diversification: AN10922's published example, and the properties the card format needs."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.reader.keys import KeyFileError, SiteKeys, an10922_aes128, cmac

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def test_an10922_published_aes128_example():
    # AN10922 §2.2.1: UID 04782E21801D80, AID 3042F5, System Identifier "NXP Abu"
    m = bytes.fromhex("04782E21801D803042F54E585020416275")
    assert an10922_aes128(MASTER, m) == bytes.fromhex("A8DD63A3B89D54B37CA802473FDA9175")


def test_site_keys_reproduce_the_example_card_key():
    site = SiteKeys(MASTER, b"NXP Abu", aid=bytes.fromhex("3042F5"))
    got = site.card_key(bytes.fromhex("04782E21801D80"))
    assert got == bytes.fromhex("A8DD63A3B89D54B37CA802473FDA9175")


@given(st.binary(min_size=16, max_size=31))
def test_an10922_is_cmac_when_cmac_pads_to_two_blocks(data):
    assert an10922_aes128(MASTER, data) == cmac(MASTER, b"\x01" + data)


@given(st.binary(min_size=1, max_size=15))
def test_an10922_short_input_pads_to_32_bytes_not_16(data):
    assert an10922_aes128(MASTER, data) != cmac(MASTER, b"\x01" + data)


def test_card_keys_are_distinct_per_card_and_per_use():
    site = SiteKeys(MASTER, b"chain-1")
    a, b = site.for_card(bytes.fromhex("01020304")), site.for_card(bytes.fromhex("01020305"))
    assert a.key_a != b.key_a and a.mac_key != b.mac_key and a.ntag_pwd != b.ntag_pwd
    assert len(a.key_a) == len(a.key_b) == 6 and len(a.mac_key) == 16
    assert len(a.ntag_pwd) == 4 and len(a.ntag_pack) == 2
    assert a.key_a != a.key_b and a.key_a not in a.mac_key and a.key_b not in a.mac_key
    assert SiteKeys(MASTER, b"chain-2").for_card(a.uid).mac_key != a.mac_key
    assert site.for_card(a.uid) == a


def test_secrets_stay_out_of_repr():
    site = SiteKeys(MASTER, b"chain-1")
    k = site.for_card(b"\x01\x02\x03\x04")
    for text in (repr(site), repr(k)):
        assert MASTER.hex() not in text.lower() and k.key_a.hex() not in text
        assert "mac_key" not in text


def test_master_key_file(tmp_path):
    path = tmp_path / "master.key"
    SiteKeys.write_new(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert SiteKeys.from_file(path, b"s").for_card(b"\x01\x02\x03\x04")
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="mode 600"):
        SiteKeys.from_file(path, b"s")
    bad = tmp_path / "bad.key"
    bad.write_text("nothex" * 6)
    os.chmod(bad, 0o600)
    with pytest.raises(KeyFileError) as e:
        SiteKeys.from_file(bad, b"s")
    assert "nothex" not in str(e.value)
    with pytest.raises(KeyFileError):
        SiteKeys.from_file(tmp_path / "missing", b"s")


def test_master_key_file_by_the_one_rule(tmp_path):
    """run (SiteKeys.from_file), doctor and provisioning (read_master_key) share one parser."""
    from kiosk.provisioning import masterkey

    path = tmp_path / "master.key"
    for text, accepted in ((":".join(f"{b:02x}" for b in MASTER) + "\n", True),
                           (" ".join(f"{b:02X}" for b in MASTER), True),
                           (bytes(16).hex() + "\n", False), ("ab" * 16, False)):
        path.write_text(text)
        os.chmod(path, 0o600)
        verdicts = []
        for load in (lambda: SiteKeys.from_file(path, b"s"),
                     lambda: masterkey.read_master_key(path)):
            try:
                load()
                verdicts.append(True)
            except KeyFileError as e:
                assert MASTER.hex() not in str(e)
                verdicts.append(False)
        assert verdicts == [accepted, accepted], text
