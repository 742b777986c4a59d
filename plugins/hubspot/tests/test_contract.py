"""The HubSpot connector passes hub's plugin contract kit against the HubSpot simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.connector import OutboundRecord
from hub.testing import ConnectorContract, ContractEnvironment
from hub_hubspot import HubSpotConnector
from hub_sandbox.app import Sandbox


class TestHubSpotContract(ConnectorContract):
    connector_class = HubSpotConnector

    @pytest.fixture
    def contract_environment(self, tmp_path: Path) -> Iterator[ContractEnvironment]:
        with Sandbox(contacts=700, seed=6, rate_scale=100).start() as running:
            creds = running.credentials()["hubspot"]
            sim = running.sandbox.hubspot

            def mutate() -> str:
                record = next(iter(sim.contacts.values()))
                httpx.patch(f"{creds['base_url']}/crm/v3/objects/contacts/{record['id']}",
                            json={"properties": {"jobtitle": "Geschäftsführerin"}},
                            headers={"Authorization": f"Bearer {creds['token']}"})
                return str(record["id"])

            yield ContractEnvironment(
                settings={"plugin": "hubspot", "token": {"secret": "hs-token"},
                          "base_url": creds["base_url"], "read_subscriptions": False},
                secrets={"hs-token": creds["token"]},
                sample_records=[OutboundRecord(f"s{i}", i, {"email": f"kit{i}@example.de",
                                                            "first_name": f"Kit{i}"})
                                for i in range(3)],
                bad_record=OutboundRecord("bad", 99, {"email": "kaputt@", "first_name": "X"}),
                faults=running.sandbox.controls.set_faults,
                mutate=mutate,
            )
