"""`kiosk doctor`'s printer line: skipped when no printer is configured, present only when the
device really is there and the service user may open it; absent, wrong or unopenable printers
fail (or warn, for a regular file), with the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.doctor import ALL_CHECKS
from kiosk.doctor.checks import Context, Status
from kiosk.doctor.printer import check_printer
from kiosk.provisioning.system import SERVICE_USER
from tests.prov_helpers import GROUP, make_root

DEVICE = '[device]\nid = "K-001"\nstore = "SH-07"\ndata_dir = "/var/lib/kiosk"\n'


def root_with(tmp_path: Path, printer: str) -> Path:
    root = make_root(tmp_path / "root")
    (root / "etc/group").write_text(GROUP.replace("dialout:x:20:", f"dialout:x:20:{SERVICE_USER}"))
    (root / "etc/kiosk").mkdir()
    (root / "etc/kiosk/kiosk.toml").write_text(DEVICE + "[printer]\n" + printer)
    (root / "dev").mkdir()
    return root


def printer_line(root: Path):
    return check_printer(Context(root=root, ntp_server=None, timeout=1.0))


def test_the_doctor_runs_the_printer_check_after_the_reader():
    names = [check.__name__ for check in ALL_CHECKS]
    assert names.index("check_printer") == names.index("check_card_read") + 1


def test_no_printer_is_a_skip(tmp_path):
    line = printer_line(root_with(tmp_path, ""))
    assert line.status is Status.SKIP and "none configured" in line.detail


def test_a_usb_printer_not_plugged_in_fails(tmp_path):
    line = printer_line(root_with(tmp_path, 'kind = "usb"\nusb_vendor = 0x0416\nusb_product = 0x5011\n'))
    assert line.status is Status.FAIL, line
    assert "0416:5011" in line.detail and "lsusb" in line.fix


def test_a_missing_serial_port_fails(tmp_path):
    line = printer_line(root_with(tmp_path, 'kind = "serial"\ndevice = "/dev/ttyUSB0"\n'))
    assert line.status is Status.FAIL and "/dev/ttyUSB0 does not exist" in line.detail
    assert "printer.device" in line.fix


def test_a_serial_port_that_is_a_plain_file_fails(tmp_path):
    root = root_with(tmp_path, 'kind = "serial"\ndevice = "/dev/ttyUSB0"\n')
    (root / "dev/ttyUSB0").write_bytes(b"")
    line = printer_line(root)
    assert line.status is Status.FAIL and "not a character device" in line.detail


def test_a_file_printer_on_a_plain_file_is_only_a_warning(tmp_path):
    root = root_with(tmp_path, 'kind = "file"\ndevice = "/var/receipts.bin"\n')
    (root / "var").mkdir()
    (root / "var/receipts.bin").write_bytes(b"")
    line = printer_line(root)
    assert line.status is Status.WARN and "not printed" in line.detail


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
@pytest.mark.parametrize(("gid", "mode", "status"), [(20, 0o660, Status.OK), (0, 0o660, Status.FAIL)])
def test_a_printer_device_the_service_user_may_or_may_not_open(tmp_path, gid, mode, status):
    root = root_with(tmp_path, 'kind = "file"\ndevice = "/dev/usb/lp0"\n')
    (root / "dev/usb").mkdir()
    node = root / "dev/usb/lp0"
    os.mknod(node, mode | 0o020000, os.makedev(180, 0))
    os.chown(node, 0, gid)
    node.chmod(mode)
    line = printer_line(root)
    assert line.status is status, line
    if status is Status.FAIL:
        assert "belongs to group root" in line.detail and line.fix == f"usermod -aG root {SERVICE_USER}"
    else:
        assert line.detail == "file printer /dev/usb/lp0 present"


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
@pytest.mark.parametrize(("baud", "status"), [(9600, Status.WARN), (115200, Status.OK)])
def test_a_slow_serial_line_is_a_warning(tmp_path, baud, status):
    root = root_with(tmp_path, f'kind = "serial"\ndevice = "/dev/ttyUSB0"\nbaudrate = {baud}\n')
    node = root / "dev/ttyUSB0"
    os.mknod(node, 0o660 | 0o020000, os.makedev(188, 0))
    os.chown(node, 0, 20)
    node.chmod(0o660)
    line = printer_line(root)
    assert line.status is status, line
    if status is Status.WARN:
        assert "about 47 s" in line.detail and "115200" in line.fix
