"""A real SMTP server on loopback (aiosmtpd) with STARTTLS/implicit TLS, AUTH and a test CA.

The CA and the server certificate are made here with ``cryptography`` when it is installed,
otherwise with the openssl command line; nothing is trusted from the system store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "alerts", "s3cret-Pa55"


@dataclass
class CertAuthority:
    """PEM files of a throw-away CA and of a server certificate it signed for 127.0.0.1."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.server_cert, self.server_key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _make_ca_cryptography(folder: Path) -> CertAuthority:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "perprisk test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = CertAuthority(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    paths.server_cert.write_bytes(cert.public_bytes(pem))
    paths.server_key.write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def _make_ca_openssl(folder: Path) -> CertAuthority:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=perprisk test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (folder / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf")
    return CertAuthority(folder / "ca.pem", folder / "server.pem", folder / "server.key")


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    folder = tmp_path_factory.mktemp("ca")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("needs the cryptography package or the openssl command")
        return _make_ca_openssl(folder)
    return _make_ca_cryptography(folder)


def free_port() -> int:
    # Controller cannot take port=0: it connects to its own port to check it started.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    """Keeps accepted envelopes; ``script`` lists what to do for each DATA in turn.

    "ok" accepts, "451"/"550" answer that code, any other "NNN text" answers exactly that,
    "drop" closes the connection without answering after the whole message arrived (the client
    never hears 250: it cannot know whether the message was taken).
    """

    script: list[str] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    data_calls: int = 0
    refuse: set[str] = field(default_factory=set)  # recipients answered 550 at RCPT
    defer: dict[str, int] = field(default_factory=dict)  # recipient -> 451 at RCPT this often
    rcpt_calls: list[str] = field(default_factory=list)
    seen: list[bytes] = field(default_factory=list)  # every message that reached DATA's end

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        self.rcpt_calls.append(address)
        if address in self.refuse:
            return "550 5.1.1 No such user"
        if self.defer.get(address, 0) > 0:
            self.defer[address] -= 1
            return "451 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        self.seen.append(bytes(envelope.original_content))
        action = self.script.pop(0) if self.script else "ok"
        if action == "451":
            return "451 4.3.0 Try again later"
        if action == "550":
            return "550 5.7.1 Delivery not authorised"
        if action[:3].isdigit() and action[3:4] == " ":
            return action
        if action == "drop":
            server.transport.close()
            await asyncio.sleep(0)
            return "250 never seen"
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = (isinstance(data, LoginPassword)
          and (data.login, data.password) == (USER.encode(), PASSWORD.encode()))
    return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    controller: Controller
    sink: Sink
    ca: CertAuthority

    @property
    def port(self) -> int:
        return int(self.controller.port)


def start_server(ca: CertAuthority, *, implicit_tls: bool = False, port: int | None = None,
                 sink: Sink | None = None, auth: Any = authenticator) -> Server:
    sink = sink or Sink()
    options: dict[str, Any] = {"authenticator": auth, "auth_required": True}
    if implicit_tls:
        options["ssl_context"] = ca.server_context()
        # aiosmtpd only counts STARTTLS as TLS for AUTH; here the whole session is TLS.
        options["auth_require_tls"] = False
    else:
        options.update(tls_context=ca.server_context(), require_starttls=True)
    controller = Controller(sink, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    return Server(controller, sink, ca)


@pytest.fixture
def smtp_server(test_ca: CertAuthority) -> Iterator[Server]:
    server = start_server(test_ca)
    yield server
    server.controller.stop()


@pytest.fixture
def smtps_server(test_ca: CertAuthority) -> Iterator[Server]:
    server = start_server(test_ca, implicit_tls=True)
    yield server
    server.controller.stop()
