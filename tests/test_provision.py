"""`kiosk provision` for real against a temp root: fresh, re-run, failed midway, dry run, the
files and permissions it leaves, and the systemd units it installs."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kiosk.app.config import load_config
from kiosk.provisioning import answers, detect, fsops, masterkey, plan
from tests.prov_helpers import command_parser, make_root, run_command, snapshot
from tests.prov_pki import CA

KEY = bytes.fromhex("8f3a1c2d4e5f60718293a4b5c6d7e8f9")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown and useradd need root")


@pytest.fixture
def root(tmp_path):
    return make_root(tmp_path / "root")


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "usb"
    d.mkdir()
    (d / "master.key").write_text(KEY.hex() + "\n")
    ca = CA.create()
    (d / "ca.pem").write_bytes(ca.pem())
    return d, ca


def base_args(root: Path, usb: Path) -> list[str]:
    return ["--root", root, "--non-interactive", "--device-id", "K-001", "--store-id", "SH-07",
            "--reader-driver", "pn532", "--reader-port", "/dev/serial0",
            "--card-master-key", usb / "master.key", "--locale", "en", "--screen", "1024x600"]


def provision(*argv) -> int:
    return run_command("provision", *argv)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def owner(root: Path, path: Path) -> str:
    uid = path.stat().st_uid
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.split(":")[2] == str(uid):
            return line.split(":")[0]
    return str(uid)


@needs_root
def test_fresh_provision_leaves_files_permissions_user_and_units(root, inputs, capsys):
    usb, _ = inputs
    assert provision(*base_args(root, usb)) == 0
    out = capsys.readouterr().out
    for step in ("service user", "directories", "secrets", "systemd units", "configuration"):
        assert f"== {step}" in out
    assert KEY.hex() not in out

    config = load_config(root / "etc/kiosk/kiosk.toml")
    assert (config.device.id, config.device.store, config.device.locale) == ("K-001", "SH-07", "en")
    assert config.reader.port == "/dev/serial0"
    assert str(config.secrets.card_master_key_file) == "/etc/kiosk/card_master.key"

    cfg = root / "etc/kiosk/kiosk.toml"
    key = root / "etc/kiosk/card_master.key"
    assert mode(cfg) == 0o640 and owner(root, cfg) == "root"
    assert fsops.lookup_group(root, "kiosk")[0] == cfg.stat().st_gid
    assert mode(key) == 0o600 and owner(root, key) == "kiosk"
    assert key.read_bytes() == KEY.hex().encode() + b"\n"
    assert mode(root / "etc/kiosk") == 0o750
    assert mode(root / "var/lib/kiosk") == 0o750 and owner(root, root / "var/lib/kiosk") == "kiosk"

    passwd = (root / "etc/passwd").read_text()
    assert "kiosk:x:" in passwd and ":/var/lib/kiosk:/usr/sbin/nologin" in passwd
    for group in ("spi", "gpio", "dialout", "video", "input"):
        assert "kiosk" in fsops.lookup_group(root, group)[1], group

    unit = root / "etc/systemd/system/kiosk.service"
    assert mode(unit) == 0o644
    text = unit.read_text()
    assert "DeviceAllow=/dev/serial0 rw" in text
    assert "ReadWritePaths=/var/lib/kiosk" in text
    assert f"ExecStart={sys.executable} -m kiosk run" in text
    link = root / "etc/systemd/system/multi-user.target.wants/kiosk.service"
    assert link.is_symlink() and os.readlink(link) == "/etc/systemd/system/kiosk.service"
    assert not list((root / "etc/kiosk").glob(".*.tmp")), "temp files left behind"


@needs_root
def test_rerun_with_the_same_answers_changes_nothing(root, inputs, capsys):
    usb, _ = inputs
    args = base_args(root, usb) + ["--hq-host", "localhost", "--tls-ca", usb / "ca.pem"]
    assert provision(*args) == 0
    before = snapshot(root)
    capsys.readouterr()
    assert provision(*args) == 0
    out = capsys.readouterr().out
    assert snapshot(root) == before
    assert "[created]" not in out and "[updated]" not in out
    assert "already provisioned this way: nothing changed" in out
    # and a re-run with no answers at all keeps every value of the existing configuration
    assert provision("--root", root, "--non-interactive") == 0
    assert snapshot(root) == before


@needs_root
def test_a_changed_answer_updates_only_the_config(root, inputs, capsys):
    usb, _ = inputs
    assert provision(*base_args(root, usb)) == 0
    before = snapshot(root)
    assert provision("--root", root, "--non-interactive", "--store-id", "BJ-01") == 0
    after = snapshot(root)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"etc/kiosk/kiosk.toml", "etc/kiosk"}  # the dir's mtime moves on rename
    assert load_config(root / "etc/kiosk/kiosk.toml").device.store == "BJ-01"


@needs_root
def test_failed_midway_leaves_the_previous_config(root, inputs, capsys):
    usb, _ = inputs
    assert provision(*base_args(root, usb)) == 0
    previous = (root / "etc/kiosk/kiosk.toml").read_bytes()
    unit = root / "etc/systemd/system/kiosk.service"
    unit.unlink()
    unit.mkdir()  # the unit step cannot replace a directory: it fails after user/dirs/secrets
    capsys.readouterr()
    assert provision("--root", root, "--non-interactive", "--store-id", "BJ-01") == 1
    out = capsys.readouterr().out
    assert "[failed]" in out and "provisioning stopped at 'systemd units'" in out
    assert (root / "etc/kiosk/kiosk.toml").read_bytes() == previous
    assert not list((root / "etc/systemd/system").glob(".*.tmp"))


@needs_root
def test_power_fails_while_the_config_is_written(root, inputs):
    """The config write itself dies (file size limit: the write raises EFBIG, like a full card):
    the previous config is intact and no temp file is left."""
    usb, _ = inputs
    assert provision(*base_args(root, usb)) == 0
    previous = (root / "etc/kiosk/kiosk.toml").read_bytes()
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))\n"
        "from tests.prov_helpers import run_command\n"
        "sys.exit(run_command('provision', *sys.argv[1:]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, "--root", str(root),
                           "--non-interactive", "--store-id", "BJ-01"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "File too large" in proc.stdout
    assert (root / "etc/kiosk/kiosk.toml").read_bytes() == previous
    assert not [p for p in (root / "etc/kiosk").iterdir() if p.name.endswith(".tmp")]


@needs_root
def test_sd_card_boot_partition_is_set_up_under_root(root, inputs, capsys):
    """Preparing an SD card: no raspi-config there, so config.txt and cmdline.txt are edited."""
    usb, _ = inputs
    boot = root / "boot/firmware"
    boot.mkdir(parents=True)
    (boot / "config.txt").write_text("dtoverlay=vc4-kms-v3d\n[pi4]\narm_boost=1\n")
    (boot / "cmdline.txt").write_text("console=serial0,115200 console=tty1 root=/dev/mmcblk0p2\n")
    assert provision(*base_args(root, usb), "--dry-run") == 0
    assert "enable_uart" not in (boot / "config.txt").read_text()
    assert provision(*base_args(root, usb)) == 0
    assert (boot / "config.txt").read_text().endswith("[pi4]\narm_boost=1\n[all]\nenable_uart=1\n")
    assert (boot / "cmdline.txt").read_text() == "console=tty1 root=/dev/mmcblk0p2\n"
    before = snapshot(root)
    assert provision(*base_args(root, usb)) == 0
    assert snapshot(root) == before


def test_a_fresh_failure_writes_no_config(root, inputs, capsys):
    usb, _ = inputs
    (usb / "bad.key").write_bytes(b"\x01\x02\x03")
    args = base_args(root, usb)
    args[args.index(usb / "master.key")] = usb / "bad.key"
    before = snapshot(root)
    assert provision(*args) == 2
    err = capsys.readouterr().err
    assert "--card-master-key" in err and "bad.key" in err and "16 raw bytes" in err
    assert "nothing was changed" in err
    assert snapshot(root) == before


@needs_root
def test_dry_run_changes_nothing_and_shows_every_step(root, inputs, capsys):
    usb, _ = inputs
    before = snapshot(root)
    assert provision(*base_args(root, usb), "--dry-run", "--hq-host", "localhost",
                     "--tls-ca", usb / "ca.pem") == 0
    out = capsys.readouterr().out
    assert snapshot(root) == before
    for expected in ("[dry-run] create service user kiosk",
                     "[dry-run] write /etc/kiosk/card_master.key",
                     "[dry-run] generate an EC P-256 key", "[dry-run] write /etc/systemd/system",
                     "systemctl --root", "[dry-run] write /etc/kiosk/kiosk.toml",
                     'id = "K-001"'):
        assert expected in out, expected
    assert KEY.hex() not in out
    # on a provisioned root a dry run of a change also changes nothing
    assert provision(*base_args(root, usb)) == 0
    before = snapshot(root)
    assert provision("--root", root, "--non-interactive", "--locale", "zh_CN", "--dry-run") == 0
    assert snapshot(root) == before


@pytest.mark.parametrize("flag,value,message", [
    ("--device-id", "K 001!", "device.id: must be 1-64 letters"),
    ("--hq-port", "70000", "hq.port: must be between 1 and 65535"),
    ("--card-system-id", "a-chain-name-longer-than-21", "secrets.card_system_id: must be 1 to 21"),
    ("--rotation", None, None),
])
def test_bad_answers_are_named_and_change_nothing(root, inputs, capsys, flag, value, message):
    usb, _ = inputs
    if value is None:  # argparse refuses an impossible choice before anything runs
        with pytest.raises(SystemExit) as exc:
            provision(*base_args(root, usb), "--rotation", "45")
        assert exc.value.code == 2
        return
    before = snapshot(root)
    args = base_args(root, usb) + ["--hq-host", "localhost", flag, value]
    assert provision(*args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert snapshot(root) == before


def test_missing_device_id_non_interactive(root, capsys):
    assert provision("--root", root, "--non-interactive", "--store-id", "S1") == 2
    assert "--device-id is required" in capsys.readouterr().err


def test_reader_port_that_does_not_exist_is_refused_on_the_device(inputs):
    a = answers.merge({"device_id": "K-1", "store_id": "S-1", "reader_driver": "pn532",
                       "reader_port": "/dev/ttyAMA7-not-there"})
    with pytest.raises(plan.ProvisionError, match="ttyAMA7-not-there: no such device"):
        plan.build(a, Path("/nonexistent-root"), check_port=True)
    a = answers.merge({"device_id": "K-1", "store_id": "S-1", "reader_driver": "rc522",
                       "reader_port": "7.3"})
    with pytest.raises(plan.ProvisionError, match="no such device /dev/spidev7.3"):
        plan.build(a, Path("/nonexistent-root"), check_port=True)


@needs_root
def test_tls_key_and_csr_then_signed_certificate(root, inputs, capsys):
    usb, ca = inputs
    args = base_args(root, usb) + ["--hq-host", "localhost", "--tls-ca", usb / "ca.pem"]
    assert provision(*args) == 0
    out = capsys.readouterr().out
    assert "send /etc/kiosk/tls/client.csr to HQ" in out
    key = root / "etc/kiosk/tls/client.key"
    assert mode(key) == 0o600 and owner(root, key) == "kiosk"
    csr = x509.load_pem_x509_csr((root / "etc/kiosk/tls/client.csr").read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "K-001"
    config = load_config(root / "etc/kiosk/kiosk.toml")
    assert config.hq.port == 8883 and config.hq.tls_cert is None
    key_before = key.read_bytes()

    (usb / "K-001.pem").write_bytes(ca.sign_csr((root / "etc/kiosk/tls/client.csr").read_bytes()))
    assert provision("--root", root, "--non-interactive", "--tls-cert", usb / "K-001.pem") == 0
    config = load_config(root / "etc/kiosk/kiosk.toml")
    assert str(config.hq.tls_cert) == "/etc/kiosk/tls/client.pem"
    assert str(config.hq.tls_key) == "/etc/kiosk/tls/client.key"
    assert key.read_bytes() == key_before, "re-running must not replace the key"

    other_cert, _ = CA.create("Other").issue(usb, "other", "K-001")
    capsys.readouterr()
    assert provision("--root", root, "--non-interactive", "--tls-cert", other_cert) == 2
    assert "does not match the certificate" in capsys.readouterr().err
    _, stranger_key = CA.create("Other").issue(usb, "other2", "K-001")
    assert provision("--root", root, "--non-interactive", "--tls-key", stranger_key) == 2
    assert "does not match the installed certificate" in capsys.readouterr().err


def test_units_pass_systemd_analyze_verify(root, inputs, tmp_path):
    """The units as provision installs them (ExecStart pointed at this Python)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (scripts/setup.sh installs systemd)")
    usb, _ = inputs
    assert provision(*base_args(root, usb), "--hq-server") == 0
    units = [root / "etc/systemd/system" / n for n in ("kiosk.service", "kiosk-hq.service", "kiosk-hq-console.service")]
    proc = subprocess.run(["systemd-analyze", "verify", *map(str, units)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    text = units[0].read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=always", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes", "User=kiosk",
                 "DevicePolicy=closed"):
        assert line in text, line
    assert "ExecStart=" + sys.executable + " -m kiosk hq serve" in units[1].read_text()
    console = units[2].read_text()
    assert "ExecStart=" + sys.executable + " -m kiosk hq console --host 127.0.0.1 --port 8080 --behind-https" in console
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "User=kiosk", "EnvironmentFile=-/etc/kiosk/hq.env"):
        assert line in console, line
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert {p.name for p in wants.iterdir()} >= {"kiosk-hq.service", "kiosk-hq-console.service"}


def test_systemd_analyze_catches_a_broken_unit(tmp_path):
    """The verify test above can fail: a typo in a directive is reported."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = (plan.system.units_source() / "kiosk.service").read_text()
    bad = tmp_path / "kiosk.service"
    bad.write_text(plan.system.render_unit(text, sys.executable + " -m kiosk", "/var/lib/kiosk",
                                           "pn532", "/dev/serial0").replace("Type=notify",
                                                                            "Type=notfy"))
    proc = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True)
    assert "Failed to parse service type" in proc.stderr


@pytest.mark.parametrize("driver,port,expected", [
    ("pn532", "/dev/ttyUSB0", ["DeviceAllow=/dev/ttyUSB0 rw"]),
    ("rc522", "0.1", ["DeviceAllow=/dev/spidev0.1 rw"]),
    ("rc522", "", ["DeviceAllow=/dev/spidev0.0 rw"]),
    ("pn532", "tty:AMA0:pn532", ["DeviceAllow=/dev/ttyAMA0 rw"]),
    ("pn532", "usb:04cc:2533", ["DeviceAllow=char-usb_device rw"]),
    ("pcsc", "ACS ACR122U", []),
    ("simulated", "", []),
])
def test_unit_gives_the_service_only_its_reader(driver, port, expected):
    text = (plan.system.units_source() / "kiosk.service").read_text()
    rendered = plan.system.render_unit(text, "/usr/bin/kiosk", "/srv/kiosk", driver, port)
    fixed = {"DeviceAllow=char-gpiochip rw", "DeviceAllow=/dev/gpiomem rw",
             "DeviceAllow=char-drm rw", "DeviceAllow=char-input r", "DeviceAllow=char-vchiq rw"}
    allowed = [ln for ln in rendered.splitlines() if ln.startswith("DeviceAllow=")]
    assert fixed <= set(allowed)
    reader_lines = [ln for ln in allowed if ln not in fixed]
    assert reader_lines == expected
    assert "ReadWritePaths=/srv/kiosk" in rendered


def test_answers_file_with_relative_paths(root, inputs, tmp_path, capsys):
    usb, _ = inputs
    answers_file = usb / "shop.toml"
    answers_file.write_text('device_id = "K-9"\nstore_id = "GZ-2"\ncard_master_key = '
                            '"master.key"\nreader_driver = "simulated"\n')
    if os.geteuid() == 0:
        assert provision("--root", root, "--non-interactive", "--answers", answers_file) == 0
        assert masterkey.read_master_key(root / "etc/kiosk/card_master.key") == KEY
    bad = usb / "bad.toml"
    bad.write_text('device_id = "K-9"\nshop = "x"\n')
    assert provision("--root", root, "--non-interactive", "--answers", bad) == 2
    assert "shop: unknown answer" in capsys.readouterr().err


def test_interactive_prompts_offer_the_detected_readers():
    found = [detect.Candidate("pn532", "/dev/serial0", "PN532 on UART"),
             detect.Candidate("rc522", "0.0", "RC522 on SPI")]
    replies = iter(["K-7", "SH-1", "", "", "", "", "en", "", "180", "2"])
    shown: list[str] = []
    result = answers.ask(answers.Answers(), found, lambda prompt: next(replies), shown.append)
    assert (result.device_id, result.store_id, result.locale, result.rotation) == \
        ("K-7", "SH-1", "en", 180)
    assert (result.reader_driver, result.reader_port) == ("rc522", "0.0")
    assert any("/dev/serial0" in line for line in shown)


def test_detect_finds_uart_usb_and_spi_readers(tmp_path):
    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    (dev / "ttyAMA0").touch()
    (dev / "serial0").symlink_to(dev / "ttyAMA0")
    (dev / "ttyUSB0").touch()
    (dev / "spidev0.0").touch()
    usb = sysfs / "bus/usb/devices/1-1.2"
    usb.mkdir(parents=True)
    for name, value in (("idVendor", "04cc"), ("idProduct", "2533"), ("busnum", "1"),
                        ("devnum", "5")):
        (usb / name).write_text(value + "\n")
    found = detect.detect(dev, sysfs, with_pcsc=False)
    ports = [(c.driver, c.port) for c in found]
    assert ports == [("pn532", str(dev / "serial0")), ("pn532", str(dev / "ttyUSB0")),
                     ("pn532", "usb:04cc:2533"), ("rc522", "0.0")]
    assert "ttyAMA0" in found[0].description  # serial0 and ttyAMA0 are one port, listed once


def test_atomic_write_sets_mode_before_the_file_appears(tmp_path):
    target = tmp_path / "secret"
    assert fsops.atomic_write(target, b"x" * 16, 0o600) == fsops.CREATED
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert fsops.atomic_write(target, b"x" * 16, 0o600) == fsops.UNCHANGED
    assert fsops.atomic_write(target, b"y" * 16, 0o600) == fsops.UPDATED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_config_written_by_provision_is_the_one_parse_config_accepts(root):
    a = answers.merge({"device_id": "K-1", "store_id": "S-1", "hq_host": "hq.example"})
    p = plan.build(a, root, kiosk_cmd="/usr/bin/kiosk")
    data = tomllib.loads(p.config_toml.decode())
    assert data["hq"] == {"host": "hq.example", "port": 1883}
    assert data["reader"] == {"driver": "simulated"}
    assert data["secrets"] == {"card_system_id": "kiosk"}


@pytest.mark.parametrize("name", ["provision", "doctor", "status", "cards"])
def test_help_texts_exist(name):
    text = command_parser(name).format_help()
    assert "exit status" in text
    assert len(text) > 600
    if name != "status":
        assert "examples" in text


def test_the_example_answers_file_is_valid():
    example = Path(__file__).parents[1] / "provisioning/answers.example.toml"
    values = answers.load_answers_file(example)
    a = answers.merge(values)
    assert (a.device_id, a.reader_driver, a.rotation) == ("K-001", "pn532", 0)
    assert a.card_master_key == str(example.parent / "master.key")


def test_interactive_provisioning_on_a_terminal(root, inputs):
    """The questions on a real pseudo-terminal; a bad device id is asked again."""
    import pty
    import select
    import time

    usb, _ = inputs
    replies = [b"K 1!", b"SH-1", b"", b"", b"", str(usb / "master.key").encode(), b"en", b"",
               b"", b"s", b"K-1"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: kiosk provision with the pty as its terminal
        os.chdir(Path(__file__).parents[1])
        os.execv(sys.executable, [sys.executable, "-c",
                 "import sys; from tests.prov_helpers import run_command; "
                 f"sys.exit(run_command('provision', '--root', '{root}', '--dry-run'))"])
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if seen.rstrip().endswith(b":") and replies:
            os.write(fd, replies.pop(0) + b"\r")
            seen += b"\n"
    _, status = os.waitpid(pid, 0)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "设备编号" in text and "Readers found" in text
    assert "device.id: must be 1-64" in text  # the bad answer was named and asked again
    assert 'id = "K-1"' in text and 'locale = "en"' in text and 'driver = "simulated"' in text
    assert KEY.hex() not in text
