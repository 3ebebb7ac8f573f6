"""`kiosk tills` (tokens) and `kiosk till` (the reference client) as a store's integrator uses
them, against the running API; and the [till] table of kiosk.toml."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kiosk.app.cli import main
from kiosk.app.config import ConfigError, load_config
from kiosk.session.states import S
from kiosk.till.tokens import TillTokens
from tests.till.till_support import Till

CONFIG = """
[device]
id = "store01-k1"
store = "store01"
data_dir = "{data_dir}"
"""


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(CONFIG.format(data_dir=tmp_path / "data") + extra)
    return path


def test_till_api_is_off_by_default_and_the_table_is_checked(tmp_path):
    config = load_config(write_config(tmp_path))
    assert not config.till.enabled
    assert config.till.tokens_path(config.device.data_dir) == tmp_path / "data" / "till-tokens.json"
    on = load_config(write_config(tmp_path, '[till]\nenabled = true\nhost = "0.0.0.0"\nport = 9000\n'))
    assert (on.till.enabled, on.till.host, on.till.port) == (True, "0.0.0.0", 9000)
    for bad, field in (
        ("[till]\nport = 0\n", "till.port"),
        ('[till]\nenabled = "yes"\n', "till.enabled"),
        ('[till]\ntokens_file = "tokens.json"\n', "till.tokens_file"),
        ('[till]\ntls_cert = "/etc/kiosk/cert.pem"\n', "till.tls_key"),
        ("[till]\nportt = 9000\n", "till.portt"),
    ):
        with pytest.raises(ConfigError) as err:
            load_config(write_config(tmp_path, bad))
        assert err.value.field == field, bad


def test_tills_add_prints_the_token_once_and_keeps_its_hash(tmp_path, capsys):
    path = write_config(tmp_path)
    assert main(["tills", "--config", str(path), "add", "till-1"]) == 0
    token = capsys.readouterr().out.strip().split(": ", 1)[1]
    tokens = TillTokens.load(tmp_path / "data" / "till-tokens.json")
    assert tokens.till_for(token) == "till-1" and tokens.till_for(token + "x") is None
    assert token not in (tmp_path / "data" / "till-tokens.json").read_text()
    assert main(["tills", "--config", str(path), "list"]) == 0
    assert "till-1" in capsys.readouterr().out and token not in capsys.readouterr().out
    assert main(["tills", "--config", str(path), "add", "bad name"]) == 1
    assert main(["tills", "--config", str(path), "remove", "till-1"]) == 0
    assert TillTokens.load(tmp_path / "data" / "till-tokens.json").till_for(token) is None
    assert main(["tills", "--config", str(path), "remove", "till-1"]) == 1


def test_reference_client_charges_refunds_and_voids(tmp_path, capsys):
    t = Till(tmp_path)
    try:
        chip = t.kiosk.member(50_000)
        base = ["till", "--url", t.server.url, "--token", t.token]
        result: list[int] = []
        client = threading.Thread(target=lambda: result.append(main([*base, "charge", "12800", "--order", "A1"])))
        client.start()
        t.driver.wait_for(lambda: t.kiosk.state == S.charge_tap)
        t.driver.tap(chip)
        t.driver.wait_for(lambda: t.kiosk.state == S.charge_confirm)
        t.driver.do(t.kiosk.session.confirm_charge)
        client.join(timeout=30)
        assert result == [0]
        out = capsys.readouterr().out
        assert '"status": "approved"' in out and "¥128.00" in out
        assert main([*base, "refund", "2800", "--order", "A1", "--refund", "R1"]) == 0
        assert main([*base, "void", "--order", "A1"]) == 1  # refunded in part: declined
        assert '"reason": "order_refunded"' in capsys.readouterr().out
        assert main([*base, "status", "--order", "A1"]) == 0
        assert '"refunded_fen": 2800' in capsys.readouterr().out
        assert main(["till", "--url", t.server.url, "--token", "kt_wrong", "status"]) == 1
        # a voucher named by the till that is not the member's: declined at the tap, nothing taken
        t.driver.lift()
        t.driver.wait_for(lambda: t.kiosk.state == S.idle)
        client = threading.Thread(target=lambda: result.append(
            main([*base, "charge", "6000", "--order", "A2", "--voucher", "other-k1:9"])))
        client.start()
        t.driver.wait_for(lambda: t.kiosk.state == S.charge_tap)
        t.driver.tap(chip)
        client.join(timeout=30)
        assert result == [0, 1] and '"reason": "voucher_not_found"' in capsys.readouterr().out
    finally:
        t.close()
