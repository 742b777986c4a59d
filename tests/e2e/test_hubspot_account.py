"""HubSpot as a real account shapes it, through the real CLI: a token without a scope and a
stage the portal lacks fail `hub check`; subscription statuses come in v4 batches, or through
v3 when the token lacks the batch scopes; "no choice" never unsubscribes anyone elsewhere.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.hubspot.simulator import ALL_SCOPES
from tests.e2e.conftest import run_hub, sandbox_config
from tests.e2e.test_consent import sync

pytestmark = pytest.mark.e2e

BATCH = "POST /communication-preferences/v4/statuses/batch/read"
V3_STATUS = "GET /communication-preferences/v3/status/email/{email}"


def served(scopes: Iterable[str] | None = None, **extra: Any) -> RunningSandbox:
    return Sandbox(contacts=300, seed=11, rate_scale=100, hubspot_scopes=scopes,
                   **extra).start()


def config(folder: Path, running: RunningSandbox, crm: str = "",
           subscriptions: bool = False) -> dict[str, str]:
    env = sandbox_config(folder, running, crm=f"rate_per_10s = 250\n{crm}",
                         extra='[consent]\nnewsletter = "newsletter"\n')
    if subscriptions:  # the shared helper switches them off
        path = folder / "config.toml"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "read_subscriptions = false", "read_subscriptions = true"), encoding="utf-8")
    return env


def test_check_names_a_missing_scope_and_exits_2(tmp_path: Path) -> None:
    with served(ALL_SCOPES - {"crm.objects.contacts.write",
                              "communication_preferences.statuses.batch.read"}) as running:
        env = config(tmp_path, running, subscriptions=True)
        result = run_hub("check", "--json", cwd=tmp_path, env=env)
        table = run_hub("check", cwd=tmp_path, env=env)
    assert result.code == 2, result.stdout + result.stderr
    crm = result.json()["connectors"]["crm"]
    assert crm["status"] == "problem"
    subjects = {f["subject"] for f in crm["findings"] if f["severity"] == "problem"}
    assert subjects == {"scope crm.objects.contacts.write",
                        "scope communication_preferences.statuses.batch.read"}
    assert table.code == 2 and "crm.objects.contacts.write" in table.stdout
    assert running.credentials()["hubspot"]["token"] not in table.stdout + table.stderr


def test_check_reports_a_lifecycle_mapping_to_a_stage_the_portal_lacks(tmp_path: Path) -> None:
    stages = {"subscriber": "Subscriber", "lead": "Lead", "mql_custom": "MQL",
              "salesqualifiedlead": "SQL", "opportunity": "Opportunity", "customer": "Customer",
              "evangelist": "Evangelist", "other": "Other"}
    with served(hubspot_stages=stages) as running:
        env = config(tmp_path / "wrong", running, 'lifecycle_stages = { mql = "mql_renamed" }')
        wrong = run_hub("check", "--json", cwd=tmp_path / "wrong", env=env)
        env = config(tmp_path / "right", running, 'lifecycle_stages = { mql = "mql_custom" }')
        right = run_hub("check", "--json", cwd=tmp_path / "right", env=env)
    assert wrong.code == 2, wrong.stdout + wrong.stderr
    (finding,) = wrong.json()["connectors"]["crm"]["findings"]
    assert finding["subject"] == "lifecycle stage"
    assert "'mql_renamed'" in finding["message"] and "mql_custom (MQL)" in finding["message"]
    assert right.code == 0 and right.json()["connectors"]["crm"]["status"] == "ok"


def member_status(running: RunningSandbox, email: str) -> str | None:
    found = running.sandbox.mailchimp.members.get(
        hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest())
    return None if found is None else str(found["status"])


def undecided(running: RunningSandbox) -> list[str]:
    """Addresses on the newsletter whose HubSpot newsletter type nobody chose."""
    prefs = running.sandbox.hubspot.preferences
    return sorted(p.hubspot.email.strip() for p in running.sandbox.people
                  if p.hubspot and p.mailchimp and prefs.state(p.hubspot.email) == "NOT_SPECIFIED")


def newsletter_after_sync(folder: Path, scopes: Iterable[str] | None, subscriptions: bool
                          ) -> tuple[dict[str, str | None], dict[str, int], dict[str, Any]]:
    """Mailchimp's status of the undecided after one sync, HubSpot's calls, the summary."""
    with served(scopes) as running:
        env = config(folder, running, subscriptions=subscriptions)
        summary = sync(folder, env)
        statuses = {e: member_status(running, e) for e in undecided(running)}
        calls = dict(running.sandbox.controls.requests["hubspot"])
    return statuses, calls, summary


def test_a_sync_reads_v4_statuses_in_batches_and_no_choice_unsubscribes_nobody(
        tmp_path: Path) -> None:
    control, _, _ = newsletter_after_sync(tmp_path / "off", None, subscriptions=False)
    seen, calls, summary = newsletter_after_sync(tmp_path / "v4", None, subscriptions=True)
    assert "subscribed" in control.values()
    assert seen == control  # HubSpot's NOT_SPECIFIED changed nobody's newsletter status
    # one status batch per page of 100 contacts read
    assert calls[BATCH] == math.ceil(summary["connectors"]["crm"]["read"] / 100)
    assert calls["POST /communication-preferences/v4/statuses/batch/unsubscribe-all/read"] \
        == calls[BATCH]
    assert V3_STATUS not in calls


def test_without_the_batch_scopes_v3_is_the_fallback_and_a_bare_not_subscribed_stays_local(
        tmp_path: Path) -> None:
    lacking = ALL_SCOPES - {"communication_preferences.statuses.batch.read",
                            "communication_preferences.statuses.batch.write"}
    control, _, _ = newsletter_after_sync(tmp_path / "off", lacking, subscriptions=False)
    seen, calls, summary = newsletter_after_sync(tmp_path / "v3", lacking, subscriptions=True)
    # v3 shows every type nobody chose as NOT_SUBSCRIBED: carried, it would unsubscribe these
    assert "subscribed" in control.values() and seen == control
    assert calls[BATCH] == 1  # tried once, refused for scope, then v3 for the rest
    assert calls[V3_STATUS] >= summary["connectors"]["crm"]["read"] - 1
