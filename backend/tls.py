"""TLS material for a LAN-facing backend: the user's certificate, or one generated here.

``--tls`` serves HTTPS (and MQTT over TLS on the embedded broker) with ``tls_cert_file`` /
``tls_key_file`` when given, else with a self-signed certificate generated once into
``<data_dir>/tls/`` (key 0600) for this machine's host name and addresses. Clients pin or
trust that certificate (``curl --cacert <data_dir>/tls/cert.pem``); its SHA-256 fingerprint
is logged at start so it can be compared out of band.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    generated: bool


def local_names() -> tuple[list[str], list[str]]:
    """DNS names and IP addresses this machine answers to (for the certificate's SAN)."""
    names = {"localhost", socket.gethostname()}
    try:
        names.add(socket.getfqdn())
    except OSError:
        pass
    addresses = {"127.0.0.1", "::1"}
    for name in list(names):
        try:
            for info in socket.getaddrinfo(name, None):
                addresses.add(str(info[4][0]).split("%")[0])
        except OSError:
            continue
    return sorted(n for n in names if n), sorted(addresses)


def self_signed(directory: Path, days: int = 3650) -> TlsFiles:
    """The certificate in ``directory``, generated on first use (kept across restarts)."""
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists():
        return TlsFiles(cert_path, key_path, generated=False)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names, addresses = local_names()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"OTA Desktop backend on {socket.gethostname()}")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(cert_path, key_path, generated=True)


def fingerprint(cert_file: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def tls_files(data_dir: Path, cert_file: str, key_file: str) -> TlsFiles:
    if cert_file or key_file:
        cert, key = Path(cert_file).expanduser(), Path(key_file).expanduser()
        for what, path in (("tls_cert_file", cert), ("tls_key_file", key)):
            if not path.is_file():
                raise FileNotFoundError(f"{what}: {path} does not exist")
        return TlsFiles(cert, key, generated=False)
    return self_signed(data_dir / "tls")
