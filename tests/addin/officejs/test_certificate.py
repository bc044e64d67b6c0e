"""The HTTPS certificate of ``perprisk serve``, checked with cryptography's own path validator
(the web PKI rules browsers apply): made once, valid for localhost and loopback addresses only,
its authority unable to vouch for any other name, the key private to the user, renewed before
it runs out."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from addin.officejs import certificate
from addin.officejs.certificate import ensure_certificate, trust_instructions


def _load(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _verifier(authority: Path, subject: verification.Subject) -> verification.ServerVerifier:
    store = verification.Store(_load(authority))
    return verification.PolicyBuilder().store(store).build_server_verifier(subject)


def test_made_once_then_reused(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path)
    assert first.created
    again = ensure_certificate(tmp_path)
    assert not again.created
    assert again.certificate.read_bytes() == first.certificate.read_bytes()
    if os.name == "posix":
        assert stat.S_IMODE(first.key.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "name",
    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
     x509.IPAddress(ipaddress.ip_address("::1"))],
)
def test_valid_for_this_computer(tmp_path: Path, name: verification.Subject) -> None:
    made = ensure_certificate(tmp_path)
    leaf, *chain = _load(made.certificate)
    _verifier(made.authority, name).verify(leaf, chain)


def test_not_valid_for_another_name(tmp_path: Path) -> None:
    made = ensure_certificate(tmp_path)
    leaf, *chain = _load(made.certificate)
    with pytest.raises(verification.VerificationError):
        _verifier(made.authority, x509.DNSName("example.com")).verify(leaf, chain)


def test_the_authority_cannot_vouch_for_other_names(tmp_path: Path) -> None:
    """Its name constraint permits localhost and loopback only: check what it says."""
    authority = _load(ensure_certificate(tmp_path).authority)[0]
    constraints = authority.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert set(constraints.value.permitted_subtrees or []) == {
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    }
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length \
        == 0
    assert "perprisk" in authority.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_renewed_before_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ensure_certificate(tmp_path)
    leaf = _load(first.certificate)[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=398)
    monkeypatch.setattr(certificate, "RENEW_BEFORE", dt.timedelta(days=400))
    renewed = ensure_certificate(tmp_path)
    assert renewed.created
    assert _load(renewed.certificate)[0].serial_number != leaf.serial_number


def test_trust_instructions_name_the_file_for_mac_and_windows(tmp_path: Path) -> None:
    made = ensure_certificate(tmp_path)
    text = trust_instructions(made.authority)
    assert f'security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ' \
        f'"{made.authority}"' in text
    assert f'certutil -user -addstore Root "{made.authority}"' in text
