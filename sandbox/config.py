"""Sandbox settings (from ``SANDBOX_*`` environment variables) and its generated credentials.

The credentials are random per sandbox home and kept in ``<home>/credentials.json`` so that a
restarted sandbox accepts the same secrets; nothing secret is a constant in the repository.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandbox.faults import FaultSettings

API_VERSION = "59.0"  # simple-salesforce's default; the org answers any vNN.N


class SandboxConfig(BaseSettings):
    """How to run the local store and org (every field has a ``SANDBOX_`` environment variable)."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(Path(".sandbox"), description="data, certificates, credentials, pid and log")
    host: str = "127.0.0.1"
    store_port: int = Field(9443, description="BigCommerce store; 0 picks a free port")
    org_port: int = Field(9444, description="Salesforce org; 0 picks a free port")
    store_hash: str = "atsstore"
    # BigCommerce Standard/Plus plans: 150 requests per 30 s per store, shared by every app.
    rate_limit_quota: int = Field(150, ge=1)
    rate_limit_window_ms: int = Field(30_000, ge=1)
    # Salesforce
    session_lifetime_seconds: int = Field(7200, ge=1)
    daily_api_limit: int = Field(100_000, ge=1)
    query_batch_size: int = Field(2000, ge=200, le=2000)
    bulk_rows_per_tick: int = Field(5000, ge=1, description="how fast a Bulk 2.0 job progresses")
    store_faults: FaultSettings = Field(default_factory=FaultSettings)
    org_faults: FaultSettings = Field(default_factory=FaultSettings)

    @property
    def ca_path(self) -> Path:
        return self.home / "ca.pem"

    @property
    def store_db(self) -> Path:
        return self.home / "store.sqlite"

    @property
    def org_db(self) -> Path:
        return self.home / "org.sqlite"

    @property
    def credentials_path(self) -> Path:
        return self.home / "credentials.json"

    @property
    def jwt_key_path(self) -> Path:
        return self.home / "jwt-private-key.pem"

    @property
    def state_path(self) -> Path:
        """Written by a running sandbox: pid, URLs."""
        return self.home / "sandbox.json"


class SandboxCredentials(BaseModel):
    """Secrets the sandbox accepts; generated once per home."""

    bc_access_token: str
    sf_username: str = "integration@ats-store.sandbox"
    sf_password: str
    sf_security_token: str
    sf_consumer_key: str
    sf_consumer_secret: str
    jwt_public_key_pem: str

    @classmethod
    def load_or_create(cls, config: SandboxConfig) -> SandboxCredentials:
        """Read ``credentials.json`` or generate fresh secrets (and the JWT key pair) into it."""
        path = config.credentials_path
        if path.exists():
            return cls.model_validate_json(path.read_text())
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        config.home.mkdir(parents=True, exist_ok=True)
        config.jwt_key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        config.jwt_key_path.chmod(0o600)
        creds = cls(
            bc_access_token=secrets.token_hex(16),
            sf_password=secrets.token_urlsafe(12),
            sf_security_token=secrets.token_hex(12),
            sf_consumer_key="3MVG9" + secrets.token_urlsafe(30),
            sf_consumer_secret=secrets.token_hex(32),
            jwt_public_key_pem=key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
        )
        path.write_text(json.dumps(creds.model_dump(), indent=2))
        path.chmod(0o600)
        return creds
