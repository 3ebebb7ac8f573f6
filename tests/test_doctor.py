"""`kiosk doctor` against a kiosk provisioned into a temp root, talking to a real Mosquitto with
TLS: a healthy kiosk passes, and each kind of breakage gives its own failure line and fix."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.doctor import ALL_CHECKS, clock, run_checks
from kiosk.doctor.checks import Context, Status
from kiosk.doctor.net import NTP_EPOCH_OFFSET
from tests.prov_helpers import make_root, run_command
from tests.prov_mosquitto import Mosquitto
from tests.prov_pki import CA

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="provisioning a root needs root")
KEY = bytes.fromhex("8f3a1c2d4e5f60718293a4b5c6d7e8f9")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA.create()
    (d / "ca.pem").write_bytes(ca.pem())
    server_cert, server_key = ca.issue(d, "server", "localhost", server=True)
    return d, ca, {"ca": d / "ca.pem", "cert": server_cert, "key": server_key}


@pytest.fixture(scope="module")
def broker(pki, tmp_path_factory):
    d, _, files = pki
    b = Mosquitto(tmp_path_factory.mktemp("mosq"), tls=files, require_certificate=True)
    yield b
    b.stop()


def provisioned(base: Path, pki, port: int) -> Path:
    d, ca, _ = pki
    root = make_root(base / "root")
    usb = base / "usb"
    usb.mkdir()
    (usb / "master.key").write_bytes(KEY)
    client_cert, client_key = ca.issue(usb, "K-001", "K-001")
    assert run_command(
        "provision", "--root", root, "--non-interactive", "--device-id", "K-001",
        "--store-id", "SH-07", "--reader-driver", "pn532", "--reader-port", "/dev/ttyAMA0",
        "--card-master-key", usb / "master.key", "--hq-host", "localhost", "--hq-port", str(port),
        "--tls-ca", d / "ca.pem", "--tls-cert", client_cert, "--tls-key", client_key) == 0
    (root / "dev").mkdir()
    tty = root / "dev/ttyAMA0"
    os.mknod(tty, 0o660 | 0o020000, os.makedev(204, 64))
    os.chown(tty, 0, 20)  # group dialout, which provision put the kiosk user in
    return root


@pytest.fixture
def root(pki, broker, capsys):
    """Not under pytest's temp dirs: every pytest that starts (another run beside this one) sets
    /tmp/pytest-of-USER back to 700, which locked the kiosk user out of its store mid-test
    ("cannot open the store for writing: Permission denied", about 1 run in 5 on a busy machine)."""
    base = Path(tempfile.mkdtemp(prefix="kiosk-doctor-"))
    base.chmod(0o711)  # the kiosk user passes through to the store, as under /var/lib
    r = provisioned(base, pki, broker.port)
    capsys.readouterr()
    yield r
    shutil.rmtree(base, ignore_errors=True)


def ctx(root: Path, **kw) -> Context:
    return Context(root=root, ntp_server=None, timeout=3.0, **kw)


def result(root: Path, name: str, **kw):
    found = [r for r in run_checks(ctx(root, **kw)) if r.name == name]
    assert len(found) == 1, name
    return found[0]


def doctor(root: Path, capsys, *extra) -> tuple[int, list[str]]:
    code = run_command("doctor", "--root", root, "--ntp", "", "--timeout", "3", *extra)
    return code, capsys.readouterr().out.splitlines()


def line_for(lines: list[str], name: str) -> str:
    found = [ln for ln in lines if ln[6:23].rstrip() == name]
    assert found, f"no line for {name} in:\n" + "\n".join(lines)
    return found[0]


def test_a_healthy_kiosk_passes(root, capsys):
    code, lines = doctor(root, capsys)
    text = "\n".join(lines)
    assert code == 0, text
    assert "FAIL" not in text
    for name in ("config", "card master key", "TLS files", "data dir", "disk space", "clock",
                 "reader device", "HQ broker", "systemd unit"):
        assert line_for(lines, name).startswith("ok    "), line_for(lines, name)
    assert "MQTT accepted" in line_for(lines, "HQ broker")
    assert "TLSv1." in line_for(lines, "HQ broker")
    for name in ("store", "outbox", "last HQ contact"):
        assert line_for(lines, name).startswith("skip  ")
        assert "no store yet" in line_for(lines, name)
    assert line_for(lines, "reader").startswith("skip  ")
    assert "not tried under --root" in line_for(lines, "reader")


# -- configuration -----------------------------------------------------------------------------

def edit_config(root: Path, old: str, new: str) -> None:
    cfg = root / "etc/kiosk/kiosk.toml"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new))


@pytest.mark.parametrize("breakage,expected", [
    (lambda r: (r / "etc/kiosk/kiosk.toml").write_text("[device\nid="), "kiosk.toml: not valid TOML"),
    (lambda r: edit_config(r, 'locale = "zh_CN"', 'locale = "fr"'),
     "device.locale: must be one of"),
    (lambda r: edit_config(r, 'id = "K-001"', 'id = "K 001!"'), "device.id: must be 1-64"),
    (lambda r: edit_config(r, 'store = "SH-07"\n', ''), "device.store: is missing"),
    (lambda r: edit_config(r, 'host = "localhost"', "host = 5"), "hq.host: must be str, got int"),
    (lambda r: edit_config(r, 'driver = "pn532"', 'driver = "acme"'), "reader.driver"),
    (lambda r: edit_config(r, "[device]", "[devise]\n[device]"), "devise: unknown section"),
    (lambda r: edit_config(r, "[secrets]\n", '[secrets]\ncard_master_keyfile = "/k"\n'),
     "secrets.card_master_keyfile: unknown setting"),
])
def test_each_broken_config_gives_its_own_line(root, capsys, breakage, expected):
    breakage(root)
    code, lines = doctor(root, capsys)
    line = line_for(lines, "config")
    assert code == 1
    assert line.startswith("FAIL  config") and expected in line, line
    fix = lines[lines.index(line) + 1]
    assert "fix:" in fix and ("kiosk provision" in fix or "correct" in fix)
    assert ": -" not in line and " - in " not in fix  # no placeholder where a field name would be
    # the checks that need a config say so instead of guessing
    assert "the configuration is not valid (see the config line)" in line_for(lines, "card master key")


def test_a_missing_config_is_said_once_and_the_rest_skipped_for_that_reason(root, capsys):
    (root / "etc/kiosk/kiosk.toml").unlink()
    code, lines = doctor(root, capsys)
    assert code == 1
    config = line_for(lines, "config")
    assert config == "FAIL  config           /etc/kiosk/kiosk.toml does not exist: this device is not provisioned yet"
    assert lines[lines.index(config) + 1].strip() == "fix: run `kiosk provision` (it writes the configuration)"
    assert sum("FAIL" in ln for ln in lines) == 1, "\n".join(lines)
    for name in ("card master key", "PIN pepper", "TLS files", "data dir", "reader device", "HQ broker",
                 "rules file", "store"):
        line = line_for(lines, name)
        assert line.startswith("skip  ") and line.endswith("no configuration file yet (see the config line)"), line


def test_config_the_service_cannot_read(root):
    os.chown(root / "etc/kiosk/kiosk.toml", 0, 0)
    r = result(root, "config")
    assert r.status == Status.FAIL and "not readable by the service user kiosk" in r.detail
    assert r.fix.startswith("chown root:kiosk /etc/kiosk/kiosk.toml")


def test_missing_service_user(root):
    passwd = root / "etc/passwd"
    passwd.write_text("".join(ln + "\n" for ln in passwd.read_text().splitlines()
                              if not ln.startswith("kiosk:")))
    r = result(root, "service user")
    assert r.status == Status.FAIL and "service user kiosk does not exist" in r.detail
    assert "kiosk provision" in r.fix
    assert result(root, "config").status == Status.OK  # the config itself is fine


def test_world_readable_config_is_a_warning(root):
    (root / "etc/kiosk/kiosk.toml").chmod(0o644)
    r = result(root, "config")
    assert r.status == Status.WARN and "readable by every user" in r.detail
    assert r.fix == "chmod 640 /etc/kiosk/kiosk.toml"


# -- secrets -----------------------------------------------------------------------------------

KEYFILE = "etc/kiosk/card_master.key"


@pytest.mark.parametrize("breakage,expected,fix", [
    (lambda r: (r / KEYFILE).unlink(), "/etc/kiosk/card_master.key does not exist",
     "kiosk provision --card-master-key FILE"),
    (lambda r: (r / KEYFILE).chmod(0o644), "has mode 644, must be 600",
     "chmod 600 /etc/kiosk/card_master.key"),
    (lambda r: os.chown(r / KEYFILE, 0, 0), "is owned by root, must be owned by kiosk",
     "chown kiosk:kiosk /etc/kiosk/card_master.key"),
    (lambda r: (r / KEYFILE).write_bytes(b"short"), "must be 16 raw bytes or 32 hex digits",
     "kiosk provision --card-master-key FILE"),
    (lambda r: edit_config(r, 'card_master_key_file = "/etc/kiosk/card_master.key"', ""),
     "no card master key is configured", "kiosk provision --card-master-key FILE"),
])
def test_master_key_problems(root, capsys, breakage, expected, fix):
    breakage(root)
    code, lines = doctor(root, capsys)
    line = line_for(lines, "card master key")
    assert code == 1 and line.startswith("FAIL") and expected in line, line
    assert fix in lines[lines.index(line) + 1]
    assert KEY.hex() not in "\n".join(lines)


@pytest.mark.parametrize("content,accepted", [
    # a colon-separated key passed `kiosk doctor` while `kiosk run` refused it
    ((":".join(f"{b:02x}" for b in KEY) + "\n").encode(), True),
    # an all-zero key was refused by provisioning while `kiosk run` accepted it
    ((bytes(16).hex() + "\n").encode(), False),
    (b"\xff" * 16, False),
])
def test_doctor_and_run_read_the_master_key_by_one_rule(root, content, accepted):
    from kiosk.reader.keys import KeyFileError, SiteKeys

    path = root / KEYFILE
    path.write_bytes(content)  # same file: mode 600, owned by kiosk
    doctor_accepts = result(root, "card master key").status == Status.OK
    try:
        SiteKeys.from_file(path, b"kiosk")  # what `kiosk run` loads (session.wiring.site_keys_from)
        run_accepts = True
    except KeyFileError:
        run_accepts = False
    assert (doctor_accepts, run_accepts) == (accepted, accepted)


def test_tls_key_with_loose_mode(root):
    (root / "etc/kiosk/tls/client.key").chmod(0o640)
    r = result(root, "TLS files")
    assert r.status == Status.FAIL and "client.key has mode 640, must be 600" in r.detail


def test_tls_ca_that_is_not_a_certificate(root):
    (root / "etc/kiosk/tls/ca.pem").write_text("hello")
    r = result(root, "TLS files")
    assert r.status == Status.FAIL and "not a PEM certificate" in r.detail


@pytest.mark.parametrize("days,status,words", [(10, Status.WARN, "expires in"),
                                              (-1, Status.FAIL, "expired on")])
def test_client_certificate_expiry(root, pki, days, status, words):
    _, ca, _ = pki
    tls_dir = root / "etc/kiosk/tls"
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((tls_dir / "client.key").read_bytes(), None)
    start = datetime.now(UTC) - timedelta(days=30)
    cert = ca.sign(key.public_key(), "K-001", days=days, not_before=start)
    (tls_dir / "client.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    r = result(root, "TLS files")
    assert r.status == status and words in r.detail, r
    assert "kiosk provision --tls-cert" in r.fix


# -- the machine -------------------------------------------------------------------------------

def test_data_dir_missing_or_not_the_service_users(root):
    data = root / "var/lib/kiosk"
    os.chown(data, 0, 0)
    r = result(root, "data dir")
    assert r.status == Status.FAIL and "owned by root, the service runs as kiosk" in r.detail
    data.rmdir()
    r = result(root, "data dir")
    assert r.status == Status.FAIL and "/var/lib/kiosk does not exist" in r.detail


def test_clock_before_the_build_date(root):
    r = result(root, "clock", now=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    assert r.status == Status.FAIL and "before this software was built" in r.detail
    assert "timedatectl" in r.fix


def test_a_clock_before_the_build_date_is_one_line_that_fails_and_says_what_waits(root, capsys):
    """It used to be two lines saying the same thing: a "clock" FAIL and a "clock trusted" WARN."""
    before = datetime(1970, 1, 1, 0, 1, tzinfo=UTC)
    results = [r for r in run_checks(ctx(root, now=lambda: before)) if "clock" in r.name]
    assert [(r.name, r.status) for r in results] == [("clock", Status.FAIL)]
    assert results[0].detail.startswith("not trusted: the clock says 1970-01-01 00:01 UTC, before this software was built")
    assert "transactions are marked so and birthday gifts, points expiry and check-in wait" in results[0].detail


class SntpServer:
    """A real UDP NTP responder whose clock is `skew` seconds off."""

    def __init__(self, skew: float):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.skew = skew
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(512)
            except OSError:
                return
            t = time.time() + self.skew + NTP_EPOCH_OFFSET
            secs, frac = int(t), int((t % 1) * 2**32)
            reply = bytes([0x24, 2, 0, 0]) + bytes(36) + struct.pack(">II", secs, frac)
            self.sock.sendto(reply, addr)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("skew,status", [(0.0, Status.OK), (30.0, Status.WARN),
                                         (3600.0, Status.FAIL)])
def test_clock_compared_with_ntp(root, skew, status):
    server = SntpServer(skew)
    try:
        c = Context(root=root, ntp_server="127.0.0.1", ntp_port=server.port, timeout=2)
        r = [x for x in run_checks(c, (clock.check_clock,))][0]
    finally:
        server.close()
    assert r.name == "clock" and r.status == status, r
    import re

    measured = float(re.search(r"([+-][0-9.]+)s from NTP", r.detail).group(1))
    assert measured == pytest.approx(skew, abs=1.0)


def test_clock_with_unreachable_ntp_is_a_warning_not_an_ok(root):
    c = Context(root=root, ntp_server="127.0.0.1", ntp_port=9, timeout=1)
    r = run_checks(c, (clock.check_clock,))[0]
    assert r.status == Status.WARN and "not compared" in r.detail and "not reachable" in r.detail
    assert "--ntp" in r.fix


def test_reader_device_missing_and_wrong_group(root):
    os.chown(root / "dev/ttyAMA0", 0, 0)
    r = result(root, "reader device")
    assert r.status == Status.FAIL and "belongs to group root, and kiosk is not in it" in r.detail
    (root / "dev/ttyAMA0").unlink()
    r = result(root, "reader device")
    assert r.status == Status.FAIL and "/dev/ttyAMA0 does not exist" in r.detail
    assert "raspi-config nonint do_serial_hw 0" in r.fix


def test_simulated_reader_is_a_warning(root):
    edit_config(root, 'driver = "pn532"', 'driver = "simulated"')
    r = result(root, "reader device")
    assert r.status == Status.WARN and "simulated" in r.detail


# -- the HQ broker -----------------------------------------------------------------------------

def test_broker_that_refuses_the_connection(root, broker):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    edit_config(root, f"port = {broker.port}", f"port = {closed}")
    r = result(root, "HQ broker")
    assert r.status == Status.FAIL and "refused the connection" in r.detail
    assert "hq.port" in r.fix


def test_broker_host_that_does_not_resolve(root):
    edit_config(root, 'host = "localhost"', 'host = "no-such-host.invalid"')
    r = result(root, "HQ broker")
    assert r.status == Status.FAIL and "cannot resolve no-such-host.invalid" in r.detail


def test_broker_with_a_certificate_from_another_ca(root):
    (root / "etc/kiosk/tls/ca.pem").write_bytes(CA.create("Somebody else").pem())
    r = result(root, "HQ broker")
    assert r.status == Status.FAIL and "server certificate rejected" in r.detail, r
    assert "hq.tls_ca" in r.fix


def test_broker_that_rejects_the_kiosks_certificate(root, tmp_path):
    stranger_cert, stranger_key = CA.create("Stranger").issue(tmp_path, "k", "K-001")
    tls_dir = root / "etc/kiosk/tls"
    (tls_dir / "client.pem").write_bytes(stranger_cert.read_bytes())
    (tls_dir / "client.key").write_bytes(stranger_key.read_bytes())
    r = result(root, "HQ broker")
    assert r.status == Status.FAIL, r
    assert "did not accept this kiosk's client certificate" in r.detail, r
    assert "signed by HQ's CA" in r.fix


def set_hq_port(root: Path, port: int) -> None:
    cfg = root / "etc/kiosk/kiosk.toml"
    lines = cfg.read_text().splitlines()
    start = lines.index("[hq]")
    for i in range(start, len(lines)):
        if lines[i].startswith("port = "):
            lines[i] = f"port = {port}"
            break
    cfg.write_text("\n".join(lines) + "\n")


def test_broker_certificate_expiring_soon_is_warned(root, pki, tmp_path):
    d, ca, files = pki
    cert, key = ca.issue(tmp_path, "short", "localhost", days=10, server=True)
    short = Mosquitto(tmp_path, tls={"ca": files["ca"], "cert": cert, "key": key},
                      require_certificate=True)
    try:
        set_hq_port(root, short.port)
        r = result(root, "HQ broker")
    finally:
        short.stop()
    assert r.status == Status.WARN, r
    assert "(10 days)" in r.detail or "(9 days)" in r.detail, r
    assert "renew" in r.fix


def test_plain_broker_that_does_not_authorise(root, tmp_path):
    plain = Mosquitto(tmp_path, allow_anonymous=False)
    try:
        set_hq_port(root, plain.port)
        edit_config(root, 'tls_ca = "/etc/kiosk/tls/ca.pem"\n', "")
        edit_config(root, 'tls_cert = "/etc/kiosk/tls/client.pem"\n', "")
        edit_config(root, 'tls_key = "/etc/kiosk/tls/client.key"\n', "")
        r = result(root, "HQ broker")
    finally:
        plain.stop()
    assert r.status == Status.FAIL and "not authorised" in r.detail, r


# -- systemd, integrations, exit status --------------------------------------------------------

def test_unit_not_enabled_or_not_installed(root):
    (root / "etc/systemd/system/multi-user.target.wants/kiosk.service").unlink()
    r = result(root, "systemd unit")
    assert r.status == Status.FAIL and "kiosk.service is disabled, not enabled at boot" in r.detail
    (root / "etc/systemd/system/kiosk.service").unlink()
    r = result(root, "systemd unit")
    assert r.status == Status.FAIL and "kiosk.service is not installed" in r.detail


def make_store(root: Path, contact: datetime | None = None, device: str = "K-001"):
    """A real store in the kiosk's data dir, owned by the kiosk user as the service leaves it."""
    from kiosk.ledger.pin import FAST_FOR_TESTS
    from kiosk.provisioning import fsops
    from kiosk.store.store import Store

    data = root / "var/lib/kiosk"
    store = Store.open(data, device, pepper=b"p", pin_params=FAST_FOR_TESTS)
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    store.commit(store.ledger.sign_up("04A1B2C3", 1, "13812345678", "246813", at, name="A"))
    store.commit(store.ledger.top_up("04A1B2C3", 5000, "PAY-1", at))
    if contact is not None:
        store.meta_put("sync.last_ack_at", contact.isoformat())
    # a snapshot, as a kiosk that has run a while has: main's Store.check() misreports a store
    # with none yet when the rules carry reward stock (the rebuilt state starts without it)
    store.checkpoint()
    store.close()
    kiosk = fsops.lookup_user(root, "kiosk")
    for path in [data, *data.rglob("*")]:
        os.chown(path, kiosk.uid, kiosk.gid)
    return data


def test_store_outbox_and_last_contact_from_the_real_store(root):
    data = make_store(root, contact=datetime.now(UTC) - timedelta(hours=2))
    results = {r.name: r for r in run_checks(ctx(root))}
    assert results["store"].status == Status.OK, results["store"]
    assert "consistent" in results["store"].detail
    assert results["outbox"].status == Status.OK
    assert results["outbox"].detail == "2 transactions wait for HQ"
    assert results["last HQ contact"].status == Status.OK, results["last HQ contact"]
    assert "2.0 h ago" in results["last HQ contact"].detail
    root_owned = [p for p in [data, *data.rglob("*")] if p.stat().st_uid == 0]
    assert root_owned == [], "doctor left files the kiosk user cannot write"


def test_a_torn_tail_cut_at_open_is_a_warning_naming_the_copy(root):
    from kiosk.store.journal import encode_record

    data = make_store(root)
    newest = sorted((data / "journal").glob("*.jnl"))[-1]
    with open(newest, "ab") as f:
        f.write(encode_record({"t": "meta", "k": "x", "v": 1})[:-4])  # a power cut mid-append
    r = result(root, "store")
    assert r.status == Status.WARN, r
    assert "power cut" in r.detail and str(data / "journal" / "damaged") in r.detail


def test_hq_silent_for_a_week_fails(root):
    make_store(root, contact=datetime.now(UTC) - timedelta(days=8))
    r = result(root, "last HQ contact")
    assert r.status == Status.FAIL and "h ago" in r.detail


def test_hq_never_heard_from_is_a_warning(root):
    make_store(root)
    r = result(root, "last HQ contact")
    assert r.status == Status.WARN and r.detail == "never"


def test_store_in_use_by_the_running_kiosk(root):
    from kiosk.store.store import Store

    data = make_store(root)
    running = Store.open(data, "K-001", pepper=b"p")
    try:
        r = result(root, "store")
    finally:
        running.close()
    assert r.status == Status.SKIP and f"in use by process {os.getpid()}" in r.detail


def test_a_damaged_journal_fails_with_the_fix(root):
    data = make_store(root)
    segment = sorted((data / "journal").glob("*.jnl"))[0]
    raw = bytearray(segment.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # a flipped byte in a committed record, not a torn tail
    segment.write_bytes(bytes(raw))
    before = segment.read_bytes()
    r = result(root, "store")
    assert r.status == Status.FAIL, r
    assert segment.name in r.detail, r
    assert "do not delete the data dir" in r.fix
    assert segment.read_bytes() == before, "the doctor must leave a damaged store as found"


@pytest.fixture
def store_health(monkeypatch):
    """Stands in for a store that reports problems, to prove the doctor's wording."""
    from kiosk.doctor import integrations

    report = integrations.StoreReport(["journal entry 17: checksum mismatch"], 512,
                                      datetime.now(UTC) - timedelta(days=8), 1)
    monkeypatch.setattr(integrations, "_store_report", lambda ctx, config: report)


def test_integration_results_are_reported(root, store_health):
    results = {r.name: r for r in run_checks(ctx(root))}
    assert results["store"].status == Status.FAIL
    assert "checksum mismatch" in results["store"].detail
    assert "do not delete the data dir" in results["store"].fix
    assert results["outbox"].status == Status.WARN and "512" in results["outbox"].detail
    assert results["last HQ contact"].status == Status.FAIL


def test_a_busy_reader_is_named(root, monkeypatch):
    monkeypatch.setattr("kiosk.doctor.integrations._live", lambda ctx: True)
    factory = types.ModuleType("kiosk.reader.factory")

    def open_reader(config):
        raise OSError(16, "Device or resource busy", "/dev/ttyAMA0")

    factory.open_reader = open_reader
    monkeypatch.setitem(sys.modules, "kiosk.reader.factory", factory)
    r = result(root, "reader")
    assert r.status == Status.FAIL and "busy" in r.detail
    assert "systemctl stop kiosk" in r.fix


def test_a_crashing_check_is_its_own_failure(root):
    def check_explodes(c):
        raise RuntimeError("boom")

    results = run_checks(ctx(root), (check_explodes, ALL_CHECKS[0]))
    assert results[0].status == Status.FAIL and "boom" in results[0].detail
    assert results[1].status == Status.OK


def test_json_output_and_strict_mode(root, capsys):
    (root / "etc/kiosk/kiosk.toml").chmod(0o644)  # a warning only
    code, lines = doctor(root, capsys, "--json")
    records = [json.loads(ln) for ln in lines]
    assert code == 0
    assert {r["name"]: r["status"] for r in records}["config"] == "warn"
    code, _ = doctor(root, capsys, "--strict")
    assert code == 1


def test_status_fits_one_screen(root, capsys):
    assert run_command("status", "--root", root) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) <= 24 and max(map(len, out)) <= 100
    assert "device K-001" in out[0] and "store SH-07" in out[0]
    assert any("HQ broker" in ln and "MQTT accepted" in ln for ln in out)
    (root / "var/lib/kiosk").rmdir()
    assert run_command("status", "--root", root) == 1
    assert "kiosk doctor" in capsys.readouterr().out


def test_rc522_port_is_the_spi_bus_and_device(root):
    edit_config(root, 'driver = "pn532"\nport = "/dev/ttyAMA0"', 'driver = "rc522"\nport = "0.1"')
    r = result(root, "reader device")
    assert r.status == Status.FAIL and "/dev/spidev0.1 does not exist" in r.detail
    assert "raspi-config nonint do_spi 0" in r.fix


def test_the_local_rules_file_is_checked_with_the_rules_parser(root):
    doc = json.loads((Path(__file__).parent.parent / "kiosk/data/rules.default.json").read_text())
    (root / "etc/kiosk/rules.json").write_text(json.dumps(doc))
    cfg = root / "etc/kiosk/kiosk.toml"
    cfg.write_text(cfg.read_text() + '\n[rules]\nfile = "/etc/kiosk/rules.json"\n')
    r = result(root, "rules file")
    assert r.status == Status.OK and "version 1" in r.detail, r
    doc["topup"]["bonus_steps"][0]["bonus_fen"] = -500
    (root / "etc/kiosk/rules.json").write_text(json.dumps(doc))
    r = result(root, "rules file")
    assert r.status == Status.FAIL and "/etc/kiosk/rules.json: topup.bonus_steps[0].bonus_fen" in r.detail, r
    assert "correct topup.bonus_steps[0].bonus_fen in /etc/kiosk/rules.json" in r.fix
    (root / "etc/kiosk/rules.json").write_text("{not json")
    r = result(root, "rules file")
    assert r.status == Status.FAIL and r.detail.startswith("/etc/kiosk/rules.json: line 1 column 2: not valid JSON"), r
    (root / "etc/kiosk/rules.json").unlink()
    r = result(root, "rules file")
    assert r.status == Status.FAIL and "does not exist" in r.detail


def test_a_simulated_reader_without_its_card_file_says_so(root, monkeypatch, tmp_path):
    monkeypatch.setattr("kiosk.doctor.integrations._live", lambda ctx: True)
    cards = tmp_path / "sim" / "cards.json"
    edit_config(root, 'driver = "pn532"', 'driver = "simulated"')
    edit_config(root, 'port = "/dev/ttyAMA0"', f'port = "{cards}"')
    r = result(root, "reader")
    assert r.status == Status.FAIL, r
    assert r.detail == f"the simulated reader's card file {cards} does not exist"
    assert f"kiosk sim-card --cards {cards} new" in r.fix and "wiring" not in r.fix
    assert run_command("sim-card", "--cards", cards, "new", "alice", "classic1k") == 0
    assert result(root, "reader").status == Status.OK


def test_a_production_broker_without_tls_fails(root):
    """Events carry phone numbers and PIN hashes: a broker off this machine needs TLS; a local
    (demo) broker only gets the warning."""
    for key in ("tls_ca", "tls_cert", "tls_key"):
        cfg = (root / "etc/kiosk/kiosk.toml").read_text()
        line = next(ln for ln in cfg.splitlines() if ln.startswith(f"{key} = "))
        edit_config(root, line + "\n", "")
    assert result(root, "TLS files").status == Status.WARN  # host = "localhost"
    edit_config(root, 'host = "localhost"', 'host = "mqtt.chain.example"')
    r = result(root, "TLS files")
    assert r.status == Status.FAIL and "phone numbers and PIN hashes" in r.detail, r
    assert "--tls-ca" in r.fix


# -- clock trust (issue 17 item 3): the rule the session marks transactions by --------------

TRUSTED_CHECK = "clock"  # one line since the doctor's two clock lines were merged


def _timesync(root, synced: bool) -> None:
    d = root / "run/systemd/timesync"
    d.mkdir(parents=True)
    if synced:
        (d / "synchronized").touch()


def test_ntp_not_yet_synchronised_is_a_warning(root):
    _timesync(root, synced=False)
    r = result(root, TRUSTED_CHECK)
    assert r.status == Status.WARN and "not yet trusted: NTP has not synchronised" in r.detail
    assert "timedatectl" in r.fix


def test_a_clock_behind_the_ledger_is_not_trusted(root, monkeypatch):
    make_store(root)  # its txns are dated 2026-11-20 09:00
    behind = datetime(2026, 11, 20, 8, tzinfo=UTC)
    monkeypatch.setattr(clock, "build_date", lambda: behind - timedelta(days=1))
    r = result(root, TRUSTED_CHECK, now=lambda: behind)
    assert r.status == Status.WARN and "before the latest transaction" in r.detail


def test_a_synchronised_clock_after_the_ledger_is_trusted(root):
    make_store(root)
    _timesync(root, synced=True)
    r = result(root, TRUSTED_CHECK)
    assert r.status == Status.OK and "NTP synchronised" in r.detail and "2026-11-20 09:00" in r.detail


def test_status_shows_how_far_a_store_snapshot_load_has_come(root):
    from kiosk.store.loading import Chunk
    from tests.sync.support import open_store

    data = root / "var/lib/kiosk"
    assert result(root, "member replica").status == Status.SKIP
    store = open_store(data, "K-001")
    assert "not loaded from HQ's store snapshot yet" in result(root, "member replica").detail
    assert store.store_chunk(Chunk(42, 0, 3, 0, 7, (), (), (), {}))
    line = result(root, "member replica").detail  # read while the kiosk holds the store
    assert "loading 1/3 chunks (33%) of snapshot 42" in line and "serves" in line
    store.close()


def _tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, size, mode, owner and modification time (a directory's
    changes when a file is made or removed in it, even one removed again at once)."""
    out = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_uid, st.st_mtime_ns)
    return out


def test_the_doctor_changes_nothing_on_disk(root, capsys):
    """A read-only command: no probe file, no -wal or -shm left beside the replica (root's, after
    `sudo kiosk doctor`: the service could not open its replica then). The one exception: the store
    check opens the store as the kiosk would, as the kiosk user, under the store's lock, so the lock
    file takes the doctor's pid and the data dir's own time moves (SQLite's files come and go)."""
    make_store(root, contact=datetime.now(UTC) - timedelta(hours=2))
    before = _tree(root)
    time.sleep(0.01)  # a change within the same clock tick would not show in the times
    doctor(root, capsys)
    after = _tree(root)
    assert sorted(set(after) ^ set(before)) == []
    changed = [p for p in before if before[p] != after[p]]
    assert changed == ["var/lib/kiosk", "var/lib/kiosk/lock"]
    assert [after[p][2] for p in changed] == [before[p][2] for p in changed]  # still the kiosk user's
