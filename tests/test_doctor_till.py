"""`kiosk doctor` on the till API: off is a skip; plain HTTP on the store's LAN a warning with
the way to HTTPS; HTTPS with the kiosk's own certificate passes once a till has a token; an
expired or mismatched certificate fails, each with its fix."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from kiosk.doctor import till
from kiosk.doctor.checks import Context, Status
from kiosk.till.tokens import TillTokens
from tests.prov_helpers import make_root, run_command
from tests.prov_pki import CA

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="provisioning a root needs root")


def provision(root, usb, *extra) -> None:
    (usb / "master.key").write_text("8f3a1c2d4e5f60718293a4b5c6d7e8f9\n")
    assert run_command("provision", "--root", root, "--non-interactive", "--device-id", "K-001", "--store-id",
                       "SH-07", "--reader-driver", "simulated", "--card-master-key", usb / "master.key", *extra) == 0


def check(root, now: datetime | None = None):
    timed = {"now": lambda: now} if now is not None else {}
    return till.check_till_api(Context(root=root, ntp_server=None, timeout=3.0, **timed))


def test_the_doctor_reads_the_till_api_from_off_to_https(tmp_path, capsys):
    root, usb = make_root(tmp_path / "root"), tmp_path / "usb"
    usb.mkdir()
    provision(root, usb)
    assert check(root).status is Status.SKIP

    provision(root, usb, "--till-port", "8765")  # no certificate yet: plain HTTP on the LAN
    got = check(root)
    assert got.status is Status.WARN and "plain HTTP on the store's LAN" in got.detail and "--tls-cert" in got.fix

    ca = CA.create()
    (usb / "ca.pem").write_bytes(ca.pem())
    cert, key = ca.issue(usb, "K-001", "K-001", days=365)
    provision(root, usb, "--hq-host", "hq.example", "--tls-ca", usb / "ca.pem", "--tls-cert", cert, "--tls-key", key,
              "--till-port", "8765")
    got = check(root)
    assert got.status is Status.WARN and "no till has a token yet" in got.detail and got.fix == "kiosk tills add NAME"
    TillTokens.load(root / "var/lib/kiosk/till-tokens.json").add("till-1")
    got = check(root)
    assert got.status is Status.OK and "HTTPS on 0.0.0.0:8765" in got.detail and "till-1" in got.detail
    assert "kt_" not in got.detail  # never a token

    expired = check(root, now=datetime(2040, 1, 1, tzinfo=UTC))
    assert expired.status is Status.FAIL and "expired" in expired.detail and "--tls-cert" in expired.fix
    (root / "etc/kiosk/tls/client.pem").write_bytes(CA.create("Other").issue(usb, "other", "K-001")[0].read_bytes())
    mismatched = check(root)
    assert mismatched.status is Status.FAIL and "does not match" in mismatched.detail
