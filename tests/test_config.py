"""The configuration file: every bad value is named with its file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.app.config import ConfigError, load_config

GOOD = """
[device]
id = "store01-k1"
store = "store01"
data_dir = "/var/lib/kiosk"

[reader]
driver = "pn532"
port = "tty:S0:pn532"

[hq]
host = "hq.example.internal"
port = 8883
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def test_good_config_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.device.id == "store01-k1" and config.reader.driver == "pn532"
    assert config.hq.port == 8883 and config.device.locale == "zh_CN"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('id = "store01-k1"', 'id = "store 01/k1"', "device.id"),
        ('driver = "pn532"', 'driver = "pn533"', "reader.driver"),
        ("port = 8883", 'port = "8883"', "hq.port"),
        ("port = 8883", "port = 70000", "hq.port"),
        ('store = "store01"', "", "device.store"),
        ("[hq]", '[hq]\ntls_cert = "/etc/kiosk/c.pem"', "hq.tls_key"),
        ("[reader]", "[readr]", "readr"),
        ('data_dir = "/var/lib/kiosk"', 'data_dir = "/var/lib/kiosk"\nlocale = "fr"', "device.locale"),
    ],
)
def test_bad_value_named(tmp_path, old, new, field):
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == field and str(path) in str(err.value)


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found") as missing:
        load_config(tmp_path / "nope.toml")
    # the whole file is the problem: no made-up field name ("-") between path and problem
    assert str(missing.value) == f"{tmp_path / 'nope.toml'}: file not found (run `kiosk provision` to create it)"
    assert missing.value.field == ""
    bad = write(tmp_path, "[device\nid=")
    with pytest.raises(ConfigError, match="not valid TOML") as unparsable:
        load_config(bad)
    assert str(unparsable.value).startswith(f"{bad}: not valid TOML: ")
    assert "(at line 1, column" in str(unparsable.value)


@pytest.mark.parametrize(
    ("old", "new", "field", "fix"),
    [
        ("port = 8883", "port = 8883\nkeepalive_s = 9223372036854775807", "hq.keepalive_s", "between 5 and 3600"),
        ("port = 8883", "port = 8883\nkeepalive_s = -30", "hq.keepalive_s", "between 5 and 3600"),
        ("port = 8883", "port = 8883\nkeepalive_s = 0", "hq.keepalive_s", "between 5 and 3600"),
        ("port = 8883", "port = -1", "hq.port", "between 1 and 65535"),
        ('data_dir = "/var/lib/kiosk"', 'data_dir = ""', "device.data_dir", "absolute path like /var/lib/kiosk"),
        ('data_dir = "/var/lib/kiosk"', 'data_dir = "kiosk-data"', "device.data_dir", "absolute path"),
        ("[hq]", '[hq]\ntls_ca = "ca.pem"', "hq.tls_ca", "absolute path like /etc/kiosk/tls_ca"),
        ("[reader]", '[secrets]\ncard_master_key_file = "master.key"\n[reader]', "secrets.card_master_key_file",
         "absolute path"),
        ("[reader]", '[rules]\nfile = "./rules.json"\n[reader]', "rules.file", "absolute path"),
    ],
)
def test_numbers_have_ranges_and_paths_are_absolute(tmp_path, old, new, field, fix):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert (err.value.field, err.value.path) == (field, str(path))
    assert fix in err.value.problem


def test_keepalive_in_range_and_no_optional_path_are_fine(tmp_path):
    config = load_config(write(tmp_path, GOOD.replace("port = 8883", 'port = 8883\nkeepalive_s = 60\ntls_ca = ""')))
    assert config.hq.keepalive_s == 60 and config.hq.tls_ca is None and config.device.data_dir == Path("/var/lib/kiosk")
