"""The Mailchimp connector passes hub's plugin contract kit, faults injected by the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.connector import OutboundRecord
from hub.testing import ConnectorContract, ContractEnvironment
from hub_mailchimp import MailchimpConnector
from hub_sandbox.app import Sandbox


class TestMailchimpContract(ConnectorContract):
    connector_class = MailchimpConnector

    @pytest.fixture
    def contract_environment(self, tmp_path: Path) -> Iterator[ContractEnvironment]:
        with Sandbox(contacts=2500, seed=4).start() as running:
            creds = running.credentials()["mailchimp"]
            sim = running.sandbox.mailchimp

            def mutate() -> str:
                member = next(m for m in sim.members.values() if m["status"] == "subscribed")
                httpx.patch(f"{creds['base_url']}/lists/{creds['list_id']}/members/"
                            f"{member['id']}", json={"merge_fields": {"LNAME": "Geändert"}},
                            auth=("x", creds["api_key"]))
                return str(member["id"])

            yield ContractEnvironment(
                settings={"plugin": "mailchimp", "api_key": {"secret": "mc-key"},
                          "list_id": creds["list_id"], "base_url": creds["base_url"]},
                secrets={"mc-key": creds["api_key"]},
                # a newsletter member is only ever added with hub's consent decision
                sample_records=[OutboundRecord(f"s{i}", i, {"email": f"kit{i}@sonnenpost.de"},
                                               consent="pending") for i in range(3)],
                bad_record=OutboundRecord("bad", 99, {"email": "kit@example.com"},
                                          consent="pending"),
                faults=running.sandbox.controls.set_faults,
                mutate=mutate,
                invalid_settings=[({"plugin": "mailchimp", "api_key": {"secret": "k"},
                                    "list_id": "x", "max_connections": 50}, "max_connections")],
            )
