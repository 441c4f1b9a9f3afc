"""TLS trust: the sandbox CA is honoured despite REQUESTS_CA_BUNDLE, and nothing turns verification off."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import trustme

from connectors.http import make_session
from sandbox.server import SandboxServer


def test_pinned_session_trusts_the_sandbox_ca_even_when_the_environment_names_another_bundle(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "corporate.pem"
    other.write_bytes(trustme.CA().cert_pem.bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    url = f"{sandbox.org.base_url}/__sandbox/counters"
    # A plain session with verify set is overridden by the environment (requests #3829) ...
    plain = requests.Session()
    plain.verify = str(sandbox.certificate.ca_path)
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(url, timeout=10)
    # ... the pinned session is not.
    assert make_session(sandbox.certificate.ca_path).get(url, timeout=10).status_code == 200


def test_a_certificate_the_client_does_not_trust_fails_clearly(sandbox: SandboxServer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(trustme.CA().cert_pem.bytes())
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        make_session(stranger).get(f"{sandbox.store.base_url}/__sandbox/counters", timeout=10)


def test_verification_cannot_be_switched_off(sandbox: SandboxServer) -> None:
    session = make_session(sandbox.certificate.ca_path)
    with pytest.raises(ValueError, match="cannot be disabled"):
        session.get(f"{sandbox.store.base_url}/__sandbox/counters", verify=False, timeout=10)


def test_a_missing_ca_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_session(tmp_path / "nope.pem")


def test_the_ca_survives_a_restart_and_certificates_cover_loopback_names(sandbox: SandboxServer) -> None:
    from cryptography import x509

    chain = x509.load_pem_x509_certificates(sandbox.certificate.cert_chain_path.read_bytes())
    names = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    ca_before = sandbox.certificate.ca_path.read_bytes()
    from sandbox.tls import issue_server_certificate

    issue_server_certificate(sandbox.config.home)
    assert sandbox.certificate.ca_path.read_bytes() == ca_before
