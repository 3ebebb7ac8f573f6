"""Network probes for the doctor: the HQ broker (TCP, TLS handshake, MQTT CONNECT) and an SNTP
clock comparison. Plain sockets, so each failure can be named at the layer it happened."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CONNACK_CODES = {
    1: "refused: unacceptable protocol version",
    2: "refused: client identifier rejected",
    3: "refused: server unavailable",
    4: "refused: bad user name or password",
    5: "refused: not authorised (check the broker's ACL / certificate mapping for this kiosk)",
}


class ProbeError(Exception):
    """A probe that failed, with the layer (dns, tcp, tls, mqtt) and the fix."""

    def __init__(self, layer: str, detail: str, fix: str):
        self.layer = layer
        self.detail = detail
        self.fix = fix
        super().__init__(f"{layer}: {detail}")


@dataclass(frozen=True)
class BrokerProbe:
    tls: bool
    tls_version: str = ""
    server_not_before: datetime | None = None
    server_not_after: datetime | None = None
    mqtt: str = ""  # "accepted" or "" when MQTT was not tried


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        raise ProbeError("dns", f"cannot resolve {host}: {exc.strerror}",
                         "check hq.host and the kiosk's DNS (/etc/resolv.conf)") from None
    except ConnectionRefusedError:
        raise ProbeError("tcp", f"{host}:{port} refused the connection",
                         "check hq.port and that the broker is running and listening there") \
            from None
    except TimeoutError:
        raise ProbeError("tcp", f"{host}:{port} did not answer within {timeout:.0f}s",
                         "check the network, the firewall, and hq.host/hq.port") from None
    except OSError as exc:
        raise ProbeError("tcp", f"{host}:{port}: {exc.strerror or exc}",
                         "check the network cable / Wi-Fi and the route to HQ") from None


def _tls(sock: socket.socket, host: str, ca: Path, cert: Path | None,
         key: Path | None) -> ssl.SSLSocket:
    try:
        ctx = ssl.create_default_context(cafile=str(ca))
        if cert and key:
            ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError("tls", f"cannot load the TLS files: {exc}",
                         "re-run `kiosk provision` with --tls-ca/--tls-cert/--tls-key") from None
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        message = exc.verify_message or str(exc)
        fix = "check that hq.tls_ca is HQ's CA and hq.host is the name on the broker's certificate"
        if "not yet valid" in message:
            fix = "the kiosk's clock is probably behind: check `timedatectl` and NTP"
        elif "expired" in message:
            fix = ("the broker's certificate expired (or the kiosk's clock is ahead): "
                   "renew it at HQ, check `timedatectl`")
        raise ProbeError("tls", f"server certificate rejected: {message}", fix) from None
    except ssl.SSLError as exc:
        raise ProbeError("tls", f"handshake failed: {exc.reason or exc}",
                         "the broker may not accept this kiosk's client certificate; check it "
                         "was signed by HQ's CA") from None
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise ProbeError("tls", f"handshake failed: {exc}",
                         "the port may not speak TLS (1883 is usually plain MQTT, 8883 TLS)") \
            from None


def mqtt_connect_packet(client_id: str, keepalive: int = 30) -> bytes:
    cid = client_id.encode("utf-8")
    body = (b"\x00\x04MQTT\x04\x02" + struct.pack(">H", keepalive)
            + struct.pack(">H", len(cid)) + cid)
    return b"\x10" + bytes([len(body)]) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


REJECTED_CLIENT = ProbeError(
    "tls", "the broker closed the TLS connection after the handshake: it did not accept this "
    "kiosk's client certificate", "check the client certificate was signed by HQ's CA and is "
    "meant for this broker (`kiosk doctor` TLS files line), or ask HQ to allow it")


def _mqtt(sock: socket.socket, client_id: str) -> str:
    secure = isinstance(sock, ssl.SSLSocket)
    try:
        sock.sendall(mqtt_connect_packet(client_id))
        reply = _recv_exact(sock, 4)
    except (TimeoutError, OSError) as exc:
        if secure and isinstance(exc, ssl.SSLError | ConnectionResetError):
            # TLS 1.3: the server checks the client certificate after the client's handshake
            raise REJECTED_CLIENT from exc
        raise ProbeError("mqtt", f"no CONNACK: {exc}",
                         "the port may not be an MQTT broker, or TLS is required") from None
    if not reply and secure:
        raise REJECTED_CLIENT
    if len(reply) < 4 or reply[0] != 0x20:
        raise ProbeError("mqtt", f"the broker closed the connection (got {reply!r:.30})",
                         "the broker may require TLS or a client certificate for this port")
    code = reply[3]
    if code:
        raise ProbeError("mqtt", CONNACK_CODES.get(code, f"refused with code {code}"),
                         "ask HQ to allow this kiosk's id and certificate on the broker")
    try:
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        pass
    return "accepted"


def probe_broker(host: str, port: int, ca: Path | None, cert: Path | None, key: Path | None,
                 client_id: str, timeout: float = 5.0) -> BrokerProbe:
    """Connect as HQ's broker sees a kiosk: TCP, then TLS (when a CA is set), then MQTT CONNECT.

    The client id gets a "-doctor" suffix so the probe never kicks the running kiosk's session."""
    sock = _connect(host, port, timeout)
    try:
        if ca is None:
            return BrokerProbe(tls=False, mqtt=_mqtt(sock, f"{client_id}-doctor"))
        tsock = _tls(sock, host, ca, cert, key)
        sock = tsock
        from cryptography import x509

        server = x509.load_der_x509_certificate(tsock.getpeercert(binary_form=True))
        mqtt = _mqtt(tsock, f"{client_id}-doctor")
        return BrokerProbe(tls=True, tls_version=tsock.version() or "",
                           server_not_before=server.not_valid_before_utc,
                           server_not_after=server.not_valid_after_utc, mqtt=mqtt)
    finally:
        sock.close()


NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def sntp_time(server: str, port: int = 123, timeout: float = 2.0) -> float:
    """The server's time (Unix seconds) at the moment this returns, from one SNTP v4 exchange,
    corrected by half the round trip."""
    addr = socket.getaddrinfo(server, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(addr[0], socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        t0 = time.monotonic()
        sock.sendto(b"\x23" + bytes(47), addr[4])
        data, _ = sock.recvfrom(512)
        rtt = time.monotonic() - t0
    return parse_sntp_reply(data) + rtt / 2


def parse_sntp_reply(data: bytes) -> float:
    """The transmit time (Unix seconds) of an SNTP server reply; ValueError for anything else."""
    if len(data) < 48 or data[0] & 0x07 != 4:
        raise ValueError("not an NTP server reply")
    if data[0] >> 6 == 3 or data[1] == 0:
        raise ValueError("NTP server is not synchronised (leap indicator 3 / stratum 0)")
    secs, frac = struct.unpack(">II", data[40:48])
    if secs == 0:
        raise ValueError("NTP server sent no time")
    return secs - NTP_EPOCH_OFFSET + frac / 2**32


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
