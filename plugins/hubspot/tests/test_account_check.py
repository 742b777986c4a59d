"""`check()`: missing scopes and lifecycle stages, against the simulator's account shapes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from hub.connector import ConnectorContext
from hub.secrets import MemoryBackend, Secrets
from hub_hubspot import HubSpotConnector, HubSpotSettings
from hub_hubspot.account_check import needs
from hub_sandbox.app import Sandbox
from hub_sandbox.hubspot.simulator import ALL_SCOPES

BATCH_READ = "communication_preferences.statuses.batch.read"
BATCH_WRITE = "communication_preferences.statuses.batch.write"


def findings(scopes: Iterable[str] | None = None, stages: Mapping[str, str] | None = None,
             **settings: Any) -> list[tuple[str, str]]:
    with Sandbox(contacts=10, rate_limit=False, hubspot_scopes=scopes,
                 hubspot_stages=stages).start() as running:
        creds = running.credentials()["hubspot"]
        connector = HubSpotConnector(HubSpotSettings.model_validate({
            "plugin": "hubspot", "token": {"secret": "t"}, "base_url": creds["base_url"],
            **settings}), ConnectorContext(
            name="crm", secrets=Secrets(MemoryBackend({"t": creds["token"]}), environ={})))
        try:
            return [(f.severity, f.subject) for f in connector.check()]
        finally:
            connector.close()


def test_a_full_token_and_the_standard_stages_find_nothing() -> None:
    assert findings() == []


def test_one_problem_per_missing_scope() -> None:
    found = findings(ALL_SCOPES - {"crm.objects.contacts.write", BATCH_WRITE})
    assert found == [("problem", "scope crm.objects.contacts.write"),
                     ("problem", f"scope {BATCH_WRITE}")]


def test_a_token_that_cannot_read_contacts_is_a_finding_not_a_crash() -> None:
    assert ("problem", "scope crm.objects.contacts.read") in findings(
        ALL_SCOPES - {"crm.objects.contacts.read"})


def test_v3_settings_need_the_v3_scopes_not_the_batch_ones() -> None:
    lacking = ALL_SCOPES - {BATCH_READ, BATCH_WRITE}
    assert findings(lacking, subscriptions_api="v3") == []
    assert ("problem", f"scope {BATCH_READ}") in findings(lacking)


def test_without_the_schema_scope_stages_cannot_be_checked_a_warning() -> None:
    assert findings(ALL_SCOPES - {"crm.schemas.contacts.read"}) == [
        ("warning", "scope crm.schemas.contacts.read")]


@pytest.mark.parametrize(("mapping", "expected"), [
    ({}, [("problem", "lifecycle stage")]),  # marketingqualifiedlead was renamed
    ({"mql": "mql_custom"}, []),
    ({"mql": ""}, []),  # never written
])
def test_stages_hub_writes_must_exist_in_the_account(
        mapping: dict[str, str], expected: list[tuple[str, str]]) -> None:
    stages = {"subscriber": "Subscriber", "lead": "Lead", "mql_custom": "MQL",
              "salesqualifiedlead": "SQL", "opportunity": "Opportunity",
              "customer": "Customer", "evangelist": "Evangelist", "other": "Other"}
    assert findings(stages=stages, lifecycle_stages=mapping) == expected


def test_needs_follow_the_settings() -> None:
    base = {"plugin": "hubspot", "token": {"secret": "t"}}
    v4 = {n.scopes for n in needs(HubSpotSettings.model_validate(
        {**base, "subscription_id": "1"}))}
    assert (BATCH_READ,) in v4 and not any("communication_preferences.read" in s for s in v4)
    quiet = {n.scopes for n in needs(HubSpotSettings.model_validate(
        {**base, "subscription_id": "1", "read_subscriptions": False,
         "subscriptions_api": "v4"}))}
    assert (BATCH_READ,) not in quiet and (BATCH_WRITE,) in quiet
