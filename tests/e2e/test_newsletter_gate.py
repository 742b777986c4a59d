"""The newsletter gate and consent read-back, end to end: the real CLI against the simulators.

A Mailchimp audience that `[consent]` does not name is still a newsletter (the connector
declares it): seen through Mailchimp's official client afterwards, hub added nobody without
an opt-in of their own and asked for no confirmation mail nobody requested. And a contact hub
subscribed in Mailchimp on a Shopify double opt-in stays confirmed when Mailchimp's copy of
hub's write comes back on the next run (docs/consent.md, rules 10 and 11).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mailchimp_marketing  # type: ignore[import-untyped]
import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.people import Person
from tests.e2e.conftest import run_hub, sandbox_config
from tests.e2e.test_consent import shop_only, status, sync

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=400, seed=13, rate_scale=100).start() as running:
        yield running


def official_client(running: RunningSandbox) -> Any:
    creds = running.credentials()["mailchimp"]
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": creds["api_key"], "server": creds["api_key"].split("-")[-1]})
    client.api_client.host = creds["base_url"]  # the only change against the real API
    return client


def every_member(client: Any, list_id: str) -> dict[str, str]:
    """Address (lower-cased) → status of every member, paged through the official client."""
    members: dict[str, str] = {}
    offset = 0
    while True:
        page = client.lists.get_list_members_info(
            list_id, count=1000, offset=offset,
            fields=["members.email_address", "members.status", "total_items"])
        members.update({m["email_address"].strip().lower(): m["status"]
                        for m in page["members"]})
        offset += len(page["members"])
        if not page["members"] or offset >= page["total_items"]:
            return members


def opted_in(person: Person) -> str | None:
    """The opt-in a seeded person gave outside Mailchimp (hub reads Shopify's consent here)."""
    shop = person.shopify
    if shop is None or shop.email is None or shop.marketing_state != "SUBSCRIBED":
        return None
    confirmed = shop.opt_in_level == "CONFIRMED_OPT_IN" and shop.consent_updated_at
    return "confirmed" if confirmed else "single"


@pytest.mark.parametrize("consent", ["", '[consent]\nnewsletter = "crm"\n'],
                         ids=["consent-names-nothing", "consent-names-the-crm"])
def test_an_unnamed_mailchimp_audience_receives_nobody_without_an_opt_in(
        tmp_path: Path, sandbox: RunningSandbox, consent: str) -> None:
    env = sandbox_config(tmp_path, sandbox, extra=consent, crm="rate_per_10s = 250")
    client = official_client(sandbox)
    list_id = sandbox.credentials()["mailchimp"]["list_id"]
    before = every_member(client, list_id)
    sync(tmp_path, env)
    after = every_member(client, list_id)

    people = {p.email: p for p in sandbox.sandbox.people}
    added = {email: state for email, state in after.items() if email not in before}
    assert added, "hub added nobody at all: the test proves nothing"
    for email, state in added.items():
        asked = opted_in(people[email])
        assert asked is not None, f"added as {state} without any opt-in"
        assert state == {"confirmed": "subscribed", "single": "pending"}[asked]
    never_asked = [p for p in people.values() if p.mailchimp is None and opted_in(p) is None]
    assert never_asked and not any(p.email in after for p in never_asked)
    mailed = {m.strip().lower() for m, _ in sandbox.sandbox.mailchimp.confirmation_mails}
    assert mailed and all(opted_in(people[m]) == "single" for m in mailed)


def test_hubs_own_subscription_read_back_keeps_the_shop_double_opt_in(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = sandbox_config(tmp_path, sandbox, crm="rate_per_10s = 250",
                         extra='[consent]\nnewsletter = "newsletter"\n')
    person = shop_only(sandbox, "CONFIRMED_OPT_IN")
    sync(tmp_path, env)
    assert status(sandbox, person.email) == "subscribed"
    sync(tmp_path, env)  # Mailchimp's member, subscribed by hub, is read back

    shown = run_hub("consent", "show", person.email, "--json", cwd=tmp_path, env=env).json()
    assert shown["newsletter"]["state"] == "confirmed", shown["newsletter"]
    assert shown["newsletter"]["source"] == "shop"
    echoes = [e for e in shown["trail"] if e["connector"] == "newsletter"
              and not e["kind"].startswith("decision:")]
    assert echoes and all("read_back" in e["evidence"] for e in echoes)
    text = run_hub("consent", "show", person.email, cwd=tmp_path, env=env).stdout
    assert "must be requested" not in text

    exported = run_hub("consent", "export", "--format", "json", cwd=tmp_path, env=env).json()
    row = next(c for c in exported["contacts"] if c["email"] == person.email)
    assert row["state"] == "confirmed" and row["confirmed_in"] == "shop"
    # nothing is written again: the member shows what hub wrote
    sync(tmp_path, env)
    trail = run_hub("consent", "show", person.email, "--json", cwd=tmp_path, env=env).json()
    assert [e["kind"] for e in trail["trail"]].count("decision:subscribed") == 1
    assert trail["newsletter"]["state"] == "confirmed"


def test_hub_check_names_a_merge_field_the_audience_lacks_and_exits_2(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = sandbox_config(tmp_path, sandbox, crm="rate_per_10s = 250",
                         newsletter='merge_fields = { phone = "MOBILE" }')
    result = run_hub("check", cwd=tmp_path, env=env)
    assert result.code == 2, result.stdout + result.stderr
    assert "MOBILE" in result.stdout and "newsletter" in result.stdout
    fixed = sandbox_config(tmp_path, sandbox, crm="rate_per_10s = 250")
    assert run_hub("check", cwd=tmp_path, env=fixed).code == 0
