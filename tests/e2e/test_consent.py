"""Consent end to end: the real CLI against the HubSpot, Shopify and Mailchimp simulators.

A Shopify single opt-in reaches Mailchimp only as `pending` (one confirmation mail, never a
second within the window); a Shopify confirmed opt-in arrives `subscribed` with its evidence in
the ledger; an unsubscribe in Mailchimp reaches Shopify and HubSpot in one run; and an erased
address is deleted everywhere and refused when a CSV brings it back.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.hubspot.preferences import Choice
from hub_sandbox.people import Person
from tests.e2e.conftest import run_hub, sandbox_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=500, seed=8, rate_scale=100).start() as running:
        yield running


def setup(folder: Path, running: RunningSandbox, *, window_days: int = 30) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounting.csv").write_text("Kundennr;E-Mail;Vorname\n", encoding="utf-8")
    return sandbox_config(folder, running, crm="rate_per_10s = 250", extra=f"""
[connectors.accounting]
plugin = "csv"
path = "accounting.csv"
format = "generic"
id_column = "Kundennr"
columns = {{ email = "E-Mail", first_name = "Vorname" }}

[consent]
newsletter = "newsletter"
doi_request_window_days = {window_days}
""")


def sync(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_hub("sync", "--json", cwd=folder, env=env)
    assert result.code in (0, 1), result.stdout + result.stderr
    summary: dict[str, Any] = result.json()
    assert summary["errors"] == [], summary["errors"]
    return summary


def member(running: RunningSandbox, email: str) -> dict[str, Any] | None:
    found = running.sandbox.mailchimp.members.get(
        hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest())
    return found


def status(running: RunningSandbox, email: str) -> str | None:
    found = member(running, email)
    return None if found is None else str(found["status"])


def shop_only(running: RunningSandbox, level: str) -> Person:
    """Someone the shop has as subscribed at `level`, unknown to the newsletter and the CRM."""
    return next(p for p in running.sandbox.people
                if p.shopify is not None and p.mailchimp is None and p.hubspot is None
                and p.shopify.email and p.shopify.marketing_state == "SUBSCRIBED"
                and p.shopify.opt_in_level == level and p.shopify.consent_updated_at
                and not p.notes)


def test_a_shop_single_opt_in_becomes_pending_once_never_subscribed(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    person = shop_only(sandbox, "SINGLE_OPT_IN")
    mails = sandbox.sandbox.mailchimp.confirmation_mails
    sync(tmp_path, env)
    assert status(sandbox, person.email) == "pending"
    assert [m.lower() for m, _ in mails].count(person.email) == 1
    # the member is removed from the list; within the window hub does not ask again
    creds = sandbox.credentials()["mailchimp"]
    gone = member(sandbox, person.email)
    assert gone is not None
    httpx.delete(f"{creds['base_url']}/lists/{creds['list_id']}/members/{gone['id']}",
                 auth=("hub", creds["api_key"])).raise_for_status()
    again = sync(tmp_path, env)
    sync(tmp_path, env)
    assert [m.lower() for m, _ in mails].count(person.email) == 1
    assert again["planned"]["newsletter"]["blocked"].get("confirmation_requested_recently", 0) >= 1
    assert all(m["status"] != "subscribed" for m in sandbox.sandbox.mailchimp.members.values()
               if m["email_address"].lower() == person.email)


def test_a_shop_confirmed_opt_in_arrives_subscribed_with_its_evidence(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    person = shop_only(sandbox, "CONFIRMED_OPT_IN")
    sync(tmp_path, env)
    assert status(sandbox, person.email) == "subscribed"
    shown = run_hub("consent", "show", person.email, "--json", cwd=tmp_path, env=env)
    trail = shown.json()
    assert trail["newsletter"]["state"] == "confirmed"
    proof = [e for e in trail["trail"] if e["kind"] == "doi_confirmed"]
    assert proof and proof[0]["connector"] == "shop"
    assert proof[0]["evidence"]["marketingOptInLevel"] == "CONFIRMED_OPT_IN"
    assert proof[0]["evidence"]["consentUpdatedAt"]
    assert any(e["kind"] == "decision:subscribed" for e in trail["trail"])

    # the export a data-protection officer hands over: state, proof and the ledger's hashes
    exported = run_hub("consent", "export", "--format", "json", cwd=tmp_path, env=env).json()
    assert exported["ledger"]["intact"]
    row = next(c for c in exported["contacts"] if c["email"] == person.email)
    assert row["state"] == "confirmed" and row["confirmed_in"] == "shop"
    assert row["confirmation_evidence"]["marketingOptInLevel"] == "CONFIRMED_OPT_IN"
    assert proof[0]["entry_hash"] in row["proof_hashes"]
    written = run_hub("consent", "export", "--output", "dpo.csv", cwd=tmp_path, env=env)
    assert written.code == 0 and "dpo.csv" in written.stderr
    with (tmp_path / "dpo.csv").open(encoding="utf-8", newline="") as f:
        table = {r["email"]: r for r in csv.DictReader(f)}
    assert table[person.email]["state"] == "confirmed"
    assert len(table) == len(exported["contacts"])


def test_an_unsubscribe_in_mailchimp_reaches_shopify_and_hubspot_in_one_run(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    person = next(p for p in sandbox.sandbox.people
                  if p.mailchimp and p.shopify and p.hubspot and p.mailchimp.status == "subscribed"
                  and p.shopify.email and p.shopify.marketing_state == "SUBSCRIBED"
                  and not p.notes)
    hubspot = sandbox.sandbox.hubspot
    hubspot.preferences.set(person.email, 1, Choice("SUBSCRIBED", "2026-01-01T00:00:00.000Z",
                                                    "FORM", "CONSENT_WITH_NOTICE"))
    sync(tmp_path, env)
    customer = sandbox.sandbox.shopify.shop.customer_by_email(person.email)
    assert customer is not None and customer.consent.state == "SUBSCRIBED"
    creds = sandbox.credentials()["mailchimp"]
    subscribed = member(sandbox, person.email)
    assert subscribed is not None
    httpx.patch(f"{creds['base_url']}/lists/{creds['list_id']}/members/{subscribed['id']}",
                json={"status": "unsubscribed"}, auth=("hub", creds["api_key"])
                ).raise_for_status()
    sync(tmp_path, env)
    assert customer.consent.state == "UNSUBSCRIBED"
    assert hubspot.preferences.state(person.email) == "UNSUBSCRIBED"
    quiet = sync(tmp_path, env)
    assert all(c["updated"] == 0 for c in quiet["connectors"].values())


def test_an_erased_address_is_deleted_everywhere_and_refused_on_reimport(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    person = next(p for p in sandbox.sandbox.people
                  if p.mailchimp and p.shopify and p.hubspot and p.shopify.email
                  and p.mailchimp.status != "archived" and not p.notes)
    with (tmp_path / "accounting.csv").open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerow(["K1", person.email.upper(), "Buchhaltung"])
    sync(tmp_path, env)
    assert run_hub("contacts", "show", person.email, cwd=tmp_path, env=env).code == 0

    refused = run_hub("consent", "forget", person.email, cwd=tmp_path, env=env)
    assert refused.code == 2 and "--yes" in refused.stderr  # not on a terminal: must confirm
    forgotten = run_hub("consent", "forget", person.email, "--yes", "--json", cwd=tmp_path,
                        env=env)
    report = forgotten.json()
    # the CSV import cannot delete: ops are told to remove the row by hand
    assert forgotten.code == 1 and "accounting" in report["delete_manually"]
    assert report["systems"] == {"crm": "done", "newsletter": "done", "shop": "done"}
    assert person.email.lower() in sandbox.sandbox.mailchimp.forgotten
    assert person.email.lower() not in sandbox.sandbox.hubspot.by_email
    customer = sandbox.sandbox.shopify.shop.customer_by_email(person.email)
    assert customer is not None and customer.id in sandbox.sandbox.shopify.shop.pending_erasures
    assert run_hub("contacts", "show", person.email, cwd=tmp_path, env=env).code == 1
    assert run_hub("consent", "verify", cwd=tmp_path, env=env).code == 0
    assert person.email not in (tmp_path / "hub.db").read_bytes().decode("latin-1").lower()

    # the accountant exports again, the erased person still in it; the shop still shows the
    # customer until its erasure is carried out: refused, counted, nothing comes back anywhere
    with (tmp_path / "accounting.csv").open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerow(["K2", "neu.kunde@example.de", "Neu"])
    again = sync(tmp_path, env)
    assert again["connectors"]["accounting"]["suppressed"] == 1
    assert again["connectors"]["accounting"]["read"] == 2
    assert again["consent"]["suppressed_reimports"] >= 1
    assert run_hub("contacts", "show", person.email, cwd=tmp_path, env=env).code == 1
    assert person.email.lower() not in sandbox.sandbox.hubspot.by_email
    assert member(sandbox, person.email) is None


def test_an_erasure_a_system_cannot_take_now_is_delivered_by_the_next_sync(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    person = next(p for p in sandbox.sandbox.people
                  if p.hubspot and p.mailchimp and p.mailchimp.status != "archived"
                  and not p.notes)
    sync(tmp_path, env)
    hubspot = sandbox.sandbox.hubspot
    assert person.email.lower() in hubspot.by_email
    sandbox.sandbox.controls.set_faults("hubspot.503:1.0")
    try:
        forgotten = run_hub("consent", "forget", person.email, "--yes", "--json",
                            cwd=tmp_path, env=env)
    finally:
        sandbox.sandbox.controls.set_faults("")
    report = forgotten.json()
    assert forgotten.code == 1 and report["systems"]["newsletter"] == "done"
    assert report["systems"]["crm"].startswith("waits for the next run")
    assert person.email.lower() in hubspot.by_email  # not yet
    sync(tmp_path, env)
    assert person.email.lower() not in hubspot.by_email
    assert person.email.lower() in sandbox.sandbox.mailchimp.forgotten
