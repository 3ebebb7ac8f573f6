"""Logs never hold a card UID, a phone number or a key, whichever way they get in."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.app import logging_setup
from kiosk.app.logging_setup import hash_uid, mask_phone, redact, register_secret, setup_logging

UID = bytes.fromhex("04A1B2C3D4E5F6")
PHONE = "13812345678"
KEY = bytes.fromhex("8f3a1c2d4e5f60718293a4b5c6d7e8f9")


@pytest.fixture(params=[True, False], ids=["json", "text"])
def captured(request):
    stream = io.StringIO()
    handler = setup_logging(logging.DEBUG, stream=stream, json_lines=request.param)
    yield stream, request.param
    logging.getLogger().removeHandler(handler)


def forbidden(text: str) -> list[str]:
    needles = [UID.hex(), UID.hex().upper(), "04:A1:B2:C3:D4:E5:F6", PHONE, KEY.hex(),
               KEY.hex().upper(), "12345678", repr(KEY)[2:-1], repr(UID)[2:-1]]
    return [n for n in needles if n in text]


def test_uid_phone_and_key_never_reach_the_output(captured):
    stream, as_json = captured
    register_secret(KEY)
    log = logging.getLogger("kiosk.session")
    log.info("card tapped uid=%s", UID.hex().upper())
    log.info("card tapped", extra={"uid": UID, "phone": PHONE})
    log.info("card UID: 04:A1:B2:C3:D4:E5:F6 belongs to member %s", "+86 " + PHONE)
    log.warning("sign-up for %s", PHONE, extra={"master_key": KEY.hex(), "card_uid": UID.hex()})
    log.error("loaded key %s", KEY.hex())
    log.debug("raw key bytes %r", KEY)
    log.info("card %s tapped, raw %r", UID.hex().upper(), UID)
    try:
        raise ValueError(f"member {PHONE} card uid={UID.hex()} key {KEY.hex()}")
    except ValueError:
        log.exception("top-up failed")
    out = stream.getvalue()
    assert forbidden(out) == [], out
    assert hash_uid(UID) in out
    assert "138****5678" in out
    if as_json:
        records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert records[1]["uid"] == hash_uid(UID)
        assert records[3]["master_key"] == "[redacted]"
        assert records[1]["msg"] == "card tapped"


def test_uid_hash_is_stable_within_an_install_and_differs_between_installs():
    logging_setup.set_uid_salt(b"A" * 16)
    first = hash_uid(UID)
    assert hash_uid(UID.hex()) == first == hash_uid("04 A1 B2 C3 D4 E5 F6")
    logging_setup.set_uid_salt(b"B" * 16)
    assert hash_uid(UID) != first


def test_salt_file_is_private_and_reused(tmp_path):
    path = tmp_path / "log_salt"
    salt = logging_setup.load_or_create_salt(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert logging_setup.load_or_create_salt(path) == salt


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(uid=st.binary(min_size=4, max_size=10).filter(lambda b: len(b) in (4, 7, 10)),
       label=st.sampled_from(["uid=", "UID ", "card_uid: ", "uid:0x"]),
       upper=st.booleans())
def test_any_uid_after_a_label_is_hashed(uid, label, upper):
    text = uid.hex().upper() if upper else uid.hex()
    out = redact(f"tap {label}{text} at kiosk K-001")
    assert text not in out
    assert "K-001" in out


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["", "+86", "86-"]))
def test_any_mobile_number_is_masked(phone, prefix):
    out = mask_phone(f"member {prefix}{phone} signed up")
    assert phone not in out
    assert f"{phone[:3]}****{phone[-4:]}" in out


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.binary(min_size=16, max_size=32))
def test_a_registered_secret_never_appears(secret):
    register_secret(secret)
    out = redact(f"key={secret.hex()} KEY={secret.hex().upper()}")
    assert secret.hex() not in out and secret.hex().upper() not in out


def test_ordinary_text_is_left_alone():
    line = ("top-up 5000 fen for member M-00017 at 2026-11-23T10:00Z, outbox 3, txn K-001:17, "
            "order 20261123, total 12345678 fen")
    assert redact(line) == line


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.binary(min_size=4, max_size=10).filter(lambda b: len(b) in (4, 7, 10)))
def test_a_bare_uid_with_a_letter_in_it_is_hashed(uid):
    text = uid.hex().upper()
    out = redact(f"card {text} tapped")
    if any(c in "ABCDEF" for c in text):
        assert text not in out and hash_uid(uid) in out


def test_under_systemd_the_journal_gets_json(tmp_path):
    """JOURNAL_STREAM names stderr's device:inode (as systemd sets it): lines become JSON."""
    import os
    import subprocess
    import sys

    err = tmp_path / "stderr"
    script = ("import logging; from kiosk.app.logging_setup import setup_logging; setup_logging(); "
              "logging.getLogger('kiosk.session').info('tap uid=04A1B2C3D4E5F6 phone "
              "13812345678')")
    with open(err, "w") as f:
        st = os.fstat(f.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        subprocess.run([sys.executable, "-c", script], stderr=f, env=env, check=True,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    record = json.loads(err.read_text().splitlines()[0])
    assert record["logger"] == "kiosk.session" and record["level"] == "INFO"
    assert "04A1B2C3D4E5F6" not in record["msg"] and "138****5678" in record["msg"]
    with open(err, "w") as f:  # a terminal (or any other stderr): a plain line
        subprocess.run([sys.executable, "-c", script], stderr=f, check=True,
                       env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"},
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert not err.read_text().startswith("{")


BUILD_AND_HASH = """
import sys
from pathlib import Path
from kiosk.app.logging_setup import hash_uid
from kiosk.app.assembly import build_kiosk
from kiosk.app.simulate import demo_config
kiosk = build_kiosk(demo_config(Path(sys.argv[1])), simulate=True)
print(hash_uid(bytes.fromhex("04A1B2C3D4E5F6")))
kiosk.close()
"""


def test_two_kiosk_runs_hash_a_card_alike_and_keep_the_salt_private(tmp_path):
    """`kiosk run`'s wiring loads the install's salt: two processes (a restart) give one card
    the same hash, and the salt file in the data dir is mode 600."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1"}
    hashes = [
        subprocess.run([sys.executable, "-c", BUILD_AND_HASH, str(tmp_path)], env=env,
                       capture_output=True, text=True, check=True, timeout=120).stdout.split()[-1]
        for _ in range(2)
    ]
    assert hashes[0] == hashes[1] and hashes[0].startswith("uid#")
    salt = tmp_path / "store" / logging_setup.SALT_FILE
    assert salt.stat().st_mode & 0o777 == 0o600
    logging_setup.set_uid_salt(salt.read_bytes())
    assert hash_uid(bytes.fromhex("04A1B2C3D4E5F6")) == hashes[0]


def test_a_damaged_salt_file_is_replaced_and_a_missing_dir_keeps_the_process_salt(tmp_path):
    path = tmp_path / logging_setup.SALT_FILE
    path.write_bytes(b"")  # as if power was cut while an old kiosk created it
    salt = logging_setup.load_or_create_salt(path)
    assert len(salt) == 16 and path.read_bytes() == salt
    assert logging_setup.use_install_salt(tmp_path / "missing") is False
    assert not (tmp_path / "missing").exists()
