"""The kiosk's TLS identity: check the CA, certificate and key a technician brings, or make a
new EC key and a certificate signing request (CSR) for HQ to sign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class TlsFileError(ValueError):
    """A TLS file that cannot be used, with the file and the reason."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TlsFileError(path, "file not found") from None
    except PermissionError:
        raise TlsFileError(path, "permission denied") from None
    except IsADirectoryError:
        raise TlsFileError(path, "is a directory, not a PEM file") from None


def load_certs(path: Path) -> list:
    """Every certificate in a PEM file (a CA bundle may hold several)."""
    from cryptography import x509

    data = _read(path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsFileError(path, "not a PEM certificate") from None
    if not certs:
        raise TlsFileError(path, "holds no certificate")
    return certs


def cert_info(cert) -> CertInfo:
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def load_private_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    data = _read(path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise TlsFileError(path, "not an unencrypted PEM private key") from None


def check_pair(cert_path: Path, key_path: Path) -> CertInfo:
    """The client certificate and key belong together (same public key)."""
    from cryptography.hazmat.primitives import serialization

    cert = load_certs(cert_path)[0]
    key = load_private_key(key_path)
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if cert.public_key().public_bytes(enc, fmt) != key.public_key().public_bytes(enc, fmt):
        raise TlsFileError(key_path, f"does not match the certificate {cert_path}")
    return cert_info(cert)


def new_key_pem() -> bytes:
    """A fresh P-256 key (small, fast on a Pi, accepted by Mosquitto and every TLS stack)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def csr_pem(key_pem: bytes, device_id: str, store_id: str) -> bytes:
    """A CSR naming the kiosk (CN=device id, OU=store id) for HQ's CA to sign."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(key_pem, password=None)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, device_id),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, store_id),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def now_utc() -> datetime:
    return datetime.now(UTC)
