"""The pipeline's settings, from environment variables (``ATS_*``) and a ``.env`` file.

Groups: ``ATS_BC_*`` for the BigCommerce store, ``ATS_SF_*`` for the Salesforce org, ``ATS_*``
for the rest. ``ATS_TARGET=sandbox`` points everything at the running local sandbox
(``store-sync sandbox start``): its URLs, CA and generated credentials fill in whatever is not
set explicitly. Production and sandbox then run the very same code; only these values differ.

Secrets are ``SecretStr``: they print as ``**********`` in logs, reprs and artifacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SalesforceAuth = Literal["password", "client_credentials", "jwt"]


class BigCommerceSettings(BaseSettings):
    """How to reach the store (an API account with read-only Customers and Orders scopes)."""

    model_config = SettingsConfigDict(env_prefix="ATS_BC_", env_file=".env", extra="ignore")

    api_url: str = Field("", description="https://api.bigcommerce.com/stores/{store_hash}/")
    access_token: SecretStr = SecretStr("")
    ca_bundle: Path | None = Field(None, description="extra CA bundle to verify TLS against (never off)")
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    page_size: int = Field(250, ge=1, le=250)
    # One: a window too large for lanes (a backfill) is read while its batches are worked on, and
    # each page read ahead is alive past its batch; 4 cost the 100k benchmark up to 9 MB of peak
    # for up to 5 s less of its 150 s (benchmarks/README.md). Lanes read their ranges ahead regardless.
    read_ahead_pages: int = Field(
        1, ge=1, description="pages requested ahead of the one being worked on (each held in memory until used)"
    )
    order_lanes: int = Field(
        4, ge=1, le=16, description="id ranges of a large window's orders read at once (1: one after the other)"
    )
    max_attempts: int = Field(8, ge=1, description="tries per request, the first included")
    max_retry_seconds: float = Field(600.0, gt=0, description="give up on a request after this long")
    backoff_max_seconds: float = Field(60.0, gt=0, description="ceiling of one backoff wait (jittered, doubling)")
    low_quota: int = Field(15, ge=0, description="pace requests when X-Rate-Limit-Requests-Left falls to this")
    window_lag_seconds: int = Field(60, ge=0, description="upper bound of a window = run start minus this")
    overlap_seconds: int = Field(300, ge=0, description="lower bound of a window = watermark minus this")


class SalesforceSettings(BaseSettings):
    """How to reach the org (a connected app, or username + password + security token)."""

    model_config = SettingsConfigDict(env_prefix="ATS_SF_", env_file=".env", extra="ignore")

    auth: SalesforceAuth = "password"
    login_url: str = Field("https://login.salesforce.com", description="or https://test.salesforce.com, My Domain")
    username: str = ""
    password: SecretStr = SecretStr("")
    security_token: SecretStr = SecretStr("")
    consumer_key: str = ""
    consumer_secret: SecretStr = SecretStr("")
    jwt_key_path: Path | None = None
    api_version: str = "59.0"
    ca_bundle: Path | None = None
    timeout: float = 120.0
    bulk_threshold: int = Field(2000, ge=1, description="above this many records, Bulk API 2.0")
    collection_lanes: int = Field(4, ge=1, description="sObject Collections calls in flight at once")
    api_usage_stop: float = Field(0.8, gt=0, le=1, description="stop loading at this share of the daily limit")
    backoff_max_seconds: float = Field(60.0, gt=0, description="ceiling of one retry wait (requests and rows)")
    bulk_poll_seconds: float = Field(0.5, gt=0)
    bulk_timeout_seconds: float = Field(3600.0, gt=0)


class Settings(BaseSettings):
    """Everything the flows need."""

    model_config = SettingsConfigDict(env_prefix="ATS_", env_file=".env", extra="ignore")

    target: Literal["production", "sandbox"] = "production"
    secret_blocks: bool = Field(False, description="read unset secrets from Prefect Secret blocks (SECRET_BLOCKS)")
    sandbox_home: Path = Path(".sandbox")
    state_url: str = Field("sqlite:///.state/state.sqlite", description="SQLAlchemy URL of the state store")
    bc: BigCommerceSettings = Field(default_factory=BigCommerceSettings)
    sf: SalesforceSettings = Field(default_factory=SalesforceSettings)

    @model_validator(mode="after")
    def _fill_from_sandbox(self) -> Settings:
        if self.target == "sandbox":
            apply_sandbox(self)
        if self.secret_blocks:
            apply_secret_blocks(self)
        return self


#: Prefect Secret block names of the secrets (``prefect block create secret`` or the UI), by setting.
SECRET_BLOCKS = {
    ("bc", "access_token"): "ats-bc-access-token",
    ("sf", "password"): "ats-sf-password",
    ("sf", "security_token"): "ats-sf-security-token",
    ("sf", "consumer_secret"): "ats-sf-consumer-secret",
}


def apply_secret_blocks(settings: Settings) -> None:
    """Fill each unset secret from its Prefect Secret block, where one exists."""
    from prefect.blocks.system import Secret

    for (group, name), block in SECRET_BLOCKS.items():
        target = getattr(settings, group)
        if getattr(target, name).get_secret_value():
            continue
        try:
            value = Secret.load(block).get()
        except ValueError:  # no such block: the secret stays unset, and doctor says so
            continue
        setattr(target, name, SecretStr(str(value)))


def apply_sandbox(settings: Settings) -> None:
    """Fill unset connection values from the sandbox running in ``settings.sandbox_home``."""
    state = settings.sandbox_home / "sandbox.json"
    if not state.exists():
        raise RuntimeError(
            f"ATS_TARGET=sandbox but no sandbox runs from {settings.sandbox_home} "
            "(start it with `store-sync sandbox start`)"
        )
    info = json.loads(state.read_text())
    creds = json.loads(Path(info["credentials_path"]).read_text())
    bc, sf = settings.bc, settings.sf
    bc.api_url = bc.api_url or info["store_url"]
    bc.access_token = bc.access_token if bc.access_token.get_secret_value() else SecretStr(creds["bc_access_token"])
    bc.ca_bundle = bc.ca_bundle or Path(info["ca_path"])
    if sf.login_url == "https://login.salesforce.com":
        sf.login_url = info["org_url"]
    sf.username = sf.username or creds["sf_username"]
    for name, key in (("password", "sf_password"), ("security_token", "sf_security_token"),
                      ("consumer_secret", "sf_consumer_secret")):  # fmt: skip
        if not getattr(sf, name).get_secret_value():
            setattr(sf, name, SecretStr(creds[key]))
    sf.consumer_key = sf.consumer_key or creds["sf_consumer_key"]
    sf.jwt_key_path = sf.jwt_key_path or Path(info["jwt_key_path"])
    sf.ca_bundle = sf.ca_bundle or Path(info["ca_path"])
