"""The ``[connectors.NAME]`` table of a HubSpot connector.

Example::

    [connectors.crm]
    plugin = "hubspot"
    token = { secret = "hubspot-token" }      # a private-app access token
    rate_per_10s = 190                        # Professional/Enterprise; 250 with the API pack
    properties = { phone = "mobilephone" }    # golden field → HubSpot property overrides
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from hub.plugin import ConnectorSettings, SecretRef
from hub_hubspot.mapping import PropertyMap, check_overrides, check_stages


class HubSpotSettings(ConnectorSettings):
    """Settings of one HubSpot account (one private app)."""

    #: The private app's access token (Settings → Integrations → Private apps).
    token: SecretRef
    #: The API root; the sandbox or a proxy only differ here.
    base_url: str = "https://api.hubapi.com"
    #: Golden field → HubSpot internal property name, over the defaults in `mapping.py`;
    #: "" unmaps a field.
    properties: dict[str, str] = Field(default_factory=dict)
    #: The private app's limit per rolling 10 s: 100 (Free/Starter), 190
    #: (Professional/Enterprise), 250 (with the API limit increase pack). hub uses all of it,
    #: counting each call until 10 s after its answer (never over the window HubSpot sees).
    rate_per_10s: int = Field(default=100, ge=1, le=250)
    #: Search API requests per second; HubSpot allows 5 per account (counted the same way).
    search_rate_per_s: float = Field(default=5.0, gt=0, le=5)
    #: Read each contact's e-mail subscription status with the contacts.
    read_subscriptions: bool = True
    #: The marketing subscription type hub reads and writes; default: the first active
    #: definition in /communication-preferences/v3/definitions.
    subscription_id: str | None = None
    #: "auto": the v4 batch API, or v3 when the token lacks the batch scopes (they need
    #: Marketing Hub Enterprise); "v4" or "v3" to insist. v3 costs one request per contact
    #: and cannot tell a type nobody chose from an opt-out.
    subscriptions_api: Literal["auto", "v4", "v3"] = "auto"
    #: v4 ``source`` values that this account's double opt-in writes on a confirmed status.
    #: Only SUBSCRIBED on CONSENT_WITH_NOTICE from one of these is a confirmed DOI; HubSpot
    #: documents no such value, so none is assumed.
    doi_sources: list[str] = Field(default_factory=list)
    #: Addresses per v4 status batch (HubSpot states no limit; its other batches take 100).
    status_batch_size: int = Field(default=100, ge=1, le=1000)
    #: What a withdrawal from another system becomes here: "subscription" (the subscription
    #: type above) or "all" (unsubscribe from all e-mail, portal-wide; v4 only).
    withdrawal: Literal["subscription", "all"] = "subscription"
    #: hub's lifecycle stage → this account's `lifecyclestage` internal value, over the
    #: standard ones (mql = "marketingqualifiedlead", ...); "" never writes that stage.
    #: `hub check` compares the result with the account's stages.
    lifecycle_stages: dict[str, str] = Field(default_factory=dict)
    #: Incremental reads start this many seconds before the cursor: HubSpot's search index
    #: shows updates up to about a minute late, and a re-read record is skipped as unchanged.
    search_overlap_s: float = Field(default=60.0, ge=0)
    #: Results one search query may page through (HubSpot: 10,000; paging further is a 400).
    search_result_cap: int = Field(default=10_000, ge=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"base_url {value!r} must start with https:// (or http:// for "
                             "the local sandbox)")
        return value.rstrip("/")

    @field_validator("lifecycle_stages")
    @classmethod
    def _stages(cls, value: dict[str, str]) -> dict[str, str]:
        return check_stages(value)

    @field_validator("properties")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return check_overrides(value)

    @model_validator(mode="after")
    def _writable_fields(self) -> HubSpotSettings:
        if self.write_fields is not None:
            gaps = PropertyMap(self.properties).unmapped(self.write_fields)
            if gaps:
                raise ValueError(
                    f"write_fields {gaps} have no HubSpot property; add them to `properties` "
                    "(golden field = \"hubspot_property\") or remove them from write_fields")
        return self
