import os

import pytest

pytest_plugins = ["tests.fixtures.mosquitto", "tests.fixtures.postgres"]


@pytest.fixture(scope="session")
def pcsc_daemon(tmp_path_factory):
    """One real pcscd for the whole test process: libpcsclite reads PCSCLITE_CSOCK_NAME once,
    at the first context, so every PC/SC test talks to this daemon (skipped without pcscd)."""
    from tests.emulators import pcscd

    why_not = pcscd.available()
    if why_not:
        pytest.skip(why_not)
    with pcscd.Pcscd(tmp_path_factory.mktemp("pcscd")) as d:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(d.socket)
        yield d
