"""The operating-system side of provisioning: the service user, the systemd units and the
Raspberry Pi's own settings. Each function returns the lines it would print, and acts only
when ``dry_run`` is false.

Under ``--root DIR`` the user is created with shadow's ``useradd --prefix DIR`` (it edits
DIR/etc/passwd, group and shadow without chroot); when DIR has no etc/passwd, or useradd is
missing, the step is skipped with a message saying what to run on the device. Units are enabled
with ``systemctl --root DIR enable``, which works offline and makes the same wants symlinks as
on a running system. raspi-config changes the running Pi, so it only runs when DIR is /; under
--root the SD card's boot partition (DIR/boot/firmware) is edited the way raspi-config would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kiosk.provisioning import fsops

SERVICE_USER = "kiosk"
SERVICE_GROUPS = ("spi", "gpio", "dialout", "video", "input")
UNIT_DIR = "/etc/systemd/system"
READER_DEVICE_PREFIXES = ("/dev/serial", "/dev/tty", "/dev/spidev", "char-ttyS", "char-ttyAMA",
                          "char-ttyUSB", "char-spidev", "char-usb_device")


class StepFailed(RuntimeError):
    """A provisioning step that could not be done; the message says what and why."""


@dataclass(frozen=True)
class Outcome:
    result: str  # created / updated / unchanged / skipped / would
    detail: str


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise StepFailed(f"`{' '.join(cmd)}` failed ({proc.returncode}): {msg[-1] if msg else ''}")
    return proc


def _is_slash(root: Path) -> bool:
    return Path(root).resolve() == Path("/")


def _prefix(root: Path) -> list[str]:
    return [] if _is_slash(root) else ["--prefix", str(root)]


def ensure_user(root: Path, data_dir: str, dry_run: bool) -> list[Outcome]:
    """The service user `kiosk` with its own group and the hardware groups it needs."""
    if not (Path(root) / "etc/passwd").exists():
        return [Outcome("skipped", f"{root}/etc/passwd does not exist, so no user was created; "
                        f"run `kiosk provision` on the device itself to create `{SERVICE_USER}`")]
    if shutil.which("useradd") is None:
        return [Outcome("skipped", "useradd is not installed (Debian package `passwd`); create the "
                        f"user by hand: useradd --system --user-group {SERVICE_USER}")]
    out: list[Outcome] = []
    for group in SERVICE_GROUPS:
        if fsops.lookup_group(root, group) is None:
            if not dry_run:
                _run(["groupadd", *_prefix(root), "--system", group])
            out.append(Outcome("would" if dry_run else "created", f"create system group {group}"
                               if dry_run else f"system group {group}"))
    user = fsops.lookup_user(root, SERVICE_USER)
    groups = ",".join(SERVICE_GROUPS)
    if user is None:
        if not dry_run:
            _run(["useradd", *_prefix(root), "--system", "--user-group", "--no-create-home",
                  "--home-dir", data_dir, "--shell", "/usr/sbin/nologin", "--comment",
                  "membership-card kiosk", "--groups", groups, SERVICE_USER])
        out.append(Outcome("would" if dry_run else "created",
                           f"{'create ' if dry_run else ''}service user {SERVICE_USER} "
                           f"(groups {groups})"))
        return out
    missing = [g for g in SERVICE_GROUPS
               if SERVICE_USER not in (fsops.lookup_group(root, g) or (0, []))[1]]
    if missing:
        if not dry_run:
            _run(["usermod", *_prefix(root), "--append", "--groups", ",".join(missing),
                  SERVICE_USER])
        out.append(Outcome("would" if dry_run else "updated",
                           f"service user {SERVICE_USER} added to {','.join(missing)}"))
    else:
        out.append(Outcome("unchanged", f"service user {SERVICE_USER} (groups {groups})"))
    return out


def units_source() -> Path:
    """Where the unit files ship: systemd/ in a source tree, share/kiosk/systemd when installed."""
    here = Path(__file__).resolve().parents[2] / "systemd"
    if (here / "kiosk.service").exists():
        return here
    for prefix in (Path(sys.prefix), Path("/usr/local"), Path("/usr")):
        candidate = prefix / "share/kiosk/systemd"
        if (candidate / "kiosk.service").exists():
            return candidate
    raise StepFailed("the kiosk.service unit file is not installed (expected systemd/ next to "
                     "the package or share/kiosk/systemd)")


def reader_device_allow(driver: str, port: str) -> list[str]:
    """The DeviceAllow= lines that give the service its reader and nothing more."""
    from kiosk.provisioning.detect import device_node
    from kiosk.reader.drivers import DRIVERS

    node = device_node(driver, port)
    if node is not None:
        return [f"DeviceAllow={node} rw"]
    spec = DRIVERS.get(driver)
    return list(spec.device_allow(port)) if spec else []  # pcsc: pcscd's socket; simulated: none


def render_unit(text: str, kiosk_cmd: str, data_dir: str, driver: str, port: str) -> str:
    """The shipped unit, pointed at this install: the `kiosk` command, the data dir, the reader."""
    out: list[str] = []
    reader_lines_done = False
    for line in text.splitlines():
        if line.startswith("ExecStart=/usr/bin/kiosk"):
            line = "ExecStart=" + kiosk_cmd + line[len("ExecStart=/usr/bin/kiosk"):]
        elif line.startswith("ReadWritePaths="):
            line = f"ReadWritePaths={data_dir}"
        elif line.startswith("DeviceAllow=") and line[12:].startswith(READER_DEVICE_PREFIXES):
            if not reader_lines_done:
                out.extend(reader_device_allow(driver, port))
                reader_lines_done = True
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def install_unit(root: Path, name: str, text: str, dry_run: bool) -> Outcome:
    path = fsops.under(root, f"{UNIT_DIR}/{name}")
    if dry_run:
        return Outcome("would", f"write {UNIT_DIR}/{name} (mode 644)")
    if path.parent.exists() and not path.parent.is_dir():
        raise StepFailed(f"{path.parent} is not a directory")
    fsops.ensure_dir(path.parent, 0o755)
    return Outcome(fsops.atomic_write(path, text.encode(), 0o644, fsops.Owner(0, 0)),
                   f"{UNIT_DIR}/{name}")


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def enable_unit(root: Path, name: str, dry_run: bool) -> Outcome:
    """Enable at boot: `systemctl enable` on the device, `systemctl --root DIR enable` offline."""
    live = _is_slash(root) and systemd_running()
    base = ["systemctl"] if live else ["systemctl", "--root", str(root)]
    if shutil.which("systemctl") is None:
        link = fsops.under(root, f"{UNIT_DIR}/multi-user.target.wants/{name}")
        if link.is_symlink():
            return Outcome("unchanged", f"{name} enabled")
        if not dry_run:
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f"{UNIT_DIR}/{name}")
        return Outcome("would" if dry_run else "created",
                       f"{name} enabled (symlink; systemctl is not installed)")
    state = subprocess.run([*base, "is-enabled", name], capture_output=True, text=True)
    if state.stdout.strip() == "enabled":
        return Outcome("unchanged", f"{name} enabled")
    if dry_run:
        return Outcome("would", f"`{' '.join([*base, 'enable', name])}`")
    if live:
        _run(["systemctl", "daemon-reload"])
    _run([*base, "enable", name])
    return Outcome("updated", f"{name} enabled at boot")


# -- Raspberry Pi settings -------------------------------------------------------------------

PI_NOTES = {
    "spi": "enable SPI for the RC522: `sudo raspi-config nonint do_spi 0` "
           "(or add `dtparam=spi=on` to /boot/firmware/config.txt) and reboot",
    "uart": "enable the UART for the PN532 and free it from the login console: "
            "`sudo raspi-config nonint do_serial_hw 0; sudo raspi-config nonint do_serial_cons 1` "
            "(or put `enable_uart=1` in /boot/firmware/config.txt and remove "
            "`console=serial0,115200` from /boot/firmware/cmdline.txt) and reboot",
    "rotation": "the kiosk UI turns its own picture by device.rotation; to turn the boot console "
                "as well add `video=DSI-1:800x480@60,rotate={deg}` to /boot/firmware/cmdline.txt",
}


RASPI_CONFIG = {
    "spi": ("get_spi", [["do_spi", "0"]]),
    "uart": ("get_serial_hw", [["do_serial_hw", "0"], ["do_serial_cons", "1"]]),
}


def _needs(driver: str, port: str) -> list[str]:
    """The Pi interfaces (RASPI_CONFIG keys) the reader's registry entry asks for."""
    from kiosk.reader.drivers import DRIVERS

    spec = DRIVERS.get(driver)
    return list(spec.interfaces(port)) if spec else []


BOOT_DIRS = ("boot/firmware", "boot")  # bookworm mounts the FAT partition at /boot/firmware
CONFIG_TXT_LINES = {"spi": ("dtparam=spi=", "dtparam=spi=on"),
                    "uart": ("enable_uart=", "enable_uart=1")}
SERIAL_CONSOLES = ("console=serial0,", "console=ttyAMA0,", "console=ttyS0,")


def boot_dir(root: Path) -> Path | None:
    """The Pi's boot partition under root, when there is one (config.txt and cmdline.txt)."""
    for d in BOOT_DIRS:
        if (Path(root) / d / "config.txt").is_file():
            return Path(root) / d
    return None


def edit_config_txt(text: str, need: str) -> str:
    """config.txt with the setting `need` wants switched on. Every live line of that setting is
    set (a later line wins in config.txt); with none, a commented one is revived, else the line
    goes into an [all] section at the end. Everything else is kept as it was."""
    prefix, line = CONFIG_TXT_LINES[need]
    lines = text.splitlines()
    live = [i for i, ln in enumerate(lines) if ln.strip().startswith(prefix)]
    commented = [i for i, ln in enumerate(lines) if ln.strip().lstrip("#").strip().startswith(prefix)]
    if live or commented:
        for i in live or commented[:1]:
            lines[i] = line
        return "\n".join(lines) + "\n"
    sections = [ln.strip() for ln in lines if ln.strip().startswith("[")]
    if sections and sections[-1] != "[all]":
        lines.append("[all]")
    lines.append(line)
    return "\n".join(lines) + "\n"


def edit_cmdline_txt(text: str) -> str:
    """cmdline.txt without a login console on the UART (the PN532 needs the port to itself)."""
    words = [w for w in text.split() if not w.startswith(SERIAL_CONSOLES)]
    return " ".join(words) + "\n"


def boot_files(boot: Path, needs: list[str], dry_run: bool) -> list[Outcome]:
    """Edit config.txt (and cmdline.txt for the UART) directly: what raspi-config would do."""
    out: list[Outcome] = []
    edits: list[tuple[Path, str]] = []
    config = boot / "config.txt"
    text = config.read_text()
    for need in needs:
        text = edit_config_txt(text, need)
    edits.append((config, text))
    if "uart" in needs and (boot / "cmdline.txt").is_file():
        edits.append((boot / "cmdline.txt", edit_cmdline_txt((boot / "cmdline.txt").read_text())))
    for path, new in edits:
        if path.read_text() == new:
            out.append(Outcome("unchanged", f"{path} ({', '.join(needs)} on)"))
        elif dry_run:
            out.append(Outcome("would", f"edit {path} ({', '.join(needs)} on)"))
        else:
            fsops.atomic_write(path, new.encode(), None)
            out.append(Outcome("updated", f"{path} ({', '.join(needs)} on; takes effect at boot)"))
    return out


def pi_settings(root: Path, driver: str, port: str, rotation: int,
                dry_run: bool) -> list[Outcome]:
    """Turn on the bus the reader needs: with raspi-config on the Pi itself, by editing the boot
    partition's config.txt under --root (an SD card being prepared), and explain it otherwise."""
    needs = _needs(driver, port)
    out: list[Outcome] = []
    tool = shutil.which("raspi-config")
    if needs and (tool is None or not _is_slash(root)):
        boot = boot_dir(root)
        if boot is not None:
            return out + boot_files(boot, needs, dry_run) + _rotation_note(rotation)
    for need in needs:
        if tool is None or not _is_slash(root):
            why = "raspi-config is not installed" if tool is None else "acting on --root"
            out.append(Outcome("skipped", f"{why} and no boot partition under {root}; on the Pi, "
                               f"{PI_NOTES[need]}"))
            continue
        get, sets = RASPI_CONFIG[need]
        current = subprocess.run([tool, "nonint", get], capture_output=True, text=True)
        if current.stdout.strip() == "0":
            out.append(Outcome("unchanged", f"{need} enabled"))
            continue
        if not dry_run:
            for args in sets:
                _run([tool, "nonint", *args])
        out.append(Outcome("would" if dry_run else "updated",
                           f"{need} enabled with raspi-config (reboot to apply)"))
    return out + _rotation_note(rotation)


def _rotation_note(rotation: int) -> list[Outcome]:
    return [Outcome("skipped", PI_NOTES["rotation"].format(deg=rotation))] if rotation else []
