"""Outside bytes the technician's tools parse (key files, answers files, NTP and MQTT replies):
anything gives a value or a typed error naming the problem, never a crash or a leaked secret."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.doctor import net
from kiosk.provisioning import answers, masterkey, system
from kiosk.provisioning.cards import progress_bar, run_batch
from kiosk.reader.base import CardInfo, CardType, Reader


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.binary(max_size=80))
def test_master_key_parser_accepts_or_names_the_problem(data):
    try:
        key = masterkey.parse_master_key(data, "/media/usb/master.key")
    except masterkey.KeyFileError as exc:
        assert str(exc).startswith("/media/usb/master.key: ")
        assert len(data) < 4 or data.hex() not in str(exc).lower()
        return
    assert len(key) == 16


def test_master_key_forms():
    key = bytes(range(1, 17))
    assert masterkey.parse_master_key(key) == key
    assert masterkey.parse_master_key((key.hex().upper() + "\n").encode()) == key
    assert masterkey.parse_master_key(":".join(f"{b:02x}" for b in key).encode()) == key
    with pytest.raises(masterkey.KeyFileError, match="constant byte pattern"):
        masterkey.parse_master_key(bytes(16))


answer_values = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(),
                          st.lists(st.integers(), max_size=2))


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.dictionaries(st.sampled_from(list(answers.NAMES) + ["shop", "Device_ID"]),
                       answer_values, max_size=6))
def test_answers_mapping_is_checked(data):
    try:
        out = answers.from_mapping(data, "shop.toml")
    except answers.AnswersError as exc:
        assert str(exc).startswith("shop.toml: ")
        return
    merged = answers.merge(out)
    assert set(out) <= set(answers.NAMES)
    assert isinstance(merged.rotation, int) and isinstance(merged.device_id, str)


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.binary(max_size=64))
def test_sntp_reply_parser(data):
    try:
        t = net.parse_sntp_reply(data)
    except ValueError:
        return
    assert isinstance(t, float)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=8))
def test_mqtt_connack_handling_on_a_real_socket(reply):
    a, b = socket.socketpair()
    try:
        a.settimeout(1)
        b.sendall(reply)
        b.shutdown(socket.SHUT_WR)
        try:
            result = net._mqtt(a, "K-001-doctor")
        except net.ProbeError as exc:
            assert exc.layer == "mqtt" and exc.fix
            return
        assert reply[:4] == b"\x20\x02\x00\x00"[:2] + reply[2:3] + b"\x00"
        assert result == "accepted"
    finally:
        a.close()
        b.close()


def test_connect_packet_is_valid_mqtt_311():
    pkt = net.mqtt_connect_packet("K-001-doctor", keepalive=30)
    assert pkt[0] == 0x10 and pkt[1] == len(pkt) - 2
    assert pkt[2:10] == b"\x00\x04MQTT\x04\x02"  # protocol level 4, clean session
    assert pkt.endswith(b"\x00\x0cK-001-doctor")


def test_raspi_config_is_used_when_present(tmp_path, monkeypatch):
    """A stand-in raspi-config on PATH (the real one only exists on a Pi) records its calls."""
    log = tmp_path / "calls"
    tool = tmp_path / "raspi-config"
    tool.write_text(f'#!/bin/sh\necho "$@" >> {log}\n'
                    'case "$2" in get_*) echo 1;; esac\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    dry = system.pi_settings(Path("/"), "rc522", "0.0", 0, dry_run=True)
    assert [o.result for o in dry] == ["would"]
    assert log.read_text().split("\n")[:-1] == ["nonint get_spi"]
    out = system.pi_settings(Path("/"), "pn532", "/dev/serial0", 180, dry_run=False)
    assert log.read_text().split("\n")[1:-1] == ["nonint get_serial_hw", "nonint do_serial_hw 0",
                                                 "nonint do_serial_cons 1"]
    assert out[0].result == "updated" and "rotate=180" in out[1].detail
    # under --root the running Pi is never touched
    skipped = system.pi_settings(tmp_path, "rc522", "0.0", 0, dry_run=False)
    assert skipped[0].result == "skipped" and "do_spi 0" in skipped[0].detail


class QueueReader(Reader):
    """The Reader interface over a queue of cards: the hardware boundary, nothing of ours."""

    def __init__(self, cards: list[CardInfo]):
        self.cards = list(cards)
        self.present: CardInfo | None = None

    def open(self) -> None: ...

    def close(self) -> None: ...

    def wait_for_card(self, timeout: float) -> CardInfo | None:
        self.present = self.cards.pop(0) if self.cards else None
        return self.present

    def wait_for_removal(self, timeout: float) -> bool:
        self.present = None
        return True


def card(n: int) -> CardInfo:
    return CardInfo(uid=bytes([4, n, 2, 3, 4, 5, 6]), type=CardType.NTAG215)


def test_card_batch_counts_failures_and_goes_on(capsys):
    import io

    def issue(reader, info):
        if info.uid[1] == 2:
            raise ValueError("card already personalised for another chain")
        return f"C-{info.uid[1]:04d}"

    out = io.StringIO()
    summary = run_batch(QueueReader([card(1), card(2), card(3)]), issue, 3, 1.0, out)
    assert summary.done == ["C-0001", "C-0003"]
    assert summary.failed == {"ValueError: card already personalised for another chain": 1}
    lines = summary.lines("issued")
    assert lines[0] == "issued: 2 of 3 cards" and "failed 1x" in lines[1]
    assert progress_bar(3, 3) in out.getvalue()
    assert "04020203040506" not in out.getvalue()


def test_card_batch_stops_when_no_card_comes():
    import io

    summary = run_batch(QueueReader([card(1)]), lambda r, i: "C-1", 5, 0.1, io.StringIO())
    assert summary.done == ["C-1"] and summary.stopped == "no card within 0s"
    assert progress_bar(1, 5, 10) == "[##........] 1/5"


CONFIG_TXT = """# For more options and information see http://rptl.io/configtxt
#dtparam=i2c_arm=on
#dtparam=spi=on
dtoverlay=vc4-kms-v3d
[cm4]
otg_mode=1
[pi4]
arm_boost=1
"""
CMDLINE = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
           "fsck.repair=yes rootwait\n")


def test_config_txt_edits():
    spi = system.edit_config_txt(CONFIG_TXT, "spi")
    assert "\ndtparam=spi=on\n" in spi and "#dtparam=spi=on" not in spi
    assert spi.replace("dtparam=spi=on", "#dtparam=spi=on") == CONFIG_TXT
    uart = system.edit_config_txt(CONFIG_TXT, "uart")
    assert uart.endswith("[pi4]\narm_boost=1\n[all]\nenable_uart=1\n")
    assert system.edit_config_txt("dtparam=spi=off\n", "spi") == "dtparam=spi=on\n"
    cmd = system.edit_cmdline_txt(CMDLINE)
    assert "console=serial0" not in cmd and "console=tty1 root=PARTUUID=4e639091-02" in cmd


config_lines = st.sampled_from(["#dtparam=spi=on", "dtparam=spi=off", "dtparam=spi=on",
                                "enable_uart=0", "#enable_uart=1", "[pi4]", "[all]", "[cm4]",
                                "dtoverlay=vc4-kms-v3d", "# comment", "", "arm_boost=1"])


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.lists(config_lines, max_size=12), st.sampled_from(["spi", "uart"]))
def test_config_txt_edit_is_idempotent_and_leaves_one_live_line(lines, need):
    text = "\n".join(lines) + "\n"
    once = system.edit_config_txt(text, need)
    assert system.edit_config_txt(once, need) == once
    wanted = system.CONFIG_TXT_LINES[need][1]
    live = [ln for ln in once.splitlines() if ln.strip() == wanted]
    assert len(live) >= 1
    prefix = system.CONFIG_TXT_LINES[need][0]
    assert not [ln for ln in once.splitlines() if ln.startswith(prefix) and ln != wanted]
