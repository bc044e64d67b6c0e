"""The HTTPS certificate of ``perprisk serve``: a local certificate authority and a localhost
certificate it signs, made once with ``cryptography`` and kept in the user's state folder.

Office loads add-in files only over HTTPS that the computer trusts, even from localhost. The
user trusts the authority (``perprisk-ca.pem``) once; the server certificate is for
``localhost``, ``127.0.0.1`` and ``::1`` only, and the authority may sign nothing but names
under localhost (a name constraint), so trusting it cannot vouch for any other site.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Certificate", "default_folder", "ensure_certificate", "trust_instructions"]

CA_FILE = "perprisk-ca.pem"
CERT_FILE = "localhost.pem"
KEY_FILE = "localhost-key.pem"
#: Renewed this long before it runs out (browsers refuse server certificates over 398 days).
RENEW_BEFORE = dt.timedelta(days=30)
SERVER_DAYS = 397
CA_DAYS = 3650


@dataclass(frozen=True)
class Certificate:
    """Paths of the authority the user trusts and of the server's certificate and key."""

    authority: Path
    certificate: Path
    key: Path
    created: bool


def default_folder() -> Path:
    """``$XDG_STATE_HOME/perprisk/https`` (``%LOCALAPPDATA%`` on Windows, ``~/Library/Application
    Support`` on macOS)."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif (Path.home() / "Library" / "Application Support").is_dir():
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "perprisk" / "https"


def _name(common: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "perprisk (this computer only)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common),
    ])


def _still_good(path: Path, now: dt.datetime) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    return certificate.not_valid_after_utc - RENEW_BEFORE > now


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def ensure_certificate(folder: Path | None = None) -> Certificate:
    """The certificate files in ``folder``, made (or renewed) when missing or expiring."""
    folder = folder or default_folder()
    paths = (folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)
    now = dt.datetime.now(dt.UTC)
    if all(p.is_file() for p in paths) and all(_still_good(p, now) for p in paths[:2]):
        return Certificate(*paths, created=False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("perprisk local authority")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write_private(paths[2], key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    paths[1].write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    paths[0].write_bytes(ca.public_bytes(pem))
    # The authority's key is not kept: nothing else can ever be signed with it.
    return Certificate(*paths, created=True)


def trust_instructions(authority: Path) -> str:
    """How to make this computer trust ``authority`` (macOS, Windows, and for Node)."""
    return (
        f"Trust the local authority once, so Excel loads the add-in over HTTPS:\n"
        f"  macOS:   sudo security add-trusted-cert -d -r trustRoot -k "
        f"/Library/Keychains/System.keychain \"{authority}\"\n"
        f"  Windows: certutil -user -addstore Root \"{authority}\"   "
        f"(or double-click it > Install Certificate > Current User > Trusted Root "
        f"Certification Authorities)\n"
        f"  Linux browsers: import it as an authority in the browser's certificate settings\n"
        f"It can vouch for localhost only; remove it any time from the same place.\n"
    )
