"""The HubSpot simulator through HubSpot's own Python client, base URL changed only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hubspot import HubSpot  # type: ignore[import-untyped]
from hubspot.crm.contacts import (  # type: ignore[import-untyped]
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException  # type: ignore[import-untyped]

from hub.ops.serving import serve_in_thread
from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.hubspot.simulator import HubSpotLimits, HubSpotSimulator
from hub_sandbox.people import generate


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=500, seed=9, rate_limit=False).start() as served:
        yield served


@pytest.fixture
def api(running: RunningSandbox) -> HubSpot:
    creds = running.credentials()["hubspot"]
    return HubSpot(access_token=creds["token"], host=creds["base_url"])


def test_list_pages_through_every_contact(running: RunningSandbox, api: HubSpot) -> None:
    contacts = api.crm.contacts.get_all(properties=["email", "lifecyclestage"])
    assert len(contacts) == running.sandbox.hubspot.summary()["contacts"]
    assert all(c.properties["hs_object_id"] == c.id for c in contacts)
    page = api.crm.contacts.basic_api.get_page(limit=500)
    assert len(page.results) == 100  # the documented maximum


def test_get_by_email_create_conflict_update_archive(api: HubSpot,
                                                     running: RunningSandbox) -> None:
    created = api.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "Neu@Example.de", "firstname": "Neu", "lifecyclestage": "lead"}))
    again = api.crm.contacts.basic_api.get_by_id("neu@example.de", id_property="email",
                                                 properties=["firstname"])
    assert again.id == created.id and again.properties["firstname"] == "Neu"
    with pytest.raises(ApiException) as conflict:
        api.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
            properties={"email": "neu@example.de"}))
    assert conflict.value.status == 409 and "Existing ID: " + created.id in conflict.value.body
    api.crm.contacts.basic_api.update(created.id, {"properties": {
        "lifecyclestage": "customer", "firstname": ""}})
    api.crm.contacts.basic_api.update(created.id, {"properties": {"lifecyclestage": "lead"}})
    record = running.sandbox.hubspot.contacts[created.id]["properties"]
    assert record["lifecyclestage"] == "customer"  # backward moves are silently ignored
    assert record["firstname"] is None  # "" clears
    with pytest.raises(ApiException) as invalid:
        api.crm.contacts.basic_api.update(created.id, {"properties": {"hs_lead_status": "HOT"}})
    assert invalid.value.status == 400 and "INVALID_OPTION" in invalid.value.body
    api.crm.contacts.basic_api.archive(created.id)
    with pytest.raises(ApiException) as gone:
        api.crm.contacts.basic_api.get_by_id(created.id)
    assert gone.value.status == 404


def test_batch_upsert_by_email_new_and_existing(api: HubSpot, running: RunningSandbox) -> None:
    existing = next(c for c in running.sandbox.hubspot.contacts.values()
                    if c["properties"]["email"])["properties"]["email"]
    result = api.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[SimplePublicObjectBatchInputUpsert(id=existing, id_property="email",
                                                   properties={"jobtitle": "Chief"}),
                SimplePublicObjectBatchInputUpsert(id="fresh@example.de", id_property="email",
                                                   properties={"firstname": "Fresh"})]))
    assert sorted(r.new for r in result.results) == [False, True]
    too_many = {"inputs": [{"id": f"x{i}@example.de", "idProperty": "email", "properties": {}}
                           for i in range(101)]}
    with pytest.raises(ApiException) as info:
        api.crm.contacts.batch_api.upsert(too_many)
    assert info.value.status == 400


def test_search_filters_sort_and_paging(api: HubSpot, running: RunningSandbox) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "lifecyclestage", "operator": "EQ",
                                     "value": "lead"}]},
                       {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ",
                                     "value": "customer"}]}],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email", "lifecyclestage", "lastmodifieddate"], limit=50)
    first = api.crm.contacts.search_api.do_search(public_object_search_request=request)
    expected = sum(1 for c in running.sandbox.hubspot.contacts.values()
                   if c["properties"]["lifecyclestage"] in ("lead", "customer"))
    assert first.total == expected and len(first.results) == min(50, expected)
    stamps = [r.properties["lastmodifieddate"] for r in first.results]
    assert stamps == sorted(stamps)
    request.after = first.paging.next.after
    second = api.crm.contacts.search_api.do_search(public_object_search_request=request)
    assert not {r.id for r in first.results} & {r.id for r in second.results}


def test_search_caps_at_ten_thousand() -> None:
    people = [p for p in generate(4, 17_000) if p.hubspot][:10_050]
    sim = HubSpotSimulator(people, limits=HubSpotLimits(rate_limit=False))
    from starlette.applications import Starlette
    with serve_in_thread(Starlette(routes=sim.routes())) as served:
        headers = {"Authorization": f"Bearer {sim.limits.token}"}
        url = f"{served.base_url}/crm/v3/objects/contacts/search"
        last = httpx.post(url, json={"limit": 200, "after": "9800"}, headers=headers).json()
        assert last["total"] == 10_050 and "paging" not in last
        beyond = httpx.post(url, json={"limit": 200, "after": "10000"}, headers=headers)
        assert beyond.status_code == 400 and "10000" in beyond.json()["message"]


def test_auth_and_ten_secondly_limit_on_a_fake_clock() -> None:
    now = [0.0]
    sim = HubSpotSimulator(generate(1, 30), limits=HubSpotLimits(rate_per_10s=3),
                           clock=lambda: now[0])
    from starlette.applications import Starlette
    with serve_in_thread(Starlette(routes=sim.routes())) as served:
        url = f"{served.base_url}/crm/v3/objects/contacts"
        bad = httpx.get(url, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["category"] == "INVALID_AUTHENTICATION"
        headers = {"Authorization": f"Bearer {sim.limits.token}"}
        answers = [httpx.get(url, headers=headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
        assert answers[3].json()["policyName"] == "TEN_SECONDLY_ROLLING"
        now[0] = 10.5
        assert httpx.get(url, headers=headers).status_code == 200
