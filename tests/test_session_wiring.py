"""A session built from a kiosk.toml: staff cards, timeouts and GPIO pins come from the file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from kiosk.app.config import ConfigError, load_config, parse_config
from kiosk.app.wiring import build_session, site_keys_from
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.reader import chips
from kiosk.reader.simulated import SimulatedReader
from kiosk.session.clock import ManualClock
from kiosk.store.store import Store
from tests.session_support import START
from tests.test_hw import SteppedFactory, pulse

TOML = """
[device]
id = "kiosk-07"
store = "S1"
data_dir = "{data}"

[secrets]
card_master_key_file = "{key}"

[session]
inactivity_s = 20
staff_cards = ["5a:5a:5a:5a"]

[gpio]
led_ready = 5
led_ok = 6
led_error = 13
buzzer = 19
cash_pulse = 17
fen_per_pulse = 500
"""


def run(kiosk) -> None:
    """Let the reader worker and the session each take a few turns."""
    for _ in range(3):
        kiosk.worker.step()
        kiosk.session.pump()


@pytest.fixture
def config(tmp_path):
    key = tmp_path / "master.key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"00112233445566778899aabbccddeeff\n")
    os.close(fd)
    path = tmp_path / "kiosk.toml"
    path.write_text(TOML.format(data=tmp_path / "data", key=key))
    return load_config(path)


def test_session_from_config(config):
    factory = SteppedFactory()
    clock = ManualClock(START)
    reader = SimulatedReader()
    store = Store.open(config.device.data_dir, config.device.id, pin_params=FAST_FOR_TESTS)
    kiosk = build_session(config, store, reader, site_keys_from(config), clock=clock, pin_factory=factory, poll_s=0)
    session = kiosk.session

    try:
        blank = chips.new_classic(bytes.fromhex("04ABCDEF"))
        reader.place(blank)
        run(kiosk)
        assert session.state == "signup_offer" and session.view.seconds_left == 20
        session.start_signup()
        session.submit_details("13912345678")
        session.accept_privacy()
        for d in "135792135792":
            session.pin_digit(d)
        run(kiosk)
        assert session.state == "done"
        session.dismiss()
        session.start_topup()
        session.choose_amount(1500)
        session.pay("cash_acceptor")
        for _ in range(3):
            pulse(factory, chatter=2)
        run(kiosk)
        assert session.state == "done"
        assert session.view.message.params["amount_fen"] == 1500
        assert factory.pin(6).state is True or any(s.state for s in factory.pin(6).states)
        reader.remove()
        run(kiosk)
        reader.place(chips.new_classic(bytes.fromhex("5A5A5A5A")))
        run(kiosk)
        assert session.state == "staff_menu"
        assert session.view.staff.hardware.startswith("ok")
        assert (config.device.data_dir / "incidents.jsonl").exists()
    finally:
        kiosk.close()
        store.close()
        factory.reset()


def test_simulated_reader_trusts_the_simulator_signed_ntags(config):
    """With [reader] driver = "simulated" (the default), NTAGs signed with the simulator's test
    key pass the originality check, so `kiosk run --simulate` can sign NTAG members up."""
    reader = SimulatedReader()
    store = Store.open(config.device.data_dir, config.device.id, pin_params=FAST_FOR_TESTS)
    kiosk = build_session(config, store, reader, site_keys_from(config), clock=ManualClock(START), poll_s=0)
    session = kiosk.session

    try:
        tag = chips.new_ntag(bytes.fromhex("04A1B2C3D4E5F6"))
        reader.place(tag)
        run(kiosk)
        assert session.state == "signup_offer"
        session.start_signup()
        session.submit_details("13912345670")
        session.accept_privacy()
        for d in "135792135792":
            session.pin_digit(d)
        run(kiosk)
        assert session.state == "done"
        reader.remove()
        run(kiosk)
        reader.place(tag)
        run(kiosk)
        assert session.state == "home"
    finally:
        kiosk.close()
        store.close()


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("[session]\ninactivity_s = 1", "session.inactivity_s"),
        ("[session]\nstaff_cards = ['xyz']", "session.staff_cards"),
        ("[session]\nstaff_cards = '5A5A5A5A'", "session.staff_cards"),
        ("[session]\nidle = 3", "session.idle"),
        ("[gpio]\nled_ok = 99", "gpio.led_ok"),
        ("session = 3", "session"),
    ],
)
def test_bad_session_and_gpio_settings_name_the_field(table, field):
    device = '[device]\nid = "k"\nstore = "s"\ndata_dir = "/tmp/k"\n'
    data = tomllib.loads(device + table if table.startswith("[") else table + "\n" + device)
    with pytest.raises(ConfigError) as err:
        parse_config(data, "kiosk.toml")
    assert err.value.field == field


def _with_rules_file(tmp_path, config, text: str):
    from dataclasses import replace

    rules = tmp_path / "local-rules.json"
    rules.write_text(text, encoding="utf-8")
    return replace(config, rules_file=rules), rules


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "line 1 column 1"),  # today: a bare "Expecting value: line 1 column 1 (char 0)"
        ('{"version": 2,\n "tiers": [}', "line 2 column 12"),
        ('{"version": 2, "version": 3}', "duplicate key 'version'"),
    ],
)
def test_a_broken_local_rules_file_names_the_file_and_line(tmp_path, config, text, where):
    from kiosk.ledger.rules import RulesError

    config, rules = _with_rules_file(tmp_path, config, text)
    store = Store.open(config.device.data_dir, config.device.id, pin_params=FAST_FOR_TESTS)
    kiosk = build_session(config, store, SimulatedReader(), site_keys_from(config), clock=ManualClock(START), poll_s=0)
    try:
        with pytest.raises(RulesError) as err:
            kiosk.session.reload_rules()
        assert str(rules) in str(err.value) and where in str(err.value)
        assert "rules from HQ" not in str(err.value)
        assert store.ledger.rules.version == 1  # nothing changed
    finally:
        kiosk.close()
        store.close()


def test_a_bad_field_in_the_local_rules_file_is_labelled_with_its_path(tmp_path, config):
    import json as json_

    from kiosk.ledger.rules import RulesError

    doc = json_.loads((Path(__file__).parents[1] / "kiosk/data/rules.default.json").read_text("utf-8"))
    doc["version"] = 2
    doc["points"]["earn_on_spennd"] = False
    config, rules = _with_rules_file(tmp_path, config, json_.dumps(doc))
    store = Store.open(config.device.data_dir, config.device.id, pin_params=FAST_FOR_TESTS)
    kiosk = build_session(config, store, SimulatedReader(), site_keys_from(config), clock=ManualClock(START), poll_s=0)
    try:
        with pytest.raises(RulesError, match="points.earn_on_spennd: unknown field") as err:
            kiosk.session.reload_rules()
        assert err.value.source == str(rules)
        doc["points"].pop("earn_on_spennd")
        rules.write_text(json_.dumps(doc))
        assert kiosk.session.reload_rules().version == 2
    finally:
        kiosk.close()
        store.close()


def test_a_top_up_prints_on_the_printer_kiosk_toml_names(tmp_path, config):
    """[printer] kind = "file" from kiosk.toml: the top-up's receipt reaches python-escpos's File
    printer (the bitmap, the cut) through build_session, in the store's name and language."""
    from dataclasses import replace

    from kiosk.receipt.escpos_printer import EscposPrinter
    from kiosk.receipt.settings import parse_printer

    lp0 = tmp_path / "lp0"
    config = replace(config, printer=parse_printer({"kind": "file", "device": str(lp0), "store_name": "静安寺店"}))
    factory = SteppedFactory()
    reader = SimulatedReader()
    store = Store.open(config.device.data_dir, config.device.id, pin_params=FAST_FOR_TESTS)
    kiosk = build_session(config, store, reader, site_keys_from(config), clock=ManualClock(START),
                          pin_factory=factory, poll_s=0)
    session = kiosk.session
    try:
        assert isinstance(session.printer, EscposPrinter)
        assert (session.shop.store_name, session.shop.device_id, session.shop.locale) == ("静安寺店", "kiosk-07", "zh_CN")
        reader.place(chips.new_classic(bytes.fromhex("04ABCDEF")))
        run(kiosk)
        session.start_signup()
        session.submit_details("13912345678", name="张三丰")
        session.accept_privacy()
        for d in "135792135792":
            session.pin_digit(d)
        run(kiosk)
        session.dismiss()
        assert not lp0.exists()  # a sign-up prints nothing
        session.start_topup()
        session.choose_amount(1500)
        session.pay("cash_acceptor")
        for _ in range(3):
            pulse(factory, chatter=2)
        run(kiosk)
        assert session.state == "done"
        assert session.printer.wait_idle()
        data = lp0.read_bytes()
        assert data.startswith(b"\x1b@\x1dv0") and data.endswith(b"\x1dV\x00")
        assert "张三丰".encode() not in data and session.printer.printed == 1
    finally:
        kiosk.close()
        store.close()
        factory.reset()
