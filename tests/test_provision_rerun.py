"""`kiosk provision` run again on a provisioned kiosk (a technician moving it to another store or
another HQ) keeps every section and key of kiosk.toml it does not own, says what it changed, and
refuses, changing nothing, a file it cannot keep the rest of."""

from __future__ import annotations

import tomllib

import pytest

from kiosk.app.config import load_config
from tests.prov_helpers import make_root, run_command, snapshot
from tests.test_provision import base_args, inputs  # noqa: F401  (the fixture)

HAND_SECTIONS = """
[printer]
kind = "serial"
device = "/dev/ttyUSB1"
baudrate = 19200

[session]
inactivity_s = 45
staff_cards = ["04AABBCC"]

[gpio]
led_ready = 17
buzzer = 27
"""
HAND = {
    "printer": {"kind": "serial", "device": "/dev/ttyUSB1", "baudrate": 19200},
    "session": {"inactivity_s": 45, "staff_cards": ["04AABBCC"]},
    "gpio": {"led_ready": 17, "buzzer": 27},
    "keepalive_s": 90,
    "tokens_file": "/etc/kiosk/till-tokens.json",
}


@pytest.fixture
def provisioned(tmp_path, inputs):  # noqa: F811
    """A kiosk provisioned once, its kiosk.toml then given hand-added sections and keys."""
    root = make_root(tmp_path / "root")
    usb, _ = inputs
    assert run_command("provision", *base_args(root, usb), "--hq-host", "hq-old.example", "--till-port", "8765") == 0
    config = root / "etc/kiosk/kiosk.toml"
    text = config.read_text().replace("[hq]\n", "[hq]\nkeepalive_s = 90\n")
    text = text.replace("[till]\n", '[till]\ntokens_file = "/etc/kiosk/till-tokens.json"\n')
    config.write_text(text + HAND_SECTIONS)
    assert _hand_parts(tomllib.loads(config.read_text())) == HAND
    return root, config


def _hand_parts(data: dict) -> dict:
    return {
        "printer": data["printer"], "session": data["session"], "gpio": data["gpio"],
        "keepalive_s": data["hq"]["keepalive_s"], "tokens_file": data["till"]["tokens_file"],
    }


def test_a_rerun_changing_the_store_and_hq_keeps_every_hand_added_section_and_key(provisioned, capsys):
    root, config = provisioned
    before = tomllib.loads(config.read_text())
    capsys.readouterr()
    assert run_command("provision", "--root", root, "--non-interactive", "--store-id", "BJ-01",
                       "--hq-host", "hq-new.example") == 0
    out = capsys.readouterr().out
    after = tomllib.loads(config.read_text())
    assert _hand_parts(after) == HAND
    assert (after["device"]["store"], after["hq"]["host"]) == ("BJ-01", "hq-new.example")
    assert {k: v for k, v in after["device"].items() if k != "store"} == {
        k: v for k, v in before["device"].items() if k != "store"}
    assert "device.store: 'SH-07' -> 'BJ-01'" in out
    assert "hq.host: 'hq-old.example' -> 'hq-new.example'" in out
    assert "[gpio], [printer], [session], hq.keepalive_s, till.tokens_file" in out
    loaded = load_config(config)  # the service reads it all
    assert (loaded.printer.baudrate, loaded.session.inactivity_s, loaded.gpio.buzzer, loaded.hq.keepalive_s) == (
        19200, 45, 27, 90)


def test_a_rerun_keeps_the_technicians_comments_and_layout(provisioned, capsys):
    """A kiosk.toml is where a technician writes down why (a printer on the second USB port, a
    longer timeout for a slow store): a re-run changes the values it owns and no comment."""
    root, config = provisioned
    text = config.read_text()
    text = text.replace("[printer]\n", "# the Epson on the back USB port, since 2026-03\n[printer]\n")
    text = text.replace("inactivity_s = 45", "inactivity_s = 45  # older members read slowly here")
    text = text.replace("[hq]\n", "[hq]\n# hq-old is retired in January\n")
    config.write_text(text)
    capsys.readouterr()
    assert run_command("provision", "--root", root, "--non-interactive", "--hq-host", "hq-new.example") == 0
    after = config.read_text()
    for comment in ("# the Epson on the back USB port, since 2026-03\n[printer]",
                    "inactivity_s = 45  # older members read slowly here", "# hq-old is retired in January"):
        assert comment in after
    assert after.startswith("# Written by `kiosk provision`")
    assert tomllib.loads(after)["hq"]["host"] == "hq-new.example"
    assert _hand_parts(tomllib.loads(after)) == HAND


def test_a_rerun_with_the_same_answers_changes_no_byte_of_a_hand_edited_config(provisioned, capsys):
    root, config = provisioned
    assert run_command("provision", "--root", root, "--non-interactive") == 0
    once = config.read_bytes()
    state = snapshot(root)
    capsys.readouterr()
    assert run_command("provision", "--root", root, "--non-interactive") == 0
    assert snapshot(root) == state and config.read_bytes() == once
    assert "nothing changed" in capsys.readouterr().out


def test_a_key_provision_owns_and_no_longer_writes_goes_and_only_it(provisioned, capsys):
    """Without a till port the till is off: provision's till keys go, the hand-added one stays."""
    root, config = provisioned
    capsys.readouterr()
    # an answers file may turn the till off (0), as a flag can only set a port
    answers = root.parent / "answers.toml"
    answers.write_text("till_port = 0\n")
    assert run_command("provision", "--root", root, "--non-interactive", "--answers", answers) == 0
    after = tomllib.loads(config.read_text())
    assert after["till"] == {"tokens_file": "/etc/kiosk/till-tokens.json"}
    assert "till.port: 8765 removed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda text: text + "\n[printer\nkind = 1\n", "not valid TOML"),
        (lambda text: text.replace("baudrate = 19200", "baud = 19200"),
         "printer.baud: unknown setting"),
    ],
)
def test_a_config_it_cannot_keep_the_rest_of_is_refused_and_left_as_it_is(provisioned, inputs, capsys, damage, says):  # noqa: F811
    root, config = provisioned
    config.write_text(damage(config.read_text()))
    state = snapshot(root)
    capsys.readouterr()
    usb = inputs[0]
    assert run_command("provision", *base_args(root, usb), "--store-id", "BJ-01") == 2
    err = capsys.readouterr().err
    assert says in err and "/etc/kiosk/kiosk.toml" in err and "nothing was changed" in err
    assert "fix it" in err
    assert snapshot(root) == state
