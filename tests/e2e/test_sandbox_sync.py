"""The real CLI against the sandbox over loopback: Mailchimp newsletter, CSV accounting, export.

Full sync, then a sync that writes nothing; a change made in Mailchimp through its API reaches
the export after one sync; consent keeps people without permission out of the newsletter;
injected 429 storms and 5xx end in the same state as a clean run.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from tests.e2e.conftest import run_hub

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=600, seed=21).start() as running:
        yield running


def setup(folder: Path, running: RunningSandbox) -> dict[str, str]:
    creds = running.credentials()["mailchimp"]
    members = list(running.sandbox.mailchimp.members.values())
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "accounting.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["Kundennr", "E-Mail", "Vorname", "Firma"])
        for i, member in enumerate(members[:20]):  # known to the newsletter
            writer.writerow([f"K{i}", member["email_address"].upper(), "", f"Firma {i}"])
        for i in range(20, 30):  # nobody gave these people e-mail permission
            writer.writerow([f"K{i}", f"kunde{i}@example.de", f"Kunde{i}", "Firma"])
    (folder / "config.toml").write_text(f"""
[hub]
store = "sqlite:///hub.db"
retry_base_seconds = 0.01   # the sandbox's faults need no real patience

[connectors.newsletter]
plugin = "mailchimp"
api_key = {{ secret = "mailchimp-key" }}
list_id = "{creds['list_id']}"
base_url = "{creds['base_url']}"

[connectors.accounting]
plugin = "csv"
path = "accounting.csv"
format = "generic"
id_column = "Kundennr"
columns = {{ email = "E-Mail", first_name = "Vorname", company = "Firma" }}

[connectors.export]
plugin = "csv"
path = "out/contacts.csv"
mode = "write"

[consent]
newsletter = "newsletter"
""", encoding="utf-8")
    return {"HUB_SECRET_MAILCHIMP_KEY": creds["api_key"]}


def sync(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_hub("sync", "--json", cwd=folder, env=env)
    assert result.code in (0, 1), result.stdout + result.stderr
    summary: dict[str, Any] = result.json()
    return summary


def exported(folder: Path) -> dict[str, dict[str, str]]:
    with (folder / "out" / "contacts.csv").open(encoding="utf-8", newline="") as f:
        return {row["email"]: row for row in csv.DictReader(f)}


def test_full_then_quiet_then_a_change_travels(tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    sim = sandbox.sandbox.mailchimp
    members = sum(1 for m in sim.members.values() if m["status"] != "archived")
    first = sync(tmp_path, env)
    news = first["connectors"]["newsletter"]
    assert news["read"] == members and news["rejected"] == 0 and first["exit_code"] == 0
    assert first["connectors"]["accounting"]["merged"] == 20
    assert first["planned"]["newsletter"]["blocked"].get("none", 0) >= 10
    assert news["created"] == 0  # nobody without permission was added
    assert not any(e.startswith("kunde2") for e, _ in sim.confirmation_mails)
    export = exported(tmp_path)
    assert len(export) == first["contacts"]["total"]
    assert len(sim.confirmation_mails) == 0

    second = sync(tmp_path, env)
    assert all(c["created"] == 0 and c["updated"] == 0 for c in second["connectors"].values())
    assert second["connectors"]["newsletter"]["api_calls"] <= 3

    creds = sandbox.credentials()["mailchimp"]
    member = next(m for m in sim.members.values() if m["status"] == "subscribed")
    httpx.patch(f"{creds['base_url']}/lists/{creds['list_id']}/members/{member['id']}",
                json={"merge_fields": {"LNAME": "Neuname"}},
                auth=("hub", creds["api_key"])).raise_for_status()
    third = sync(tmp_path, env)
    assert third["connectors"]["export"]["updated"] == 1
    assert exported(tmp_path)[member["email_address"].strip().lower()]["last_name"] == "Neuname"


def test_faults_end_in_the_same_state(tmp_path: Path, sandbox: RunningSandbox) -> None:
    clean_env = setup(tmp_path / "clean", sandbox)
    sync(tmp_path / "clean", clean_env)
    faulty_env = setup(tmp_path / "faulty", sandbox)
    sandbox.sandbox.controls.set_faults("429storm:4,500:0.2,502:0.1")
    try:
        summary = sync(tmp_path / "faulty", faulty_env)
    finally:
        sandbox.sandbox.controls.set_faults("")
    assert summary["errors"] == [] and summary["exit_code"] == 0
    assert sandbox.sandbox.controls.injected["mailchimp.429"] == 4
    assert exported(tmp_path / "clean") == exported(tmp_path / "faulty")


def test_crm_and_newsletter_converge_without_duplicates_or_ping_pong(tmp_path: Path) -> None:
    with Sandbox(contacts=800, seed=3, rate_scale=50).start() as running:
        creds = running.credentials()
        (tmp_path / "config.toml").write_text(f"""
[hub]
store = "sqlite:///hub.db"
retry_base_seconds = 0.01

[connectors.crm]
plugin = "hubspot"
token = {{ secret = "hubspot-token" }}
base_url = "{creds['hubspot']['base_url']}"
read_subscriptions = false

[connectors.newsletter]
plugin = "mailchimp"
api_key = {{ secret = "mailchimp-key" }}
list_id = "{creds['mailchimp']['list_id']}"
base_url = "{creds['mailchimp']['base_url']}"

[consent]
newsletter = "newsletter"
""", encoding="utf-8")
        env = {"HUB_SECRET_HUBSPOT_TOKEN": creds["hubspot"]["token"],
               "HUB_SECRET_MAILCHIMP_KEY": creds["mailchimp"]["api_key"]}
        first = sync(tmp_path, env)
        crm = first["connectors"]["crm"]
        assert crm["created"] > 0  # the CRM gets every contact, except where two share one
        # address (families in the sandbox): HubSpot keys by e-mail, so that is reported
        kinds = {d["kind"] for d in first["drift"]}
        assert kinds <= {"address_conflict"}
        assert first["exit_code"] == (1 if kinds else 0)
        total = first["contacts"]["total"]
        hubspot = running.sandbox.hubspot.summary()["contacts"]
        second = sync(tmp_path, env)  # reads back what hub wrote
        assert second["contacts"]["total"] == total and second["contacts"]["created"] == 0
        third = sync(tmp_path, env)
        assert all(c["created"] == 0 and c["updated"] == 0
                   for c in (second["connectors"] | third["connectors"]).values())
        assert running.sandbox.hubspot.summary()["contacts"] == hubspot
        assert len(running.sandbox.mailchimp.confirmation_mails) == 0
