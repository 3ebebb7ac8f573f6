"""`kiosk provision --till-port` and `--role counter`: the till API on the store's LAN, served
over HTTPS with the kiosk's own certificate as soon as it has one (before: plain HTTP and a
note saying so), and a counter device's role; a re-run keeps both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.app.config import load_config
from tests.test_provision import base_args, inputs, provision, root  # noqa: F401 - fixtures

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown and useradd need root")


@needs_root
def test_the_till_api_gets_https_with_the_kiosks_certificate_once_it_has_one(root, inputs, capsys):  # noqa: F811
    usb, ca = inputs
    args = base_args(root, usb) + ["--hq-host", "localhost", "--tls-ca", usb / "ca.pem", "--till-port", "8765"]
    assert provision(*args) == 0
    assert "till API on port 8765 without TLS until this kiosk has its certificate" in capsys.readouterr().out
    till = load_config(root / "etc/kiosk/kiosk.toml").till
    assert (till.enabled, till.host, till.port, till.tls_cert) == (True, "0.0.0.0", 8765, None)

    (usb / "K-001.pem").write_bytes(ca.sign_csr((root / "etc/kiosk/tls/client.csr").read_bytes()))
    assert provision("--root", root, "--non-interactive", "--tls-cert", usb / "K-001.pem") == 0
    till = load_config(root / "etc/kiosk/kiosk.toml").till
    assert (till.port, till.tls_cert, till.tls_key) == (
        8765, Path("/etc/kiosk/tls/client.pem"), Path("/etc/kiosk/tls/client.key"))


def test_a_counter_device_is_provisioned_with_its_role_and_display(root, inputs, capsys):  # noqa: F811
    usb, _ = inputs
    args = [a for a in base_args(root, usb) if a not in ("--screen", "1024x600")]
    assert provision(*args, "--role", "counter", "--screen", "480x320", "--dry-run") == 0
    assert 'role = "counter"' in capsys.readouterr().out
    assert provision(*args, "--role", "counter", "--screen", "1024x600") == 2
    err = capsys.readouterr().err
    assert "device.screen" in err and "--screen" in err and "nothing was changed" in err
