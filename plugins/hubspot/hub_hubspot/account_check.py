"""What `hub check` finds in a HubSpot account before any sync: scopes and lifecycle stages.

A private app's token carries the scopes someone ticked; a sync meets a missing one only at the
request that needs it (HubSpot's 403 ``MISSING_SCOPES``), possibly hours in. HubSpot tells a
private app's scopes through ``POST /oauth/v2/private-apps/get/access-token-info`` (body
``{"tokenKey"}``, the private apps guide), so the check compares them with what this
connector's settings need, one finding per missing scope. Accounts may also add, rename and
remove lifecycle stages (HubSpot changelog, September 2022): the stages hub would write are
compared with the options of ``GET /crm/v3/properties/contacts/lifecyclestage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import httpx

from hub.plugin import Finding
from hub_hubspot.mapping import PropertyMap
from hub_hubspot.responses import Account, json_object, missing_scopes
from hub_hubspot.settings import HubSpotSettings
from hub_hubspot.stream import CONTACTS
from hub_hubspot.subscriptions import BATCH_READ_SCOPE, BATCH_WRITE_SCOPE

TOKEN_INFO: Final = "/oauth/v2/private-apps/get/access-token-info"
STAGES: Final = "/crm/v3/properties/contacts/lifecyclestage"
PREFS_READ: Final = ("communication_preferences.read", "communication_preferences.read_write")
PREFS_WRITE: Final = ("communication_preferences.write", "communication_preferences.read_write")


@dataclass(frozen=True)
class Need:
    """A scope (any of `scopes`) the connector needs, what for, and how bad its absence is."""

    scopes: tuple[str, ...]
    purpose: str
    severity: Literal["problem", "warning"] = "problem"
    advice: str = ""


def needs(settings: HubSpotSettings, granted: frozenset[str] | None = None) -> list[Need]:
    """The scopes these settings use (HubSpot's scopes reference and each endpoint's page).

    With ``subscriptions_api = "auto"`` the v3 scopes count only when the token lacks the v4
    batch scopes (`granted`), since only then does hub fall back to v3.
    """
    found = [Need(("crm.objects.contacts.read",), "reading contacts"),
             Need(("crm.objects.contacts.write",), "writing contacts"),
             Need(("crm.schemas.contacts.read",), "reading the account's lifecycle stages",
                  "warning", "hub check cannot compare the lifecycle stage mapping without it")]
    if settings.subscriptions_api != "v3":
        fallback = " (hub falls back to the v3 API: one request per contact, and a type " \
            "nobody chose looks like an opt-out there)" if settings.subscriptions_api == "auto" \
            else ""
        advice = ("the batch scopes need Marketing Hub Enterprise; add the scope, or set "
                  f"subscriptions_api = \"v3\" to accept the fallback{fallback}")
        if settings.read_subscriptions:
            found.append(Need((BATCH_READ_SCOPE,), "reading subscription statuses in batches "
                              "(v4)", advice=advice))
        found.append(Need((BATCH_WRITE_SCOPE,), "writing subscription statuses (v4)",
                          advice=advice))
    batches = {BATCH_WRITE_SCOPE} | ({BATCH_READ_SCOPE} if settings.read_subscriptions else set())
    falls_back = settings.subscriptions_api == "v3" or (
        settings.subscriptions_api == "auto" and granted is not None
        and not batches <= granted)
    if falls_back:
        if settings.read_subscriptions:
            found.append(Need(PREFS_READ, "reading subscription statuses (v3)"))
        found.append(Need(PREFS_WRITE, "writing subscription statuses (v3)"))
    if settings.subscription_id is None:
        found.append(Need(PREFS_READ, "finding the subscription type (or set subscription_id)"))
    first: dict[tuple[str, ...], Need] = {}
    for need in found:
        first.setdefault(need.scopes, need)
    return list(first.values())


class AccountCheck:
    """One connector's look at its account: cheap reads only."""

    def __init__(self, client: httpx.Client, account: Account, settings: HubSpotSettings,
                 mapping: PropertyMap) -> None:
        self._client = client
        self._account = account
        self._settings = settings
        self._mapping = mapping

    def run(self, token: str) -> list[Finding]:
        """Raise for a refused token; return the findings (scopes first, then stages)."""
        listing = self._client.get(CONTACTS, params={"limit": 1})
        refused = missing_scopes(listing) is not None
        if not refused:
            self._account.check(listing, "listing one contact")
            if listing.status_code != 200:
                raise self._account.unexpected(listing, "listing one contact")
        granted = self._granted(token)
        findings = self._scopes(granted)
        if granted is None and refused:
            findings.append(Finding("problem", "scope crm.objects.contacts.read", (
                "HubSpot refused to list contacts for a missing scope; give the private app "
                "crm.objects.contacts.read")))
        if granted is None or "crm.schemas.contacts.read" in granted:
            findings.extend(self._stages())
        return findings

    def _granted(self, token: str) -> frozenset[str] | None:
        """The token's scopes, or None when HubSpot will not say (e.g. an OAuth token)."""
        response = self._client.post(TOKEN_INFO, json={"tokenKey": token})
        if response.status_code != 200:
            return None
        scopes = json_object(response, "the token's scopes").get("scopes")
        return frozenset(str(s) for s in scopes) if isinstance(scopes, list) else None

    def _scopes(self, granted: frozenset[str] | None) -> list[Finding]:
        if granted is None:
            wanted = sorted({" or ".join(n.scopes) for n in needs(self._settings)})
            return [Finding("warning", "scopes", (
                "HubSpot did not say which scopes this token has (only private-app tokens "
                f"can be asked); make sure it has: {', '.join(wanted)}"))]
        findings = []
        for need in needs(self._settings, granted):
            if set(need.scopes) & granted:
                continue
            advice = f"; {need.advice}" if need.advice else ""
            findings.append(Finding(need.severity, f"scope {need.scopes[0]}", (
                f"the private app lacks {' or '.join(need.scopes)}, needed for "
                f"{need.purpose}: add it under Settings → Integrations → Private apps → "
                f"Scopes{advice}")))
        return findings

    def _stages(self) -> list[Finding]:
        response = self._client.get(STAGES)
        if missing_scopes(response) is not None:
            return []
        self._account.check(response, "the lifecycle stage property")
        if response.status_code != 200:
            raise self._account.unexpected(response, "the lifecycle stage property")
        options = json_object(response, "the lifecycle stage property").get("options") or []
        known = {str(o.get("value")): str(o.get("label") or o.get("value"))
                 for o in options if isinstance(o, Mapping) and o.get("value")}
        listed = ", ".join(f"{value} ({label})" for value, label in known.items())
        where = f"[connectors.{self._account.connector}] lifecycle_stages"
        return [Finding("problem", "lifecycle stage", (
            f"hub writes stage {stage.value} as {value!r}, which this HubSpot account does not "
            f"have (its stages: {listed or 'none'}); map it in {where} = "
            f"{{ {stage.value} = \"<internal value>\" }}, or \"\" to never write it"))
            for stage, value in self._mapping.stages.items() if value not in known]
