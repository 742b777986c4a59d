"""The HubSpot simulator's subscription statuses (v4 and v3), scopes and lifecycle stages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubspot import HubSpot  # type: ignore[import-untyped]
from hubspot.communication_preferences.exceptions import (  # type: ignore[import-untyped]
    ApiException,
)
from hubspot.communication_preferences.models import (  # type: ignore[import-untyped]
    PublicSubscriptionStatus,
    PublicUpdateSubscriptionStatusRequest,
)

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.hubspot.preferences import Choice

V4 = "/communication-preferences/v4/statuses"


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=300, seed=5, rate_limit=False).start() as served:
        yield served


def call(running: RunningSandbox, path: str, body: Any = None, **params: str) -> httpx.Response:
    creds = running.credentials()["hubspot"]
    return httpx.request("POST" if body is not None else "GET", creds["base_url"] + path,
                         json=body, params=params,
                         headers={"Authorization": f"Bearer {creds['token']}"})


def test_v3_answers_only_the_fields_of_hubspots_own_v3_models(running: RunningSandbox) -> None:
    """No invented timestamp or double-opt-in field: every key is one the SDK model knows."""
    creds = running.credentials()["hubspot"]
    api = HubSpot(access_token=creds["token"], host=creds["base_url"])
    prefs = running.sandbox.hubspot.preferences
    email = next(e for e, c in prefs.choices.items() if c[1].source == "DOUBLE_OPT_IN")
    raw = call(running, f"/communication-preferences/v3/status/email/{email}").json()
    known = set(PublicSubscriptionStatus.attribute_map.values())
    assert all(set(s) <= known for s in raw["subscriptionStatuses"])
    statuses = api.communication_preferences.status_api.get_email_status(email)
    assert [s.status for s in statuses.subscription_statuses] == ["SUBSCRIBED",
                                                                  "NOT_SUBSCRIBED"]


def test_v3_cannot_resubscribe_after_an_opt_out(running: RunningSandbox) -> None:
    creds = running.credentials()["hubspot"]
    status_api = HubSpot(access_token=creds["token"],
                         host=creds["base_url"]).communication_preferences.status_api
    request = PublicUpdateSubscriptionStatusRequest(
        email_address="doi@example.de", subscription_id="1", legal_basis="CONSENT_WITH_NOTICE",
        legal_basis_explanation="confirmed")
    assert status_api.subscribe(public_update_subscription_status_request=request).status \
        == "SUBSCRIBED"
    status_api.unsubscribe(public_update_subscription_status_request=request)
    with pytest.raises(ApiException) as refused:
        status_api.subscribe(public_update_subscription_status_request=request)
    assert refused.value.status == 400 and "cannot be resubscribed" in refused.value.body


def test_v4_batch_read_says_not_specified_for_a_type_nobody_chose(
        running: RunningSandbox) -> None:
    prefs = running.sandbox.hubspot.preferences
    chose = next(iter(prefs.choices))
    answer = call(running, f"{V4}/batch/read", {"inputs": [chose, "never@example.de"]},
                  channel="EMAIL").json()
    assert answer["status"] == "COMPLETE" and len(answer["results"]) == 2
    first, never = answer["results"]
    assert first["statuses"][0]["status"] in ("SUBSCRIBED", "UNSUBSCRIBED")
    assert {s["status"] for s in never["statuses"]} == {"NOT_SPECIFIED"}
    required = {"channel", "source", "status", "subscriberIdString", "subscriptionId",
                "timestamp"}
    assert all(required <= set(s) and isinstance(s["subscriptionId"], int)
               for r in answer["results"] for s in r["statuses"])
    assert call(running, f"{V4}/batch/read", {"inputs": [chose]}).status_code == 400
    too_many = {"inputs": [f"p{i}@example.de" for i in range(101)]}
    assert call(running, f"{V4}/batch/read", too_many, channel="EMAIL").status_code == 400


def test_v4_resubscribes_only_with_a_legal_basis(running: RunningSandbox) -> None:
    prefs = running.sandbox.hubspot.preferences
    prefs.set("gone@example.de", 1, Choice("UNSUBSCRIBED", "2025-01-01T00:00:00.000Z", "X"))
    item = {"subscriberIdString": "gone@example.de", "subscriptionId": 1, "channel": "EMAIL",
            "statusState": "SUBSCRIBED"}
    refused = call(running, f"{V4}/batch/write", {"inputs": [item]})
    assert refused.status_code == 207 and refused.json()["numErrors"] == 1
    assert prefs.state("gone@example.de") == "UNSUBSCRIBED"
    done = call(running, f"{V4}/batch/write", {"inputs": [
        {**item, "legalBasis": "CONSENT_WITH_NOTICE", "legalBasisExplanation": "DOI"}]}).json()
    assert done["results"][0]["setStatusSuccessReason"] == "RESUBSCRIBE_OCCURRED"
    assert prefs.state("gone@example.de") == "SUBSCRIBED"
    wrong_id = call(running, f"{V4}/batch/write", {"inputs": [{**item, "subscriptionId": "1"}]})
    assert wrong_id.json()["numErrors"] == 1  # v4 ids are integers


def test_unsubscribe_all_is_read_as_a_wide_status(running: RunningSandbox) -> None:
    assert call(running, f"{V4}/batch/unsubscribe-all", {"inputs": ["all@example.de"]},
                channel="EMAIL").status_code == 200
    wide = call(running, f"{V4}/batch/unsubscribe-all/read",
                {"inputs": ["all@example.de", "else@example.de"]}, channel="EMAIL").json()
    statuses = {r["subscriberIdString"]: r["wideStatuses"] for r in wide["results"]}
    assert statuses["else@example.de"] == []
    (portal,) = statuses["all@example.de"]
    assert portal["wideStatusType"] == "PORTAL_WIDE" and portal["status"] == "UNSUBSCRIBED"
    v3 = call(running, "/communication-preferences/v3/status/email/all@example.de").json()
    assert v3["subscriptionStatuses"][0]["sourceOfStatus"] == "PORTAL_WIDE_STATUS"


def test_a_token_without_a_scope_gets_hubspots_403() -> None:
    scopes = ["crm.objects.contacts.read", "communication_preferences.statuses.batch.read"]
    with Sandbox(contacts=20, seed=2, rate_limit=False, hubspot_scopes=scopes).start() as r:
        assert call(r, "/crm/v3/objects/contacts").status_code == 200
        refused = call(r, f"{V4}/batch/write", {"inputs": []})
        body = refused.json()
        assert refused.status_code == 403 and body["category"] == "MISSING_SCOPES"
        assert body["errors"][0]["context"]["requiredScopes"] == [
            "communication_preferences.statuses.batch.write"]
        info = httpx.post(r.credentials()["hubspot"]["base_url"]
                          + "/oauth/v2/private-apps/get/access-token-info",
                          json={"tokenKey": r.credentials()["hubspot"]["token"]}).json()
        assert info["scopes"] == sorted(scopes)


def test_custom_lifecycle_stages_are_the_property_options_and_the_rule() -> None:
    stages = {"subscriber": "Subscriber", "lead": "Lead", "1234567": "Qualified by marketing",
              "customer": "Customer"}
    with Sandbox(contacts=0, rate_limit=False, hubspot_stages=stages).start() as r:
        prop = call(r, "/crm/v3/properties/contacts/lifecyclestage").json()
        assert [o["value"] for o in prop["options"]] == list(stages)
        made = call(r, "/crm/v3/objects/contacts", {"properties": {
            "email": "x@example.de", "lifecyclestage": "marketingqualifiedlead"}})
        assert made.status_code == 400 and "INVALID_OPTION" in made.text
        ok = call(r, "/crm/v3/objects/contacts", {"properties": {
            "email": "x@example.de", "lifecyclestage": "1234567"}})
        assert ok.status_code == 201


def test_serve_issues_a_token_with_the_scopes_asked_for() -> None:
    hub = Path(sys.executable).parent / "hub"
    process = subprocess.Popen(
        [str(hub), "sandbox", "serve", "--json", "--contacts", "5",
         "--hubspot-scopes", "crm.objects.contacts.read"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        creds = json.loads(process.stdout.readline())["hubspot"]
        headers = {"Authorization": f"Bearer {creds['token']}"}
        url = creds["base_url"] + "/crm/v3/objects/contacts"
        assert httpx.get(url, headers=headers).status_code == 200
        refused = httpx.post(url, json={"properties": {"email": "x@example.de"}},
                             headers=headers)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["context"]["requiredScopes"] == [
            "crm.objects.contacts.write"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
