"""Doctor check for the receipt printer ([printer] in kiosk.toml): present or absent, and
whether the service user may open it. Nothing is printed (no paper wasted on a check), and a
printer that was not found is never reported as fine."""

from __future__ import annotations

import stat

from kiosk.doctor.checks import (
    CheckResult,
    Context,
    _group_name,
    _need_config,
    _user_groups,
    fail,
    ok,
    skip,
    warn,
)
from kiosk.provisioning.system import SERVICE_USER
from kiosk.receipt.settings import PrinterSettings
from kiosk.receipt.setup import INSTALL_ESCPOS
from kiosk.ui.fonts import INSTALL_HINT, find_cjk_font

NAME = "printer"
RECEIPT_BYTES = 46_000  # a receipt's bitmap at 576 dots (bench/receipt.py)
SLOW_BAUD = 38_400


def check_printer(ctx: Context) -> CheckResult:
    config = _need_config(ctx, NAME)
    if isinstance(config, CheckResult):
        return config
    settings = config.printer
    if settings.kind == "off":
        return skip(NAME, 'none configured ([printer] kind = "off"): no receipts are printed')
    if find_cjk_font().path is None:
        return fail(NAME, "no Chinese font to draw receipts with", INSTALL_HINT)
    try:
        import escpos.printer  # noqa: F401 (only whether it is there)
    except ImportError:
        return fail(NAME, f"{settings.describe()} configured, but python-escpos is not installed", INSTALL_ESCPOS)
    if settings.kind == "usb":
        return _usb(ctx, settings)
    return _device_file(ctx, settings)


def _usb(ctx: Context, settings: PrinterSettings) -> CheckResult:
    ids = f"{settings.usb_vendor:04x}:{settings.usb_product:04x}"
    try:
        import usb.core
    except ImportError:
        return fail(NAME, "pyusb is not installed", INSTALL_ESCPOS)
    try:
        device = usb.core.find(idVendor=settings.usb_vendor, idProduct=settings.usb_product)
    except usb.core.NoBackendError:
        return fail(NAME, "libusb is not installed, so no USB printer can be opened", "apt-get install libusb-1.0-0")
    if device is None:
        return fail(NAME, f"no USB device {ids}: unplugged, switched off, or other ids",
                    f"plug the printer in and switch it on; `lsusb` shows its ids for [printer] in {ctx.config_path}")
    node = f"/dev/bus/usb/{device.bus:03d}/{device.address:03d}"
    problem = _not_openable(ctx, node)
    if problem:
        return fail(NAME, f"USB printer {ids} at {node}: {problem}",
                    f'a udev rule: SUBSYSTEM=="usb", ATTR{{idVendor}}=="{settings.usb_vendor:04x}", '
                    f'ATTR{{idProduct}}=="{settings.usb_product:04x}", MODE="0660", GROUP="dialout"')
    return ok(NAME, f"USB printer {ids} found at {node}")


def _device_file(ctx: Context, settings: PrinterSettings) -> CheckResult:
    device = settings.device
    path = ctx.path(device)
    if not path.exists():
        return fail(NAME, f"{device} does not exist: printer unplugged or switched off, or another port",
                    f"plug the printer in, or correct printer.device in {ctx.config_path}")
    if not stat.S_ISCHR(path.stat().st_mode):
        if settings.kind == "serial":
            return fail(NAME, f"{device} is not a character device", f"correct printer.device in {ctx.config_path}")
        return warn(NAME, f"{device} is a regular file: receipts are written into it, not printed",
                    f"point printer.device in {ctx.config_path} at the printer (e.g. /dev/usb/lp0)")
    problem = _not_openable(ctx, device)
    if problem:
        return fail(NAME, f"{device}: {problem}", f"usermod -aG {_group_name(ctx, path.stat().st_gid)} {SERVICE_USER}")
    if settings.kind == "serial" and settings.baudrate < SLOW_BAUD:
        seconds = RECEIPT_BYTES * 10 // settings.baudrate
        return warn(NAME, f"{settings.describe()} present, but at {settings.baudrate} baud a receipt's bitmap "
                    f"takes about {seconds} s", "set the printer and printer.baudrate to 115200")
    return ok(NAME, f"{settings.describe()} present")


def _not_openable(ctx: Context, device_path: str) -> str:
    """Why the service user could not open the node for writing ("" when it could)."""
    path = ctx.path(device_path)
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot be looked at ({exc.strerror})"
    if st.st_mode & 0o002:
        return ""
    group = _group_name(ctx, st.st_gid)
    if st.st_mode & 0o020 and group in _user_groups(ctx):
        return ""
    return f"belongs to group {group} (mode {st.st_mode & 0o777:o}), and {SERVICE_USER} may not write to it"
