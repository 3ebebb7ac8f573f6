"""A private Mosquitto broker in a directory of its own: free port on 127.0.0.1, its own config,
password file and ACL, for `kiosk demo`, the benchmarks and the tests (never the system's broker).

Devices may publish only to their own kiosk->HQ topics (docs/protocol.md, "Broker access
control"); the `hq` user reads and writes everything under kiosk/v1. With tls=True the
listener wants a client certificate signed by a throwaway CA (made with `cryptography`)."""

from __future__ import annotations

import base64
import getpass
import hashlib
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.sync.topics import UP, DeviceTopics

DEFAULT_DEVICES = (("S1", "D1"), ("S1", "D2"), ("S2", "D3"))
HQ_USER = "hq"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PORTS_FROM = 20000  # free_port's range starts here and ends below the ephemeral ports


def available() -> bool:
    """Is a mosquitto binary installed (Debian package `mosquitto`)?"""
    return Path(MOSQUITTO).exists()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range. A port from that range
    (what binding port 0 gives) can be handed to a client as its own source port: a client that
    keeps reconnecting to a stopped server there may connect to itself (TCP simultaneous open)
    and hold the port, so the server cannot come back on it (seen: a test's broker restart
    failing, the kiosk logging "Protocol error" as it read its own CONNECT)."""
    below = _ephemeral_start()
    for _ in range(200):
        port = random.randint(PORTS_FROM, below - 1)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # that whole range taken: any free port rather than none
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ephemeral_start() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return max(low, PORTS_FROM + 1000)


def _password_line(user: str, password: str) -> str:
    """Mosquitto 2 password file format: PBKDF2-SHA512, 101 rounds, base64 salt and hash."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"{user}:$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


def device_acl(store: str, device: str) -> str:
    topics = DeviceTopics(store, device)
    lines = [f"user {device}"]
    lines += [f"topic write {topics.topic(name)}" for name in UP]
    lines += [f"topic read {topics.base}/#", f"topic read kiosk/v1/{store}/_store/#", "topic read kiosk/v1/_chain/#"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_certs: dict[str, tuple[Path, Path]]  # user -> (cert, key)


def make_tls_files(directory: Path, users: list[str]) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1/localhost, and one client certificate per user."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def write_key(path: Path, key) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def issue(name: str, key, issuer_name, issuer_key, ca: bool, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk test CA")])
    ca_cert = issue("kiosk test CA", ca_key, ca_name, ca_key, ca=True)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    server_key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_cert = issue("localhost", server_key, ca_name, ca_key, ca=False, san=san)
    (directory / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    write_key(directory / "server.key", server_key)

    clients = {}
    for user in users:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue(user, key, ca_name, ca_key, ca=False)
        cert_path, key_path = directory / f"{user}.pem", directory / f"{user}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key_path, key)
        clients[user] = (cert_path, key_path)
    return TlsFiles(ca_path, directory / "server.pem", directory / "server.key", clients)


class MosquittoBroker:
    """One mosquitto process; start/stop/kill/restart keep the same port and files."""

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        devices=DEFAULT_DEVICES,
        tls: bool = False,
        identity_as_username: bool = False,
        persistence: bool = False,
        extra_config: str = "",
        port: int | None = None,
        bind_client_ids: bool = False,
    ):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.devices = {device: store for store, device in devices}
        self.port = port or free_port()
        # bind_client_ids: kiosks connect on `port`, where the client id is forced to the user name
        # (a device's credentials can never take over another device's session); HQ, whose several
        # processes share one user, connects on its own listener `hq_port`, open to the hq user only.
        self.bind_client_ids = bind_client_ids
        self.hq_port = free_port() if bind_client_ids else self.port
        self.persistence = persistence
        self.passwords = {user: secrets.token_urlsafe(12) for user in [HQ_USER, *self.devices]}
        self.tls = make_tls_files(self.dir, list(self.passwords)) if tls or identity_as_username else None
        self.identity_as_username = identity_as_username  # the certificate's CN is the user: no passwords
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "mosquitto.log"
        self._write_files(extra_config)

    def _write_files(self, extra_config: str) -> None:
        files = {"passwd": list(self.passwords)}
        if self.bind_client_ids:
            files = {"passwd": [u for u in self.passwords if u != HQ_USER], "passwd.hq": [HQ_USER]}
        for name, users in files.items():
            (self.dir / name).write_text("".join(_password_line(u, self.passwords[u]) for u in users))
            (self.dir / name).chmod(0o600)
        acl = [f"user {HQ_USER}\ntopic readwrite kiosk/v1/#\n"]
        acl += [device_acl(store, device) for device, store in self.devices.items()]
        (self.dir / "acl").write_text("\n".join(acl))
        (self.dir / "acl").chmod(0o600)
        conf = [
            f"per_listener_settings {'true' if self.bind_client_ids else 'false'}",
            "set_tcp_nodelay true",  # small request/response messages: no Nagle wait (member fetch)
            f"user {getpass.getuser()}",  # as root mosquitto would switch to `mosquitto` and lose the files
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "max_queued_messages 100000",
        ]
        conf += self._listener(self.port, "passwd")
        if self.bind_client_ids:
            conf.append("use_username_as_clientid true")
            conf += self._listener(self.hq_port, "passwd.hq")
        (self.dir / "mosquitto.conf").write_text("\n".join(conf) + "\n" + extra_config + "\n")

    def _listener(self, port: int, password_file: str) -> list[str]:
        lines = [
            f"listener {port} {self.host}",
            "allow_anonymous false",
            f"password_file {self.dir / password_file}",
            f"acl_file {self.dir / 'acl'}",
        ]
        if self.tls:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "require_certificate true",
                f"use_identity_as_username {'true' if self.identity_as_username else 'false'}",
            ]
        return lines

    # -- process control
    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "ab"),  # noqa: SIM115 - the child holds it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.dir / 'stderr.log').read_text()[-2000:]}")
            try:
                for port in {self.port, self.hq_port}:
                    socket.create_connection((self.host, port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        """Graceful stop: mosquitto saves its persistence file (if enabled)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: like a power cut of the broker's machine; unsaved state is lost."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> MosquittoBroker:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- clients
    def password(self, user: str) -> str:
        return self.passwords[user]

    def store_of(self, device: str) -> str:
        return self.devices[device]

    def client(self, user: str, client_id: str | None = None, clean_start: bool = True, timeout: float = 5.0):
        """A connected paho-mqtt (MQTT 5) client logged in as `user`, its network loop running."""
        import threading

        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"{user}-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
        )
        if not self.identity_as_username:
            client.username_pw_set(user, self.passwords[user])
        if self.tls:
            cert, key = self.tls.client_certs[user]
            client.tls_set(ca_certs=str(self.tls.ca), certfile=str(cert), keyfile=str(key))
        connected = threading.Event()
        result = {}

        def on_connect(c, userdata, flags, reason_code, properties):
            result["rc"] = reason_code
            connected.set()

        client.on_connect = on_connect
        port = self.hq_port if user == HQ_USER else self.port
        client.connect(self.host, port, keepalive=30, clean_start=clean_start)
        client.loop_start()
        if not connected.wait(timeout) or result["rc"].is_failure:
            client.loop_stop()
            raise ConnectionError(f"{user} could not connect: {result.get('rc')}")
        client.on_connect = None
        return client
