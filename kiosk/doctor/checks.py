"""The doctor's checks: small, independent functions, each answering one question about the
kiosk with ok / warn / fail / skip, what it found, and the fix.

A check never raises: whatever goes wrong inside it becomes its own failure line, so one broken
part never hides the others. Checks that need parts other modules provide (the store, the
reader drivers, the sync client) live in integrations.py and say "skip" when that part is not
in this build, never a pass they did not earn."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from kiosk.app.config import Config, ConfigError, load_config
from kiosk.provisioning import fsops, masterkey, tls
from kiosk.provisioning.system import SERVICE_GROUPS, SERVICE_USER

DEFAULT_CONFIG = Path("/etc/kiosk/kiosk.toml")
CERT_WARN_DAYS = 30
DISK_FAIL_BYTES = 100 * 2**20
DISK_WARN_BYTES = 500 * 2**20


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class Context:
    """What every check may look at. `root` is / on a device; tests point it at a temp dir."""

    root: Path = Path("/")
    config_path: Path = DEFAULT_CONFIG  # as seen on the device
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    timeout: float = 5.0
    ntp_server: str | None = "pool.ntp.org"
    ntp_port: int = 123
    card_wait_s: float = 1.0
    memo: dict = field(default_factory=dict, repr=False)  # results checks share (the store)
    _config: Config | None = field(default=None, repr=False)
    _error: ConfigError | None = field(default=None, repr=False)
    _loaded: bool = field(default=False, repr=False)

    def path(self, device_path: Path | str) -> Path:
        return fsops.under(self.root, device_path)

    def load(self) -> tuple[Config | None, ConfigError | None]:
        if not self._loaded:
            try:
                self._config = load_config(self.path(self.config_path))
            except ConfigError as exc:
                self._error = exc
            self._loaded = True
        return self._config, self._error


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, detail, fix)


def skip(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, detail)


def _need_config(ctx: Context, name: str) -> Config | CheckResult:
    config, error = ctx.load()
    if config is not None:
        return config
    if error is not None and _file_missing(error):
        return skip(name, "no configuration file yet (see the config line)")
    return skip(name, "the configuration is not valid (see the config line)")


def _file_missing(error: ConfigError) -> bool:
    return not error.field and "not found" in error.problem


def _name_by_id(ctx: Context, table: str, number: int) -> str:
    """The user or group name for a numeric id, read from the (possibly --root) etc/ file."""
    try:
        for line in ctx.path(table).read_text().splitlines():
            parts = line.split(":")
            if len(parts) > 2 and parts[2] == str(number):
                return parts[0]
    except OSError:
        pass
    return str(number)


def _owner_name(ctx: Context, uid: int) -> str:
    return _name_by_id(ctx, "/etc/passwd", uid)


# -- configuration and secrets ----------------------------------------------------------------

def check_config(ctx: Context) -> CheckResult:
    config, error = ctx.load()
    if error is not None:
        return _config_error(ctx, error)
    assert config is not None
    st = ctx.path(ctx.config_path).stat()
    # Without the service user there is no one to judge readability for: its own line says so.
    if fsops.lookup_user(ctx.root, SERVICE_USER) is not None and not _service_can_read(ctx, st):
        return fail("config", f"{ctx.config_path} is not readable by the service user "
                    f"{SERVICE_USER} (owner {_owner_name(ctx, st.st_uid)}, group "
                    f"{_group_name(ctx, st.st_gid)}, mode {st.st_mode & 0o777:o})",
                    f"chown root:{SERVICE_USER} {ctx.config_path}; chmod 640 {ctx.config_path}")
    if st.st_mode & stat.S_IROTH or st.st_mode & stat.S_IWOTH:
        return warn("config", f"{ctx.config_path} is readable by every user "
                    f"(mode {st.st_mode & 0o777:o})", f"chmod 640 {ctx.config_path}")
    return ok("config", f"{config.device.id} at store {config.device.store}, locale "
              f"{config.device.locale}, screen {config.device.screen}")


def _config_error(ctx: Context, error: ConfigError) -> CheckResult:
    where = ctx.config_path
    if _file_missing(error):
        return fail("config", f"{where} does not exist: this device is not provisioned yet",
                    "run `kiosk provision` (it writes the configuration)")
    if error.field:
        return fail("config", f"{where}: {error.field}: {error.problem}",
                    f"correct {error.field} in {where}, or re-run `kiosk provision`")
    if "permission denied" in error.problem:
        return fail("config", f"{where}: {error.problem}", "run `kiosk doctor` as root or as the kiosk user")
    return fail("config", f"{where}: {error.problem}",
                f"correct the TOML syntax in {where} at the line named, or re-run `kiosk provision`")


def _service_can_read(ctx: Context, st: os.stat_result) -> bool:
    user = fsops.lookup_user(ctx.root, SERVICE_USER)
    if user is None:
        return bool(st.st_mode & stat.S_IROTH)
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IRUSR)
    in_group = st.st_gid == user.gid or _group_name(ctx, st.st_gid) in _user_groups(ctx)
    return bool(st.st_mode & stat.S_IRGRP and in_group or st.st_mode & stat.S_IROTH)


def _private_file(ctx: Context, name: str, device_path: Path, fix_hint: str) -> CheckResult | None:
    """Present, a regular file, mode 600 and owned by the service user; None when all good."""
    path = ctx.path(device_path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return fail(name, f"{device_path} does not exist", fix_hint)
    except PermissionError:
        return fail(name, f"{device_path} cannot be examined (permission denied)",
                    "run `kiosk doctor` as root or as the kiosk user")
    if not stat.S_ISREG(st.st_mode):
        return fail(name, f"{device_path} is not a regular file", fix_hint)
    mode = st.st_mode & 0o777
    if mode != 0o600:
        return fail(name, f"{device_path} has mode {mode:o}, must be 600 (private)",
                    f"chmod 600 {device_path}")
    user = fsops.lookup_user(ctx.root, SERVICE_USER)
    if user is None:
        return fail(name, f"{device_path} cannot be checked: no service user {SERVICE_USER} "
                    "(see the service user line)", "run `kiosk provision` to create it")
    if st.st_uid != user.uid:
        return fail(name, f"{device_path} is owned by {_owner_name(ctx, st.st_uid)}, must be "
                    f"owned by {SERVICE_USER}",
                    f"chown {SERVICE_USER}:{SERVICE_USER} {device_path}")
    if not os.access(path, os.R_OK):
        return fail(name, f"{device_path} is not readable by this user",
                    "run `kiosk doctor` as root or as the kiosk user")
    return None


def check_master_key(ctx: Context) -> CheckResult:
    name = "card master key"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    device_path = config.secrets.card_master_key_file
    if device_path is None:
        return fail(name, "no card master key is configured (secrets.card_master_key_file)",
                    "kiosk provision --card-master-key FILE")
    problem = _private_file(ctx, name, device_path, "kiosk provision --card-master-key FILE")
    if problem:
        return problem
    try:
        masterkey.read_master_key(ctx.path(device_path))
    except masterkey.KeyFileError as exc:
        return fail(name, f"{device_path}: {exc.problem}", "kiosk provision --card-master-key FILE")
    return ok(name, f"{device_path} present, mode 600, owned by {SERVICE_USER}")


def check_pin_pepper(ctx: Context) -> CheckResult:
    name = "PIN pepper"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if config.secrets.pin_pepper_file is None:
        return skip(name, "no PIN pepper configured")
    problem = _private_file(ctx, name, config.secrets.pin_pepper_file,
                            "kiosk provision --pin-pepper FILE")
    return problem or ok(name, f"{config.secrets.pin_pepper_file} present, mode 600")


def _loopback(host: str) -> bool:
    """A broker on this machine (a demo or a test) may go without TLS; any other is production."""
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls_files(ctx: Context) -> CheckResult:
    name = "TLS files"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    hq = config.hq
    if not hq.host:
        return skip(name, "no HQ configured (standalone kiosk)")
    if hq.tls_ca is None and not _loopback(hq.host):
        return fail(name, f"the link to the production broker {hq.host} is not encrypted (no hq.tls_ca): "
                    "events carry members' phone numbers and PIN hashes", "kiosk provision --tls-ca FILE")
    if hq.tls_ca is None:
        return warn(name, "the HQ link is not encrypted (no hq.tls_ca)",
                    "kiosk provision --tls-ca FILE")
    try:
        tls.load_certs(ctx.path(hq.tls_ca))
    except tls.TlsFileError as exc:
        return fail(name, f"hq.tls_ca {hq.tls_ca}: {exc.problem}", "kiosk provision --tls-ca FILE")
    if hq.tls_cert is None or hq.tls_key is None:
        csr = "/etc/kiosk/tls/client.csr"
        return warn(name, "no client certificate yet",
                    f"send {csr} to HQ, then `kiosk provision --tls-cert FILE`")
    problem = _private_file(ctx, name, hq.tls_key, "kiosk provision --tls-key FILE")
    if problem:
        return problem
    try:
        info = tls.check_pair(ctx.path(hq.tls_cert), ctx.path(hq.tls_key))
    except tls.TlsFileError as exc:
        return fail(name, str(exc), "kiosk provision --tls-cert FILE --tls-key FILE")
    return certificate_age(name, info, ctx, "the client certificate") or ok(
        name, f"CA, certificate and key match; certificate valid until {info.not_after:%Y-%m-%d} "
        f"({info.days_left(ctx.now()):.0f} days)")


def certificate_age(name: str, info: tls.CertInfo, ctx: Context, what: str) -> CheckResult | None:
    """A fail for an expired certificate, a warning for one expiring soon, None for one still good."""
    days = info.days_left(ctx.now())
    renew = "ask HQ for a new certificate, then `kiosk provision --tls-cert FILE`"
    if days < 0:
        return fail(name, f"{what} expired on {info.not_after:%Y-%m-%d}", renew)
    if days < CERT_WARN_DAYS:
        return warn(name, f"{what} expires in {days:.0f} days ({info.not_after:%Y-%m-%d})", renew)
    return None


# -- the machine -------------------------------------------------------------------------------

def check_data_dir(ctx: Context) -> CheckResult:
    name = "data dir"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    device_dir = config.device.data_dir
    path = ctx.path(device_dir)
    if not path.is_dir():
        return fail(name, f"{device_dir} does not exist", "run `kiosk provision` to create it")
    # Asked, not tried: a probe file written and removed would change the data dir (doctor writes nothing).
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        return fail(name, f"{device_dir} is on a file system mounted read-only (the SD card after errors?)",
                    "check the card (`dmesg | grep -i mmc`), then `mount -o remount,rw /` or replace it")
    st = path.stat()
    user = fsops.lookup_user(ctx.root, SERVICE_USER)
    if user is not None and st.st_uid != user.uid:
        return fail(name, f"{device_dir} is owned by {_owner_name(ctx, st.st_uid)}, the service runs "
                    f"as {SERVICE_USER}", f"chown -R {SERVICE_USER}:{SERVICE_USER} {device_dir}")
    if not st.st_mode & stat.S_IWUSR:
        return fail(name, f"{device_dir} is not writable by its owner (mode {stat.filemode(st.st_mode)})",
                    f"chmod u+rwx {device_dir}")
    return ok(name, f"{device_dir} writable")


def check_disk(ctx: Context) -> CheckResult:
    name = "disk space"
    config, _ = ctx.load()
    where = ctx.path(config.device.data_dir) if config else ctx.root
    while not where.exists():
        where = where.parent
    usage = shutil.disk_usage(where)
    free_mb = usage.free / 2**20
    detail = f"{free_mb:,.0f} MB free of {usage.total / 2**20:,.0f} MB"
    fix = "free space: `journalctl --vacuum-size=50M`, remove old files, or use a bigger SD card"
    if usage.free < DISK_FAIL_BYTES:
        return fail(name, detail + " (the journal needs room to stay crash-safe)", fix)
    if usage.free < DISK_WARN_BYTES or usage.free < usage.total * 0.05:
        return warn(name, detail, fix)
    return ok(name, detail)


def _user_groups(ctx: Context) -> set[str]:
    groups = set()
    try:
        for line in ctx.path("/etc/group").read_text().splitlines():
            parts = line.split(":")
            if len(parts) >= 4 and SERVICE_USER in parts[3].split(","):
                groups.add(parts[0])
    except OSError:
        pass
    return groups


def check_reader_device(ctx: Context) -> CheckResult:
    """The device node the reader sits on exists and the service user may open it."""
    name = "reader device"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    from kiosk.reader.drivers import DRIVERS

    driver, port = config.reader.driver, config.reader.port
    spec = DRIVERS[driver]  # the configuration accepts only registered drivers
    if driver == "simulated":
        hardware = "|".join(n for n in DRIVERS if n != "simulated")
        return warn(name, "the simulated reader is configured (no hardware)",
                    f"kiosk provision --reader-driver {hardware} --reader-port PORT")
    if spec.service_socket:
        sock = ctx.path(spec.service_socket)
        daemon = Path(spec.service_socket).stem
        if not sock.exists():
            return fail(name, f"{daemon} is not running (no {spec.service_socket})",
                        spec.service_hint)
        return ok(name, f"{daemon} is running; reader {port or '(first found)'}")
    node = spec.device_node(port)
    if node is None:
        return ok(name, f"{driver} on {port} (USB, found at run time)")
    path = ctx.path(node)
    enable = spec.enable_hint
    if not path.exists():
        return fail(name, f"{node} does not exist", f"{enable}; `kiosk provision --detect` lists "
                    "the readers found")
    st = path.stat()
    if not (stat.S_ISCHR(st.st_mode)):
        return fail(name, f"{node} is not a character device", enable)
    group = _group_name(ctx, st.st_gid)
    if st.st_mode & 0o006 != 0o006 and group not in _user_groups(ctx):
        return fail(name, f"{node} belongs to group {group}, and {SERVICE_USER} is not in it",
                    f"usermod -aG {group} {SERVICE_USER} (provision adds "
                    f"{', '.join(SERVICE_GROUPS)})")
    return ok(name, f"{driver} on {node} (group {group})")


def _group_name(ctx: Context, gid: int) -> str:
    return _name_by_id(ctx, "/etc/group", gid)


def check_broker(ctx: Context) -> CheckResult:
    """TCP, TLS handshake and MQTT CONNECT to HQ's broker, and the broker certificate's expiry."""
    name = "HQ broker"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    from kiosk.doctor import net

    hq = config.hq
    if not hq.host:
        return skip(name, "no HQ configured (standalone kiosk)")
    tls_paths = [ctx.path(p) if p else None for p in (hq.tls_ca, hq.tls_cert, hq.tls_key)]
    try:
        probe = net.probe_broker(hq.host, hq.port, *tls_paths, client_id=config.device.id,
                                 timeout=ctx.timeout)
    except net.ProbeError as exc:
        return fail(name, f"{hq.host}:{hq.port}: {exc.detail}", exc.fix)
    where = f"{hq.host}:{hq.port}"
    if not probe.tls:
        return warn(name, f"{where} reachable, MQTT {probe.mqtt}, but NOT encrypted",
                    "kiosk provision --tls-ca FILE (and use the broker's TLS port)")
    assert probe.server_not_after is not None and probe.server_not_before is not None
    now = ctx.now()
    if probe.server_not_before > now:
        return fail(name, f"{where}: the broker's certificate starts on "
                    f"{probe.server_not_before:%Y-%m-%d}, after this kiosk's clock "
                    f"({now:%Y-%m-%d})", "the kiosk's clock is behind: `timedatectl set-ntp true`")
    days = (probe.server_not_after - now).total_seconds() / 86400
    detail = (f"{where} {probe.tls_version}, MQTT {probe.mqtt}; broker certificate valid until "
              f"{probe.server_not_after:%Y-%m-%d} ({days:.0f} days)")
    if days < CERT_WARN_DAYS:
        return warn(name, detail, "ask HQ to renew the broker's certificate")
    return ok(name, detail)


def check_systemd(ctx: Context, unit: str = "kiosk.service") -> CheckResult:
    name = "systemd unit"
    if shutil.which("systemctl") is None:
        return skip(name, "systemctl is not installed")
    live = Path(ctx.root).resolve() == Path("/") and Path("/run/systemd/system").is_dir()
    base = ["systemctl"] if live else ["systemctl", "--root", str(ctx.root)]
    enabled = subprocess.run([*base, "is-enabled", unit], capture_output=True, text=True)
    said = enabled.stdout.strip() or enabled.stderr.strip()
    state = said.splitlines()[-1] if said else "unknown"
    if enabled.returncode != 0 and state != "enabled":
        if "No such file" in state or state in ("not-found", "unknown"):
            return fail(name, f"{unit} is not installed", "run `kiosk provision`")
        return fail(name, f"{unit} is {state}, not enabled at boot", f"systemctl enable {unit}")
    if not live:
        return ok(name, f"{unit} installed and enabled (systemd not running here: "
                  "active state not checked)")
    show = subprocess.run(["systemctl", "show", unit, "-p", "ActiveState,SubState,NRestarts"],
                          capture_output=True, text=True)
    props = dict(line.split("=", 1) for line in show.stdout.splitlines() if "=" in line)
    active, restarts = props.get("ActiveState", "?"), props.get("NRestarts", "0")
    detail = f"{unit} enabled, {active} ({props.get('SubState', '?')}), {restarts} restarts"
    if active != "active":
        return fail(name, detail, f"journalctl -u {unit} -n 50 shows why; "
                    f"systemctl restart {unit}")
    if restarts.isdigit() and int(restarts) > 0:
        return warn(name, detail, f"it has been restarted: `journalctl -u {unit}` shows why")
    return ok(name, detail)
