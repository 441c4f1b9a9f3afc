"""Production secrets from Prefect Secret blocks; secrets never shown by settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.settings import SECRET_BLOCKS, Settings


def test_unset_secrets_come_from_prefect_secret_blocks(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    Secret(value=SecretStr("p4ssw0rd-from-block")).save(SECRET_BLOCKS[("sf", "password")], overwrite=True)
    monkeypatch.setenv("ATS_SECRET_BLOCKS", "true")
    monkeypatch.setenv("ATS_BC_ACCESS_TOKEN", "token-from-env")
    settings = Settings()
    assert settings.sf.password.get_secret_value() == "p4ssw0rd-from-block"
    assert settings.bc.access_token.get_secret_value() == "token-from-env"  # the environment wins
    assert settings.sf.security_token.get_secret_value() == ""  # no block: left unset for doctor to report
    shown = repr(settings) + str(settings.model_dump())
    assert "p4ssw0rd" not in shown and "token-from-env" not in shown
