"""The lead lifecycle through the real CLI, against HubSpot, Shopify and Mailchimp simulators.

Three people are planted in the seeded sandbox: an engaged newsletter subscriber with a
senior job title (who is also a shop customer without a paid order), a contact sales already
marked ``salesqualifiedlead`` in HubSpot with the same profile and engagement, and a shop
customer with a paid order whom HubSpot only knows as a ``lead``. One `hub sync` must make
the first an MQL everywhere (HubSpot stage and owner, Mailchimp tag and merge fields, Shopify
tag and metafield), leave the second SQL, make the third a customer in HubSpot; a second run
must write nothing; and a later drop in the SQL's engagement must not move it back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.mailchimp import subscriber_hash
from hub_sandbox.people import Order, Person
from tests.e2e.conftest import run_hub, sandbox_config

pytestmark = pytest.mark.e2e

OWNERS = ("9001", "9002")
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _plant(people: list[Person]) -> dict[str, Person]:
    """Rewrite three seeded people (present in all three systems) into the scenario."""
    everywhere = [i for i, p in enumerate(people)
                  if p.hubspot and p.mailchimp and p.shopify and p.shopify.email]
    assert len(everywhere) >= 3
    engaged = {"status": "subscribed", "timestamp_opt": T0, "ip_opt": "198.51.100.1",
               "member_rating": 5, "avg_open_rate": 0.62, "avg_click_rate": 0.2}
    chosen: dict[str, Person] = {}
    for role, index in zip(("mql", "sql", "buyer"), everywhere[:3], strict=True):
        p = people[index]
        assert p.hubspot and p.mailchimp and p.shopify
        title = "Head of Purchasing" if role != "buyer" else "Trainee"
        stage = {"mql": "subscriber", "sql": "salesqualifiedlead", "buyer": "lead"}[role]
        orders: tuple[Order, ...] = ()
        if role == "buyer":
            orders = (Order(id=900_001, created_at=T0, updated_at=T0, total="249.00",
                            currency="EUR", financial_status="PAID"),)
        mailchimp = dataclasses.replace(p.mailchimp, **engaged) if role != "buyer" else \
            dataclasses.replace(p.mailchimp, member_rating=1, avg_open_rate=0.0)
        people[index] = dataclasses.replace(
            p, job_title=title,
            hubspot=dataclasses.replace(p.hubspot, jobtitle=title, lifecyclestage=stage,
                                        hs_lead_status=None),
            mailchimp=mailchimp,
            shopify=dataclasses.replace(p.shopify, orders=orders))
        chosen[role] = people[index]
    return chosen


@pytest.fixture
def planted() -> Iterator[tuple[RunningSandbox, dict[str, Person]]]:
    sandbox = Sandbox(contacts=150, seed=13, rate_scale=100)
    people = list(sandbox.people)
    chosen = _plant(people)
    sandbox.people = people
    sandbox.reset()
    with sandbox.start() as running:
        yield running, chosen


def _setup(folder: Path, running: RunningSandbox) -> dict[str, str]:
    return sandbox_config(folder, running, extra=f"""
[consent]
newsletter = "newsletter"

[[scoring.rules]]
field = "job_title"
matches = "(?i)head|chief|leiter|geschäftsführer"
points = 30

[[scoring.rules]]
field = "member_rating"
min = 4
points = 15
behaviour = true

[[scoring.rules]]
field = "avg_open_rate"
min = 0.5
points = 10
behaviour = true

[lifecycle]
mql_threshold = 50

[lifecycle.handover]
owners = {json.dumps(list(OWNERS))}

[lifecycle.push.crm]
owner = true

[lifecycle.push.newsletter]

[lifecycle.push.shop]
""")


def _sync(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_hub("sync", "--json", cwd=folder, env=env)
    assert result.code in (0, 1), result.stdout + result.stderr
    summary: dict[str, Any] = result.json()
    refused = [d for d in summary["rejected"] if "e-mail" not in str(d)]
    assert summary["errors"] == [] and not refused, summary
    return summary


def _hubspot(running: RunningSandbox, email: str) -> dict[str, Any]:
    sim = running.sandbox.hubspot
    props: dict[str, Any] = sim.contacts[sim.by_email[email.strip().lower()]]["properties"]
    return props


def _mailchimp(running: RunningSandbox, email: str) -> dict[str, Any]:
    member: dict[str, Any] = running.sandbox.mailchimp.members[subscriber_hash(email)]
    return member


def _shop_tags(running: RunningSandbox, email: str) -> list[str]:
    customer = running.sandbox.shopify.shop.customer_by_email(email)
    assert customer is not None
    return list(customer.tags)


def test_one_run_carries_the_lifecycle_to_every_system_and_a_second_writes_nothing(
        planted: tuple[RunningSandbox, dict[str, Person]], tmp_path: Path) -> None:
    running, people = planted
    env = _setup(tmp_path / "site", running)
    folder = tmp_path / "site"
    mql, sql, buyer = people["mql"].email, people["sql"].email, people["buyer"].email

    first = _sync(folder, env)

    # the engaged subscriber with a senior title: MQL in HubSpot, owned, tagged everywhere
    crm = _hubspot(running, mql)
    assert crm["lifecyclestage"] == "marketingqualifiedlead"
    assert crm["hubspot_owner_id"] in OWNERS
    member = _mailchimp(running, mql)
    assert "hub:mql" in [t["name"] for t in member["tags"]]
    assert member["merge_fields"]["LEADSTATUS"] == "mql"
    assert member["merge_fields"]["LEADSCORE"] == "55"
    assert "hub:mql" in _shop_tags(running, mql)
    shop_customer = running.sandbox.shopify.shop.customer_by_email(mql)
    assert shop_customer is not None
    lead_json = json.loads(shop_customer.metafields[("hub", "lead")].value)
    assert lead_json == {"stage": "mql", "score": 55, "band": "warm"}
    # sales' SQL stays SQL although its score qualifies for MQL
    assert _hubspot(running, sql)["lifecyclestage"] == "salesqualifiedlead"
    sql_tags = [t["name"] for t in _mailchimp(running, sql)["tags"]]
    assert "hub:sql" in sql_tags and "hub:mql" not in sql_tags
    # the paid order makes a customer in the CRM
    assert _hubspot(running, buyer)["lifecyclestage"] == "customer"
    assert "hub:customer" in _shop_tags(running, buyer)

    report = first["lifecycle"]
    handed = {h["owner"] for h in report["handed_over"]}
    assert report["new_mqls"] >= 1 and handed <= set(OWNERS) and handed

    second = _sync(folder, env)
    for name, counts in second["connectors"].items():
        assert (counts["created"], counts["updated"]) == (0, 0), (name, second)
    assert second["lifecycle"]["new_mqls"] == 0

    # the SQL's engagement drops to nothing: hub still never moves it back to MQL or below
    member = _mailchimp(running, sql)
    member.update(member_rating=1, stats={"avg_open_rate": 0.0, "avg_click_rate": 0.0},
                  last_changed=(datetime.now(UTC) + timedelta(seconds=5)).isoformat())
    _sync(folder, env)
    assert _hubspot(running, sql)["lifecyclestage"] == "salesqualifiedlead"
    explained = run_hub("contacts", "explain", sql, "--json", cwd=folder, env=env).json()
    assert explained["lead"]["stage"] == "sql"
    assert explained["lead"]["score"]["total"] == 30
    assert [r["rule"] for r in explained["lead"]["score"]["rules"]] == [
        "job_title matches '(?i)head|chief|leiter|geschäftsführer'"]

    # the funnel numbers see all three
    status = run_hub("status", "--json", cwd=folder, env=env).json()["funnel"]
    assert status["stages"]["mql"] >= 1 and status["stages"]["sql"] >= 1
    assert status["stages"]["customer"] >= 1
    funnel = run_hub("report", "--json", cwd=folder, env=env).json()
    assert sum(r["new_mqls"] for r in funnel["runs"]) == report["new_mqls"]
    moves = {(m["from"], m["to"]) for m in funnel["moves"]}
    assert ("new", "mql") in moves or ("subscriber", "mql") in moves

    # ops move the buyer back, with a reason: audited and shown by explain
    moved = run_hub("contacts", "set-stage", buyer, "opportunity", "--reason", "deal reopened",
                    cwd=folder, env=env)
    assert moved.code == 0, moved.stderr
    assert "customer → opportunity" in moved.stdout
    history = run_hub("contacts", "explain", buyer, "--json", cwd=folder,
                      env=env).json()["lead"]["history"]
    assert history[-1]["source"] == "ops" and history[-1]["reason"].startswith("deal reopened")
    # the next sync carries the step back to HubSpot (which ignores plain backward moves) and
    # the paid-order rule does not undo it; the run after that writes nothing
    _sync(folder, env)
    assert _hubspot(running, buyer)["lifecyclestage"] == "opportunity"
    quiet = _sync(folder, env)
    assert _hubspot(running, buyer)["lifecyclestage"] == "opportunity"
    assert all((c["created"], c["updated"]) == (0, 0) for c in quiet["connectors"].values()), \
        quiet
    lead = run_hub("contacts", "explain", buyer, "--json", cwd=folder, env=env).json()["lead"]
    assert lead["stage"] == "opportunity" and "held at opportunity by ops" in lead["notes"][0]
    refused = run_hub("contacts", "set-stage", buyer, "hot-lead", "--reason", "x", cwd=folder,
                      env=env)
    assert refused.code == 2 and "not a lifecycle stage" in refused.stderr
