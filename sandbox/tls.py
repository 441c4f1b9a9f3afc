"""The sandbox's own certificate authority and server certificate (made with ``trustme``).

The CA is created once per sandbox home and kept (``ca.pem`` is what clients trust; the key
stays in ``ca-key.pem``, readable by the owner only). The server certificate, for 127.0.0.1,
::1 and localhost, is issued from it at every start. Clients verify against ``ca.pem``;
nothing here, or anywhere in the project, turns certificate checks off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServerCertificate:
    """Paths uvicorn needs (``ssl_certfile`` holds the chain, ``ssl_keyfile`` the key)."""

    ca_path: Path
    cert_chain_path: Path
    key_path: Path


def load_or_create_ca(home: Path) -> trustme.CA:
    """The home's CA, created on first use."""
    cert_path, key_path = home / "ca.pem", home / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    home.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="ats-store-sync sandbox")
    key_path.write_bytes(ca.private_key_pem.bytes())
    key_path.chmod(0o600)
    cert_path.write_bytes(ca.cert_pem.bytes())
    return ca


def issue_server_certificate(home: Path) -> ServerCertificate:
    """Write a fresh server certificate for the loopback names, signed by the home's CA."""
    ca = load_or_create_ca(home)
    leaf = ca.issue_cert(*SERVER_NAMES)
    chain, key = home / "server-chain.pem", home / "server-key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    key.chmod(0o600)
    return ServerCertificate(ca_path=home / "ca.pem", cert_chain_path=chain, key_path=key)
