"""The till API over real TLS: uvicorn serves HTTPS with the kiosk's own certificate (its key and
CSR made as `kiosk provision` makes them, signed by the chain's CA as HQ signs them), and the
reference client `kiosk till` trusts it only when it chains to that CA and names the kiosk's
device id. A stranger's certificate, another device's name or plain HTTP gets nowhere, and the
till's token is never sent to it."""

from __future__ import annotations

import argparse
import ssl

import httpx
import pytest

from kiosk.provisioning import tls
from kiosk.session.states import S
from kiosk.till import command
from tests.prov_pki import CA
from tests.session_support import DEVICE
from tests.till.till_support import Till


@pytest.fixture
def pki(tmp_path):
    """The chain's CA and the kiosk's certificate and key, made the provisioning way."""
    ca = CA.create("Chain HQ CA")
    key_pem = tls.new_key_pem()
    cert_pem = ca.sign_csr(tls.csr_pem(key_pem, DEVICE, "store01"))
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "client.key"}
    files["ca"].write_bytes(ca.pem())
    files["cert"].write_bytes(cert_pem)
    files["key"].write_bytes(key_pem)
    files["key"].chmod(0o600)
    files["stranger"], _ = CA.create("Stranger CA").issue(tmp_path, "stranger", DEVICE)
    (tmp_path / "stranger-ca.pem").write_bytes(CA.create("Stranger CA").pem())
    return files


def kiosk_till(capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    code = command.run(parser.parse_args([str(a) for a in argv]))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_reference_client_trusts_the_kiosk_only_by_the_chains_ca_and_its_device_id(tmp_path, pki, capsys):
    t = Till(tmp_path / "kiosk", tls=(pki["cert"], pki["key"]))
    try:
        assert t.server.url.startswith("https://")
        base = ["--url", t.server.url, "--token", t.token]
        code, out, _ = kiosk_till(capsys, *base, "--ca", pki["ca"], "--device", DEVICE, "status")
        assert code == 0 and f'"device_id": "{DEVICE}"' in out

        code, _, err = kiosk_till(capsys, *base, "--ca", tmp_path / "stranger-ca.pem", "--device", DEVICE, "status")
        assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err  # not signed by the chain's CA
        code, _, err = kiosk_till(capsys, *base, "--ca", pki["ca"], "--device", "store01-k2", "status")
        assert code == 1 and "not the device 'store01-k2'" in err  # the chain's, but another kiosk
        code, _, err = kiosk_till(capsys, *base, "--ca", pki["ca"], "status")
        assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err  # no device named: 127.0.0.1 is not in it
        code, _, _ = kiosk_till(capsys, "--url", t.server.url.replace("https:", "http:"), "--token", t.token, "status")
        assert code == 1  # plain HTTP to the HTTPS port

        # a charge over TLS, the till verifying like the reference client, then cancelled by it
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        context.check_hostname = False
        with httpx.Client(base_url=t.server.url, verify=context, headers={"Authorization": f"Bearer {t.token}"}) as c:
            r = c.post("/v1/charges", json={"order_id": "A1", "amount_fen": 100, "apply_discount": False})
            assert r.status_code == 202 and t.kiosk.state == S.charge_tap
        code, out, _ = kiosk_till(capsys, *base, "--ca", pki["ca"], "--device", DEVICE, "cancel", "--order", "A1")
        assert code == 1 and '"reason": "till_cancelled"' in out and t.kiosk.state != S.charge_tap
    finally:
        t.close()


def test_a_stranger_with_the_kiosks_name_is_refused_before_the_token_is_sent(tmp_path, pki, capsys):
    """A certificate for the same device id from another CA: the handshake fails, nothing is asked."""
    stranger_key = pki["stranger"].with_suffix(".key")
    t = Till(tmp_path / "kiosk", tls=(pki["stranger"], stranger_key))
    try:
        code, _, err = kiosk_till(capsys, "--url", t.server.url, "--token", t.token, "--ca", pki["ca"],
                                  "--device", DEVICE, "status")
        assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err
    finally:
        t.close()
