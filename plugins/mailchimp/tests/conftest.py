"""A sandbox on loopback and connectors pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.connector import ConnectorContext
from hub.secrets import MemoryBackend, Secrets
from hub_mailchimp import MailchimpConnector, MailchimpSettings
from hub_sandbox.app import RunningSandbox, Sandbox


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=1500, seed=11).start() as running:
        yield running


@pytest.fixture
def make(sandbox: RunningSandbox) -> Any:
    creds = sandbox.credentials()["mailchimp"]

    def build(key: str | None = None, **extra: Any) -> MailchimpConnector:
        settings = MailchimpSettings.model_validate({
            "plugin": "mailchimp", "api_key": {"secret": "mc-key"},
            "list_id": creds["list_id"], "base_url": creds["base_url"], **extra})
        context = ConnectorContext(name="newsletter",
                                   secrets=Secrets(MemoryBackend({"mc-key": key or creds["api_key"]}),
                                                   environ={}),
                                   sleep=lambda _s: None)
        return MailchimpConnector(settings, context)
    return build
