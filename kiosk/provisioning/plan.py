"""The provisioning run: check every answer and file first, then do the steps in an order that
keeps the device consistent, writing the configuration last.

The configuration file is the commit point. Everything before it (user, directories, secrets,
TLS files, units) is idempotent and harmless on its own, so a run that fails midway leaves the
previous kiosk.toml in place, and the next run picks up where this one stopped."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.app.config import ConfigError, parse_config
from kiosk.provisioning import config_merge, detect, fsops, masterkey, system, tls
from kiosk.provisioning.answers import Answers, flag
from kiosk.provisioning.system import SERVICE_USER, Outcome, StepFailed

CONFIG_PATH = "/etc/kiosk/kiosk.toml"
CONFIG_DIR = "/etc/kiosk"
MASTER_KEY_PATH = "/etc/kiosk/card_master.key"
PEPPER_PATH = "/etc/kiosk/pin_pepper"
TLS_DIR = "/etc/kiosk/tls"
CA_PATH = f"{TLS_DIR}/ca.pem"
CERT_PATH = f"{TLS_DIR}/client.pem"
KEY_PATH = f"{TLS_DIR}/client.key"
CSR_PATH = f"{TLS_DIR}/client.csr"


class ProvisionError(ValueError):
    """An answer or input file that cannot be used; nothing has been changed yet.
    `answer` names the answer to ask again for, when one is to blame."""

    def __init__(self, message: str, answer: str = ""):
        super().__init__(message)
        self.answer = answer


@dataclass(frozen=True)
class FileWrite:
    path: str  # as seen on the device
    data: bytes
    mode: int
    owner: str  # "root" or "kiosk" (the group is always the kiosk group when it exists)
    secret: bool = False


@dataclass
class Plan:
    root: Path
    answers: Answers
    config_toml: bytes
    kiosk_cmd: str
    files: list[FileWrite] = field(default_factory=list)
    generate_tls_key: bool = False
    units: list[str] = field(default_factory=lambda: ["kiosk.service"])
    notes: list[str] = field(default_factory=list)
    config_changes: list[str] = field(default_factory=list)  # what this run changes in kiosk.toml


def default_kiosk_cmd() -> str:
    found = shutil.which("kiosk")
    return found if found else f"{sys.executable} -m kiosk"


def _installed(root: Path, path: str) -> bool:
    return fsops.under(root, path).is_file()


def config_dict(a: Answers, root: Path, tls_ca: bool, tls_client: bool,
                master_key: bool, pepper: bool) -> dict:
    device = {"id": a.device_id, "store": a.store_id, "data_dir": a.data_dir,
              "locale": a.locale, "screen": a.screen, "rotation": a.rotation}
    if a.role != "kiosk":
        device["role"] = a.role
    data: dict = {"device": device, "reader": {"driver": a.reader_driver or "simulated"}}
    if a.reader_port:
        data["reader"]["port"] = a.reader_port
    if a.hq_host:
        hq: dict = {"host": a.hq_host, "port": a.hq_port or (8883 if tls_ca else 1883)}
        if tls_ca:
            hq["tls_ca"] = CA_PATH
        if tls_client:
            hq["tls_cert"] = CERT_PATH
            hq["tls_key"] = KEY_PATH
        data["hq"] = hq
    secrets: dict = {"card_system_id": a.card_system_id}
    if master_key:
        secrets["card_master_key_file"] = MASTER_KEY_PATH
    if pepper:
        secrets["pin_pepper_file"] = PEPPER_PATH
    data["secrets"] = secrets
    if a.rules_file:
        data["rules"] = {"file": a.rules_file}
    if a.till_port:
        data["till"] = {"enabled": True, "host": "0.0.0.0", "port": a.till_port}
        if tls_client:  # HTTPS with the kiosk's own certificate: a till checks it against HQ's CA
            data["till"].update(tls_cert=CERT_PATH, tls_key=KEY_PATH)
    return data


def _read_input(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ProvisionError(f"{what} {path}: file not found") from None
    except PermissionError:
        raise ProvisionError(f"{what} {path}: permission denied") from None
    except IsADirectoryError:
        raise ProvisionError(f"{what} {path}: is a directory") from None


def build(a: Answers, root: Path, kiosk_cmd: str | None = None, hq_server: bool = False,
          check_port: bool = True) -> Plan:
    """Check every answer and input file; raise ProvisionError before anything is touched."""
    if not a.device_id:
        raise ProvisionError(f"{flag('device_id')} is required (or device_id in the answers "
                             "file)", "device_id")
    if not a.store_id:
        raise ProvisionError(f"{flag('store_id')} is required (or store_id in the answers file)",
                             "store_id")
    files: list[FileWrite] = []
    notes: list[str] = []

    if a.card_master_key:
        try:
            key = masterkey.read_master_key(Path(a.card_master_key))
        except masterkey.KeyFileError as exc:
            raise ProvisionError(f"{flag('card_master_key')}: {exc}", "card_master_key") from None
        # 32 hex digits and a newline: the form kiosk.reader.keys.SiteKeys.write_new makes
        files.append(FileWrite(MASTER_KEY_PATH, key.hex().encode() + b"\n", 0o600, SERVICE_USER,
                               secret=True))
    have_key = bool(a.card_master_key) or _installed(root, MASTER_KEY_PATH)
    if not have_key:
        notes.append("no card master key yet: cards cannot be issued or read until you re-run "
                     f"with {flag('card_master_key')} FILE")
    if a.pin_pepper:
        pepper = _read_input(a.pin_pepper, flag("pin_pepper"))
        if len(pepper) < 16:
            raise ProvisionError(f"{flag('pin_pepper')} {a.pin_pepper}: must hold at least "
                                 "16 bytes")
        files.append(FileWrite(PEPPER_PATH, pepper, 0o600, SERVICE_USER, secret=True))
    have_pepper = bool(a.pin_pepper) or _installed(root, PEPPER_PATH)

    tls_ca = bool(a.tls_ca) or _installed(root, CA_PATH)
    if a.tls_ca:
        try:
            tls.load_certs(Path(a.tls_ca))
        except tls.TlsFileError as exc:
            raise ProvisionError(f"{flag('tls_ca')}: {exc}", "tls_ca") from None
        files.append(FileWrite(CA_PATH, _read_input(a.tls_ca, flag("tls_ca")), 0o644, "root"))
    key_src = a.tls_key or (str(fsops.under(root, KEY_PATH)) if _installed(root, KEY_PATH) else "")
    generate = bool(a.hq_host) and tls_ca and not key_src
    if a.tls_key:
        try:
            tls.load_private_key(Path(a.tls_key))
        except tls.TlsFileError as exc:
            raise ProvisionError(f"{flag('tls_key')}: {exc}") from None
        files.append(FileWrite(KEY_PATH, _read_input(a.tls_key, flag("tls_key")), 0o600,
                               SERVICE_USER, secret=True))
        if not a.tls_cert and _installed(root, CERT_PATH):
            try:
                tls.check_pair(fsops.under(root, CERT_PATH), Path(a.tls_key))
            except tls.TlsFileError:
                raise ProvisionError(f"{flag('tls_key')} {a.tls_key}: does not match the "
                                     f"installed certificate {CERT_PATH}; give its "
                                     f"{flag('tls_cert')} too", "tls_key") from None
    if a.tls_cert:
        if not key_src:
            raise ProvisionError(f"{flag('tls_cert')} needs its key: give {flag('tls_key')}, or "
                                 "first run without a certificate to make a key and a CSR")
        try:
            info = tls.check_pair(Path(a.tls_cert), Path(key_src))
        except tls.TlsFileError as exc:
            raise ProvisionError(f"{flag('tls_cert')}: {exc}", "tls_cert") from None
        if info.not_after < tls.now_utc():
            raise ProvisionError(f"{flag('tls_cert')} {a.tls_cert}: expired on "
                                 f"{info.not_after:%Y-%m-%d}")
        files.append(FileWrite(CERT_PATH, _read_input(a.tls_cert, flag("tls_cert")), 0o644,
                               "root"))
    tls_client = bool(a.tls_cert) or (_installed(root, CERT_PATH) and bool(key_src))
    if a.hq_host and tls_ca and not tls_client:
        notes.append(f"no client certificate yet: send {CSR_PATH} to HQ, then re-run with "
                     f"{flag('tls_cert')} FILE")
    if a.hq_host and not tls_ca:
        notes.append(f"HQ link without TLS: give {flag('tls_ca')} to encrypt it")
    if a.till_port and not tls_client:
        notes.append(f"till API on port {a.till_port} without TLS until this kiosk has its certificate "
                     f"({flag('tls_cert')}); then re-run to serve HTTPS")

    node = detect.device_node(a.reader_driver, a.reader_port)
    if check_port and node and not Path(node).exists():
        raise ProvisionError(f"{flag('reader_port')} {a.reader_port or '(default)'}: no such "
                             f"device {node} (is the reader wired and its bus enabled? "
                             "`kiosk provision --detect` lists what is there)", "reader_port")
    if a.rules_file and not fsops.under(root, a.rules_file).is_file():
        notes.append(f"rules file {a.rules_file} is not there yet")

    try:
        existing = config_merge.read_existing(fsops.under(root, CONFIG_PATH), CONFIG_PATH)
    except config_merge.ExistingConfigError as exc:
        raise ProvisionError(str(exc)) from None
    text = config_merge.merged(existing, config_dict(a, root, tls_ca, tls_client, have_key, have_pepper))
    data = tomllib.loads(text)  # checked as it will be read: what is written is what was checked
    try:
        parse_config(data, fsops.under(root, CONFIG_PATH))
    except ConfigError as exc:
        section, _, key = exc.field.partition(".")
        if key not in config_merge.OWNED.get(section, ()):
            raise ProvisionError(f"{exc}: a setting added by hand, which provision keeps as it is; "
                                 f"fix it in {CONFIG_PATH} and run again") from None
        answer = _answer_for(exc.field)
        raise ProvisionError(f"{exc} (check {flag(answer)})", answer) from None
    units = ["kiosk.service"] + (HQ_UNITS if hq_server else [])
    return Plan(root=Path(root), answers=a, config_toml=text.encode(),
                kiosk_cmd=kiosk_cmd or default_kiosk_cmd(), files=files,
                generate_tls_key=generate, units=units, notes=notes,
                config_changes=config_merge.changes(tomllib.loads(existing), data) if existing else [])


HQ_UNITS = ["kiosk-hq.service", "kiosk-hq-console.service"]  # the receiver and the console beside it


def _answer_for(config_field: str) -> str:
    return {"device.id": "device_id", "device.store": "store_id", "device.data_dir": "data_dir",
            "device.locale": "locale", "device.screen": "screen", "device.rotation": "rotation",
            "reader.driver": "reader_driver", "reader.port": "reader_port",
            "hq.host": "hq_host", "hq.port": "hq_port",
            "secrets.card_system_id": "card_system_id", "device.role": "role",
            "till.port": "till_port"}.get(config_field, config_field)


# -- execution --------------------------------------------------------------------------------

class Runner:
    """Does (or, dry, describes) each step and prints one line per outcome."""

    def __init__(self, plan: Plan, dry_run: bool, write: Callable[[str], None]):
        self.plan = plan
        self.dry = dry_run
        self.write = write
        self.can_chown = os.geteuid() == 0

    def owner(self, name: str) -> fsops.Owner | None:
        if not self.can_chown:
            return None
        kiosk = fsops.lookup_user(self.plan.root, SERVICE_USER)
        if name == SERVICE_USER and kiosk is not None:
            return kiosk
        return fsops.Owner(0, kiosk.gid if kiosk else 0)

    def report(self, outcome: Outcome) -> None:
        label = {"would": "dry-run"}.get(outcome.result, outcome.result)
        self.write(f"  [{label}] {outcome.detail}")

    def file(self, fw: FileWrite) -> Outcome:
        path = fsops.under(self.plan.root, fw.path)
        desc = f"{fw.path} (mode {fw.mode:o}, owner {fw.owner})"
        if self.dry:
            same = fsops.matches(path, fw.data, fw.mode, self.owner(fw.owner))
            return Outcome("unchanged" if same else "would",
                           desc if same else f"{'update' if path.exists() else 'write'} {desc}")
        return Outcome(fsops.atomic_write(path, fw.data, fw.mode, self.owner(fw.owner)), desc)

    def directory(self, dev_path: str, mode: int, owner: str) -> Outcome:
        path = fsops.under(self.plan.root, dev_path)
        desc = f"{dev_path}/ (mode {mode:o}, owner {owner})"
        if self.dry:
            return Outcome("unchanged", desc) if path.is_dir() else Outcome("would",
                                                                            f"create {desc}")
        return Outcome(fsops.ensure_dir(path, mode, self.owner(owner)), desc)

    def steps(self) -> list[tuple[str, Callable[[], list[Outcome]]]]:
        p, a = self.plan, self.plan.answers
        return [
            ("service user", lambda: system.ensure_user(p.root, a.data_dir, self.dry)),
            ("directories", lambda: [self.directory(CONFIG_DIR, 0o750, "root"),
                                     self.directory(TLS_DIR, 0o750, "root"),
                                     self.directory(a.data_dir, 0o750, SERVICE_USER)]),
            ("secrets and certificates", self.secrets),
            ("systemd units", self.units),
            ("Raspberry Pi settings", lambda: system.pi_settings(
                p.root, a.reader_driver, a.reader_port, a.rotation, self.dry)),
            ("configuration", lambda: [self.file(FileWrite(CONFIG_PATH, p.config_toml, 0o640,
                                                           "root"))]),
        ]

    def secrets(self) -> list[Outcome]:
        out = [self.file(fw) for fw in self.plan.files]
        key_path = fsops.under(self.plan.root, KEY_PATH)
        if self.plan.generate_tls_key:
            if self.dry:
                out.append(Outcome("would", f"generate an EC P-256 key {KEY_PATH} and a CSR "
                                            f"{CSR_PATH}"))
            else:
                key = tls.new_key_pem()
                out.append(Outcome(fsops.atomic_write(key_path, key, 0o600,
                                                      self.owner(SERVICE_USER)),
                                   f"{KEY_PATH} (new EC P-256 key, mode 600)"))
        csr_path = fsops.under(self.plan.root, CSR_PATH)
        wants_csr = self.plan.answers.hq_host and not fsops.under(
            self.plan.root, CERT_PATH).exists() and not self.plan.answers.tls_cert
        if wants_csr and key_path.is_file() and not csr_path.exists() and not self.dry:
            csr = tls.csr_pem(key_path.read_bytes(), self.plan.answers.device_id,
                              self.plan.answers.store_id)
            out.append(Outcome(fsops.atomic_write(csr_path, csr, 0o644, self.owner("root")),
                               f"{CSR_PATH} (send it to HQ to be signed)"))
        return out

    def units(self) -> list[Outcome]:
        a = self.plan.answers
        src = system.units_source()
        out = []
        for name in self.plan.units:
            text = system.render_unit((src / name).read_text(), self.plan.kiosk_cmd, a.data_dir,
                                      a.reader_driver, a.reader_port)
            out.append(system.install_unit(self.plan.root, name, text, self.dry))
        for name in self.plan.units:
            out.append(system.enable_unit(self.plan.root, name, self.dry))
        return out

    def run(self) -> int:
        """Do every step; 0 when all went through, 1 at the first failure."""
        changes = 0
        for title, step in self.steps():
            self.write(f"== {title}")
            try:
                for outcome in step():
                    self.report(outcome)
                    changes += outcome.result in ("created", "updated", "would")
            except (StepFailed, OSError) as exc:
                self.write(f"  [failed] {exc}")
                self.write(f"provisioning stopped at '{title}'; {CONFIG_PATH} was not changed. "
                           "Fix the cause and run `kiosk provision` again.")
                return 1
        if self.plan.config_changes:  # a re-run: what it set, and what it kept of the file
            self.write(f"== {CONFIG_PATH}: {'would change' if self.dry else 'changed'}")
            for line in self.plan.config_changes:
                self.write(f"  {line}")
        if self.dry:
            self.write(f"== {CONFIG_PATH} would read:")
            self.write(self.plan.config_toml.decode().rstrip())
        for note in self.plan.notes:
            self.write(f"note: {note}")
        a = self.plan.answers
        if self.dry:
            self.write(f"dry run: {changes} change(s) would be made")
        elif changes:
            self.write(f"provisioned kiosk {a.device_id} (store {a.store_id}): {changes} "
                       "change(s). Next: `kiosk doctor`; then `systemctl restart kiosk` to "
                       "apply a changed configuration to a running kiosk")
        else:
            self.write(f"kiosk {a.device_id} was already provisioned this way: nothing changed")
        return 0
