"""parse_config is the one checker of kiosk.toml (provision and doctor both rely on it): any
parsed TOML gives a Config or a ConfigError naming the field, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.app.config import Config, ConfigError, parse_config

VALID = {"device": {"id": "K-1", "store": "S-1", "data_dir": "/var/lib/kiosk"}}
scalars = st.one_of(st.text(max_size=12), st.integers(-5, 70000), st.booleans(),
                    st.floats(allow_nan=False))
names = st.sampled_from(["id", "store", "data_dir", "locale", "screen", "rotation", "driver",
                         "port", "host", "tls_ca", "tls_cert", "tls_key", "keepalive_s",
                         "card_master_key_file", "card_system_id", "file", "typo"])
tables = st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=2)), max_size=6)
sections = st.sampled_from(["device", "reader", "hq", "secrets", "rules", "extra"])


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(st.dictionaries(sections, st.one_of(tables, scalars), max_size=5))
def test_any_toml_shape_gives_a_config_or_a_config_error(data):
    try:
        config = parse_config(data, "/etc/kiosk/kiosk.toml")
    except ConfigError as exc:
        assert exc.path == "/etc/kiosk/kiosk.toml" and exc.field and exc.problem
        return
    assert isinstance(config, Config)


@pytest.mark.parametrize("section,key,field", [
    ("secrets", "card_master_keyfile", "secrets.card_master_keyfile: unknown setting"),
    ("device", "lang", "device.lang: unknown setting"),
    ("rules", "path", "rules.path: unknown setting"),
])
def test_a_typo_is_named_not_ignored(section, key, field):
    data = {**VALID, section: {**VALID.get(section, {}), key: "x"}}
    with pytest.raises(ConfigError, match=field):
        parse_config(data)


def test_a_section_that_is_not_a_table():
    with pytest.raises(ConfigError, match=r"hq: must be a table \(\[hq\]\), got int"):
        parse_config({**VALID, "hq": 5})
