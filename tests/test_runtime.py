"""Building connectors from config: secrets resolved late, named in errors, never shown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from hub.connector import Capability, Connector, ConnectorContext, ConnectorSettings
from hub.errors import SecretError, UnreachableError
from hub.hookspecs import hookimpl
from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.secrets import MemoryBackend, SecretRef, Secrets


class TokenSettings(ConnectorSettings):
    token: SecretRef
    base_url: str = "http://crm.invalid"


class TokenConnector(Connector):
    """Calls one endpoint with its token; 401 when the token is wrong."""

    plugin = "tokened"
    Settings = TokenSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ_CONTACTS})

    def __init__(self, settings: TokenSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        token = context.secret(settings.token)
        self.http = context.client(base_url=settings.base_url,
                                   headers={"Authorization": f"Bearer {token.get_secret_value()}"})

    def check(self) -> None:
        response = self.http.get("/me")
        if response.status_code == 401:
            raise UnreachableError(f"connector {self.name!r}: the token was refused — set a "
                                   "valid one with `hub secrets set`")


class Plugin:
    @staticmethod
    @hookimpl
    def register_connectors(register):  # type: ignore[no-untyped-def]
        register(TokenConnector)


def runtime(tmp_path: Path, secrets: Secrets) -> Runtime:
    config = tmp_path / "config.toml"
    config.write_text('[connectors.crm]\nplugin = "tokened"\ntoken = { secret = "crm-token" }\n')
    rt = Runtime.load(config, plugins=load_plugins([], extra=(Plugin(),)), secrets=secrets)
    rt.transport = httpx.MockTransport(
        lambda r: httpx.Response(200 if r.headers["authorization"] == "Bearer right-token-123"
                                 else 401))
    return rt


def test_a_missing_secret_names_the_connector_and_both_ways_to_set_it(tmp_path: Path) -> None:
    rt = runtime(tmp_path, Secrets(MemoryBackend(), environ={}))
    with pytest.raises(SecretError) as info:
        rt.connector("crm")
    text = str(info.value)
    assert "connector 'crm'" in text and "hub secrets set crm-token" in text
    assert "HUB_SECRET_CRM_TOKEN" in text and info.value.exit_code == 2


def test_environment_secret_is_used_and_never_shown(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = runtime(tmp_path, Secrets(MemoryBackend(), environ={"HUB_SECRET_CRM_TOKEN": "right-token-123"}))
    connector = good.connector("crm")
    connector.check()
    assert connector.context.api_calls == 1
    bad = runtime(tmp_path, Secrets(MemoryBackend({"crm-token": "wrong-token-456"}), environ={}))
    failing = bad.connector("crm")
    with pytest.raises(UnreachableError) as info:
        failing.check()
    shown = " ".join([str(info.value), repr(info.value), repr(failing), repr(failing.settings),
                      str(failing.settings.model_dump()), caplog.text])
    assert "right-token-123" not in shown and "wrong-token-456" not in shown
