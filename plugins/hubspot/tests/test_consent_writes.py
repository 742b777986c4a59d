"""Consent decisions written to HubSpot: withdrawals, resubscription on a proven DOI (v4 only,
with its legal basis), nothing for `pending`, and hub's own write read back as nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.connector import ConnectorContext, OutboundRecord
from hub.secrets import MemoryBackend, Secrets
from hub_hubspot import HubSpotConnector, HubSpotSettings
from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.hubspot.preferences import Choice

OPTED_OUT = "weg@example.de"
SUBSCRIBED = "dabei@example.de"


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=0, rate_limit=False).start() as served:
        sim = served.sandbox.hubspot
        for email, state in ((OPTED_OUT, "UNSUBSCRIBED"), (SUBSCRIBED, "SUBSCRIBED")):
            sim.create({"email": email})
            sim.preferences.set(email, 1, Choice(state, "2025-01-01T00:00:00.000Z", "FORM",
                                                 "LEGITIMATE_INTEREST_OTHER"))
        yield served


def connector(running: RunningSandbox, **settings: Any) -> HubSpotConnector:
    creds = running.credentials()["hubspot"]
    return HubSpotConnector(HubSpotSettings.model_validate({
        "plugin": "hubspot", "token": {"secret": "t"}, "base_url": creds["base_url"],
        **settings}), ConnectorContext(
        name="crm", secrets=Secrets(MemoryBackend({"t": creds["token"]}), environ={})))


def told(email: str, consent: str) -> OutboundRecord:
    return OutboundRecord(email, 1, {"email": email}, consent=consent)


def test_v4_resubscribes_a_proven_doi_on_consent_with_notice(running: RunningSandbox) -> None:
    crm = connector(running)
    (answer,) = crm.write([told(OPTED_OUT, "subscribed")])
    assert answer.status == "updated"
    choice = running.sandbox.hubspot.preferences.choices[OPTED_OUT][1]
    assert (choice.status, choice.legal_basis) == ("SUBSCRIBED", "CONSENT_WITH_NOTICE")
    assert choice.explanation and choice.explanation.startswith("hub:")
    records = [r for p in crm.read("contacts", None) for r in p.records]
    mine = next(r for r in records if r.fields.get("email") == OPTED_OUT)
    assert mine.consent == ()  # hub's own decision, not new evidence
    other = next(r for r in records if r.fields.get("email") == SUBSCRIBED)
    assert [o.kind for o in other.consent] == ["single_opt_in"]


def test_v3_cannot_resubscribe_and_says_why(running: RunningSandbox) -> None:
    (answer,) = connector(running, subscriptions_api="v3").write([told(OPTED_OUT, "subscribed")])
    assert answer.status == "rejected" and "v3" in (answer.reason or "")
    assert running.sandbox.hubspot.preferences.state(OPTED_OUT) == "UNSUBSCRIBED"


def test_a_withdrawal_unsubscribes_the_type_or_everything(running: RunningSandbox) -> None:
    prefs = running.sandbox.hubspot.preferences
    (answer,) = connector(running).write([told(SUBSCRIBED, "unsubscribed")])
    assert answer.status == "updated" and prefs.state(SUBSCRIBED) == "UNSUBSCRIBED"
    assert SUBSCRIBED not in prefs.wide
    connector(running, withdrawal="all").write([told(OPTED_OUT, "unsubscribed")])
    assert prefs.wide[OPTED_OUT].status == "UNSUBSCRIBED"


def test_pending_changes_nothing(running: RunningSandbox) -> None:
    connector(running).write([told(OPTED_OUT, "pending"), told("neu@example.de", "pending")])
    prefs = running.sandbox.hubspot.preferences
    assert prefs.state(OPTED_OUT) == "UNSUBSCRIBED"
    assert prefs.state("neu@example.de") == "NOT_SPECIFIED"
