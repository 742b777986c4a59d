"""The HubSpot connector: contacts, lifecycle signals and e-mail subscriptions (CRM v3).

It declares what it can do and wires the parts: `stream.ContactStream` reads,
`batch.ContactBatch` writes, `subscriptions.Subscriptions` speaks communication preferences
(v4, or v3 as the fallback), `account_check.AccountCheck` tells `hub check` what the account
lacks.
Two HTTP clients come from hub's HTTP layer, each with its own client-side limit: one for the
app's rolling 10 s window, a slower one for the search API's per-second policy.
"""

from __future__ import annotations

import hashlib
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
    SystemKind,
    WriteResult,
)
from hub_hubspot.account_check import AccountCheck
from hub_hubspot.batch import MAX_INPUTS, ContactBatch
from hub_hubspot.mapping import PropertyMap
from hub_hubspot.responses import Account
from hub_hubspot.settings import HubSpotSettings
from hub_hubspot.stream import SEARCH_LIMIT, ContactStream
from hub_hubspot.subscriptions import DOI_BASIS, OWN_MARK, Change, Subscriptions
from hub_hubspot.throttle import app_rate, classify, search_rate

#: How hub explains its own subscribe writes (recognised as its own when read back).
OWN_CONFIRMATION = (f"{OWN_MARK} double opt-in confirmed; the proof is in hub's consent "
                    "ledger (hub consent show)")


class HubSpotConnector(Connector):
    """``plugin = "hubspot"``: one HubSpot account through a private app's token."""

    plugin: ClassVar[str] = "hubspot"
    system: ClassVar[SystemKind] = SystemKind.CRM
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
        self.mapping = PropertyMap(self.settings.properties, self.settings.lifecycle_stages)
        self.account = Account(self.name, self.settings.token)

    # -- clients (built on first use, so a connector that is never run needs no secret) -----
    def _headers(self) -> dict[str, str]:
        token = self.context.secret(self.settings.token)
        return {"Authorization": f"Bearer {token.get_secret_value()}",
                "Accept": "application/json"}

    def _account_key(self) -> str:
        """Which app's limits a client counts against: a digest of base URL and token, so
        connectors of one app in this process share its windows (never the token itself)."""
        token = self.context.secret(self.settings.token).get_secret_value()
        return hashlib.sha256(f"{self.settings.base_url}\0{token}".encode()).hexdigest()

    @cached_property
    def client(self) -> httpx.Client:
        """Every endpoint but search: limited to the app's rolling 10 s window."""
        return self.context.client(base_url=self.settings.base_url, headers=self._headers(),
                                   classify=classify,
                                   rate=app_rate(self.settings.rate_per_10s,
                                                 self._account_key()))

    @cached_property
    def search_client(self) -> httpx.Client:
        """The search endpoint: its own, slower per-second limit."""
        return self.context.client(base_url=self.settings.base_url, headers=self._headers(),
                                   classify=classify,
                                   rate=search_rate(self.settings.search_rate_per_s,
                                                    self._account_key()))

    @cached_property
    def subscriptions(self) -> Subscriptions:
        """Communication preferences of this account."""
        return Subscriptions(self.client, self.account, self.settings.subscription_id,
                             api=self.settings.subscriptions_api,
                             doi_sources=self.settings.doi_sources,
                             batch_size=self.settings.status_batch_size,
                             logger=self.context.logger)

    @cached_property
    def _batch(self) -> ContactBatch:
        return ContactBatch(self.client, self.account, self.mapping)

    # -- the contract ------------------------------------------------------------------------
    def check(self) -> Sequence[Finding]:
        """A refused token raises, naming the secret; missing scopes and lifecycle stages the
        account lacks come back as findings (`account_check`)."""
        token = self.context.secret(self.settings.token).get_secret_value()
        return AccountCheck(self.client, self.account, self.settings, self.mapping).run(token)

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
        """Upsert by e-mail, update by id, archive deletes, then the consent decisions.

        `unsubscribed` (an opt-out, bounce or complaint anywhere) unsubscribes the contact from
        the subscription type (or from all e-mail with ``withdrawal = "all"``). `subscribed`,
        which hub sends only on a proven double opt-in (docs/consent.md, rule 2), subscribes
        on CONSENT_WITH_NOTICE, resubscribing after an opt-out where v4 allows it. `pending`
        changes nothing: HubSpot's API cannot ask for a confirmation mail.
        """
        results = self._batch.write(records)
        answers = {r.key: r for r in results}
        changes: list[Change] = []
        everywhere: list[Change] = []  # withdrawals sent as an unsubscribe from all
        for record in records:
            email = str(record.fields.get("email") or "").strip()
            done = answers.get(record.key)
            if record.consent not in ("unsubscribed", "subscribed") or not email \
                    or done is None or done.status not in ("created", "updated", "unchanged"):
                continue
            if record.consent == "subscribed":
                changes.append(Change(record.key, email, True, DOI_BASIS, OWN_CONFIRMATION))
            elif self.settings.withdrawal == "all" and self.subscriptions.api == "v4":
                everywhere.append(Change(record.key, email, False))
            else:
                changes.append(Change(record.key, email, False))
        said = self.subscriptions.change_many(changes)
        if everywhere:
            self.subscriptions.unsubscribe_all([c.email for c in everywhere])
            said.update({c.key: WriteResult(c.key, "updated") for c in everywhere})
        for key, changed in said.items():
            done = answers[key]
            if changed.status in ("rejected", "retry"):
                answers[key] = WriteResult(key, changed.status, external_id=done.external_id,
                                           reason=changed.reason)
            elif changed.status == "updated" and done.status == "unchanged":
                answers[key] = WriteResult(key, "updated", external_id=done.external_id)
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
        opt-in) and is required to subscribe. v4 can resubscribe a contact who opted out; v3
        cannot, and that comes back ``rejected`` with the reason, as does any other refusal.
        `key` (default: the e-mail) is the answer's key, for the outbox.
        """
        change = Change(key or email, email, subscribed, legal_basis, explanation)
        return self.subscriptions.change_many([change])[change.key]

    def unsubscribe_all(self, emails: Sequence[str]) -> int:
        """Opt `emails` out of every e-mail subscription type, portal-wide (v4 only)."""
        return self.subscriptions.unsubscribe_all(emails)

    def gdpr_delete(self, email: str) -> bool:
        """Erase the contact with `email` for good (GDPR Art. 17); False when none exists."""
        return self._batch.gdpr_delete(email)
