"""The HubSpot connector: contacts, lifecycle signals and e-mail subscriptions (CRM v3).

It declares what it can do and wires the parts: `stream.ContactStream` reads,
`batch.ContactBatch` writes, `subscriptions.Subscriptions` speaks communication preferences.
Two HTTP clients come from hub's HTTP layer, each with its own client-side limit: one for the
app's rolling 10 s window, a slower one for the search API's per-second policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import ClassVar

import httpx

from hub.plugin import (
    Capability,
    Connector,
    ConnectorContext,
    ConnectorError,
    ConnectorSettings,
    Finding,
    OutboundRecord,
    Page,
    WriteResult,
)
from hub_hubspot.batch import MAX_INPUTS, ContactBatch
from hub_hubspot.mapping import PropertyMap
from hub_hubspot.responses import Account
from hub_hubspot.settings import HubSpotSettings
from hub_hubspot.stream import CONTACTS, SEARCH_LIMIT, ContactStream
from hub_hubspot.subscriptions import Subscriptions
from hub_hubspot.throttle import app_rate, classify, search_rate


class HubSpotConnector(Connector):
    """``plugin = "hubspot"``: one HubSpot account through a private app's token."""

    plugin: ClassVar[str] = "hubspot"
    Settings: ClassVar[type[ConnectorSettings]] = HubSpotSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ_CONTACTS, Capability.WRITE_CONTACTS, Capability.WRITE_LEAD_STATUS,
        Capability.READ_CONSENT, Capability.WRITE_CONSENT, Capability.DELETE_CONTACTS,
    })
    streams: ClassVar[tuple[str, ...]] = ("contacts",)
    #: The search API's page maximum (the list endpoint's is 100).
    page_size: ClassVar[int] = SEARCH_LIMIT
    batch_size: ClassVar[int] = MAX_INPUTS
    #: language (an enumeration in HubSpot) and birthday (a date) are mapped but only written
    #: when config lists them in write_fields.
    default_write_fields: ClassVar[tuple[str, ...]] = (
        "email", "first_name", "last_name", "phone", "company", "job_title",
        "street", "city", "zip", "region", "country",
    )
    creates_records: bool = True
    keyed_by_email: ClassVar[bool] = True  # batch/upsert with idProperty=email

    settings: HubSpotSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        if not isinstance(settings, HubSpotSettings):
            settings = HubSpotSettings.model_validate(settings.model_dump())
        super().__init__(settings, context)
        self.mapping = PropertyMap(self.settings.properties)
        self.account = Account(self.name, self.settings.token)

    # -- clients (built on first use, so a connector that is never run needs no secret) -----
    def _headers(self) -> dict[str, str]:
        token = self.context.secret(self.settings.token)
        return {"Authorization": f"Bearer {token.get_secret_value()}",
                "Accept": "application/json"}

    @cached_property
    def client(self) -> httpx.Client:
        """Every endpoint but search: limited to the app's rolling 10 s window."""
        return self.context.client(base_url=self.settings.base_url, headers=self._headers(),
                                   classify=classify, rate=app_rate(self.settings.rate_per_10s))

    @cached_property
    def search_client(self) -> httpx.Client:
        """The search endpoint: its own, slower per-second limit."""
        return self.context.client(base_url=self.settings.base_url, headers=self._headers(),
                                   classify=classify,
                                   rate=search_rate(self.settings.search_rate_per_s))

    @cached_property
    def subscriptions(self) -> Subscriptions:
        """Communication preferences of this account."""
        return Subscriptions(self.client, self.account, self.settings.subscription_id)

    @cached_property
    def _batch(self) -> ContactBatch:
        return ContactBatch(self.client, self.account, self.mapping)

    # -- the contract ------------------------------------------------------------------------
    def check(self) -> Sequence[Finding]:
        """One cheap authenticated request; a refused token names the secret to fix."""
        response = self.client.get(CONTACTS, params={"limit": 1})
        self.account.check(response, "listing one contact")
        if response.status_code != 200:
            raise self.account.unexpected(response, "listing one contact")
        return ()

    def read(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Contacts changed since `cursor` (None: all), then the ones archived since."""
        if stream != "contacts":
            raise ConnectorError(f"connector {self.name!r}: HubSpot has no stream {stream!r} "
                                 f"(streams: {', '.join(self.streams)})")
        reader = ContactStream(
            client=self.client, search_client=self.search_client, account=self.account,
            mapping=self.mapping,
            subscriptions=self.subscriptions if self.settings.read_subscriptions else None,
            clock=self.context.clock, overlap_s=self.settings.search_overlap_s,
            result_cap=self.settings.search_result_cap)
        yield from reader.read(cursor)

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """Upsert by e-mail, update by id, archive deletes, then carry withdrawals.

        hub's consent decision `unsubscribed` (an opt-out, bounce or complaint anywhere) is
        applied to the contact's marketing subscription; subscribing is left to HubSpot's own
        forms, since its v3 API cannot resubscribe after an opt-out anyway.
        """
        results = self._batch.write(records)
        answers = {r.key: r for r in results}
        for record in records:
            email = str(record.fields.get("email") or "").strip()
            done = answers.get(record.key)
            if record.consent != "unsubscribed" or not email or done is None \
                    or done.status not in ("created", "updated", "unchanged"):
                continue
            changed = self.set_subscription(email, False, key=record.key)
            if changed.status == "rejected":
                answers[record.key] = WriteResult(record.key, "rejected",
                                                  external_id=done.external_id,
                                                  reason=changed.reason)
            elif changed.status == "updated" and done.status == "unchanged":
                answers[record.key] = WriteResult(record.key, "updated",
                                                  external_id=done.external_id)
        return [answers[r.key] for r in records]

    def close(self) -> None:
        """Close the HTTP clients that were opened."""
        for name in ("client", "search_client"):
            opened = self.__dict__.pop(name, None)
            if opened is not None:
                opened.close()

    # -- for the consent issue -----------------------------------------------------------------
    def set_subscription(self, email: str, subscribed: bool, legal_basis: str | None = None,
                         explanation: str | None = None, *, key: str | None = None
                         ) -> WriteResult:
        """Subscribe or unsubscribe `email` to the configured subscription type.

        `legal_basis` is one of HubSpot's GDPR bases (``CONSENT_WITH_NOTICE`` for a proven
        opt-in) and is required to subscribe. HubSpot's v3 API cannot resubscribe a contact who
        opted out: that comes back ``rejected`` with the reason, as does any other refusal.
        `key` (default: the e-mail) is the answer's key, for the outbox.
        """
        return self.subscriptions.change(key or email, email, subscribed, legal_basis,
                                         explanation)

    def gdpr_delete(self, email: str) -> bool:
        """Erase the contact with `email` for good (GDPR Art. 17); False when none exists."""
        return self._batch.gdpr_delete(email)
