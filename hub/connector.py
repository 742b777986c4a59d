"""The connector contract: what a connector declares and the four things it does.

A connector *declares* (its type name, its `Settings` model, its capabilities, its streams,
page and batch sizes) and *does* four things: `check()` connectivity, `read()` one stream from
a cursor page by page, `write()` a batch and answer per record, and `close()`. Paging loops
across runs, checkpoints, retries of whole batches, counting and the outbox all live in the
engine, so a connector stays small. Register a connector class through the
`register_connectors` hook (see `hub.hookspecs`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.clock import utcnow
from hub.http import (
    Classifier,
    Counter,
    RateLimit,
    RetryPolicy,
    Timeouts,
    build_client,
    default_classify,
)
from hub.secrets import SecretRef, Secrets


class Capability(StrEnum):
    """What a connector can do; the engine only asks for what is declared."""

    READ_CONTACTS = "read_contacts"
    WRITE_CONTACTS = "write_contacts"
    WRITE_LEAD_STATUS = "write_lead_status"
    READ_ORDERS = "read_orders"
    READ_ENGAGEMENT = "read_engagement"
    READ_CONSENT = "read_consent"
    WRITE_CONSENT = "write_consent"
    DELETE_CONTACTS = "delete_contacts"


class SystemKind(StrEnum):
    """What kind of system a connector talks to; hub applies rules by kind, not by name.

    A ``newsletter`` is where e-mail marketing is sent from: hub writes to it only what consent
    allows, whether or not ``[consent] newsletter`` names the connector (docs/consent.md,
    rule 11). The other kinds change nothing yet; they say what the system is for.
    """

    CRM = "crm"
    SHOP = "shop"
    NEWSLETTER = "newsletter"
    FILE = "file"
    OTHER = "other"


@dataclass(frozen=True)
class Finding:
    """Something `check()` found that a sync would trip over later, though the system answers.

    A token without a scope, a lifecycle stage the account renamed, an API version the vendor
    will stop serving: each lets `hub check` pass a connection test while the first real sync
    loses a write or a whole stream. A finding says what is wrong and what to do about it, in
    words an operator can act on, and never quotes a secret or a person's data.

    ``problem``: a sync would fail or skip data (exit code 2, like a configuration error).
    ``warning``: a sync works today but something is due (a version falling forward soon).
    """

    severity: Literal["problem", "warning"]
    #: What the finding is about, short and stable: "scope", "api version", "lifecycle stage".
    subject: str
    #: What is wrong and what to do, one or two sentences.
    message: str


class ConnectorSettings(BaseModel):
    """Base of every connector's settings: the keys every ``[connectors.NAME]`` table shares.

    A plugin subclasses this with its own keys. Unknown keys are errors (a typo must not be
    silently ignored); secrets are typed `SecretRef` and resolved with `ConnectorContext.secret`.
    """

    model_config = ConfigDict(extra="forbid")

    plugin: str
    enabled: bool = True
    #: Golden fields this connector writes; None means the connector's own default.
    write_fields: list[str] | None = None
    #: Seconds to wait for a connection / for an answer; None: ``[hub]``'s, else the plugin's.
    connect_timeout_seconds: float | None = Field(default=None, gt=0)
    read_timeout_seconds: float | None = Field(default=None, gt=0)


@dataclass(frozen=True, slots=True)
class ConsentObservation:
    """What a system says about a contact's e-mail marketing permission, with its evidence.

    `kind` is one of: signup, single_opt_in, doi_requested, doi_confirmed, opt_out, bounce,
    complaint, erasure, none. Only evidence of a confirmed double opt-in may say
    ``doi_confirmed`` (docs/consent.md, rule 1).
    """

    kind: str
    at: datetime | None
    purpose: str = "newsletter"
    channel: str = "email"
    evidence: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One contact as one system holds it, mapped to golden field names, not yet normalised.

    `id` is the system's own stable id (a CRM id, a Shopify gid, a CSV row key): the same id
    always maps to the same golden contact, even when the e-mail in it changes.
    """

    id: str
    fields: Mapping[str, Any]
    updated_at: datetime | None = None
    deleted: bool = False
    consent: Sequence[ConsentObservation] = ()
    #: Behaviour signals for scoring and customer value (orders, engagement), by name.
    signals: Mapping[str, Any] = field(default_factory=dict)
    #: Where the record came from in human terms (file and line), for error messages.
    origin: str | None = None
    #: The connector's digest of the record as the system delivered it, over everything that
    #: shapes the record (the raw row and the settings that map it), or None. A record read
    #: with a digest can later be skipped before it is built: `ConnectorContext.unchanged`.
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the connector could not use or the system refused, with the reason.

    It becomes a dead letter; the rest of the run carries on.
    """

    record_id: str | None
    reason: str
    origin: str | None = None
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a stream; the engine commits its records and `cursor` in one transaction.

    `cursor` is opaque to the engine (a JSON-able string the connector understands); the next
    `read()` after a crash starts from the last committed one. `total`, when the system says
    how many records the whole read will return, feeds the reconciliation counts.
    """

    records: Sequence[SourceRecord]
    cursor: str | None
    rejected: Sequence[Rejection] = ()
    total: int | None = None
    #: Ids of records the connector left unbuilt because `ConnectorContext.unchanged` said
    #: hub holds them exactly as delivered: they count as read, seen and unchanged.
    unchanged: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    """A golden contact (or part of it) that the engine wants written to one system.

    `key` is the outbox key: idempotent, the same write has the same key across retries.
    `external_id` is this system's id for the contact when hub already knows it.
    `operation`: ``upsert``; ``delete`` (archive, the record may come back); ``erase`` (GDPR
    erasure, `hub consent forget`: delete for good where the system can, with the address in
    ``fields["email"]``; a connector that cannot answers ``rejected`` with what to do).
    """

    key: str
    contact_id: int
    fields: Mapping[str, Any]
    external_id: str | None = None
    operation: Literal["upsert", "delete", "erase"] = "upsert"
    consent: str | None = None


WriteStatus = Literal["created", "updated", "unchanged", "rejected", "retry"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The system's answer for one `OutboundRecord`, matched by `key`."""

    key: str
    status: WriteStatus
    external_id: str | None = None
    reason: str | None = None


@dataclass
class ConnectorContext:
    """Everything a connector gets from outside, so tests can hand it fakes instead of patching.

    `base_dir` is the folder of config.toml: relative paths in settings are relative to it.
    `client()` builds the connector's HTTP client with hub's retries, rate limiting and request
    counting; tests set `transport` (and `sleep`) to bind it to the sandbox without waiting.
    """

    name: str
    secrets: Secrets
    base_dir: Path = field(default_factory=Path.cwd)
    clock: Callable[[], datetime] = utcnow
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("hub.connector"))
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    #: When set, overrides every client's retry policy (`hub check` uses a short one).
    retry: RetryPolicy | None = None
    #: Connect and read timeouts chosen in the config (None where the plugin's default holds).
    timeouts: Timeouts = field(default_factory=Timeouts)
    #: Requests made to the system in this run; the HTTP layer counts, the engine reports.
    api_calls: int = 0
    #: Set by the engine while it reads: given {record id: digest} for records about to be
    #: built, the ids whose stored record came from the same digest, under the same
    #: normalisation, and is live. A connector that re-delivers everything (a re-exported
    #: file) asks before building each page and lists those ids in `Page.unchanged` instead:
    #: building and hashing a record costs more than reading it. None outside a read.
    unchanged: Callable[[Mapping[str, str]], set[str]] | None = None
    _counters: list[Counter] = field(default_factory=list, repr=False)

    def secret(self, ref: SecretRef) -> SecretStr:
        """Resolve a secret setting; the error names this connector and both ways to set it."""
        return self.secrets.resolve(ref, where=f"connector {self.name!r}")

    def client(self, *, base_url: str, headers: dict[str, str] | None = None, auth: Any = None,
               classify: Classifier | None = None, rate: RateLimit | None = None,
               policy: RetryPolicy | None = None, timeout: float = 60.0,
               max_connections: int = 10) -> httpx.Client:
        """An HTTP client for this connector: counted, rate-limited, retrying (hub.http)."""
        counter = Counter(on_request=self._count_request)
        self._counters.append(counter)
        return build_client(base_url=base_url, headers=headers, auth=auth,
                            classify=classify or default_classify, rate=rate,
                            policy=self.retry or policy,
                            counter=counter, timeout=self.timeouts.apply(timeout),
                            transport=self.transport, sleep=self.sleep,
                            max_connections=max_connections, name=self.name)

    def _count_request(self) -> None:
        self.api_calls += 1

    @property
    def throttled(self) -> int:
        """Responses that said "slow down" (429 or a throttling error), over every client."""
        return sum(c.throttled for c in self._counters)

    @property
    def retries(self) -> int:
        """Retried requests so far, over every client this context built."""
        return sum(c.retries for c in self._counters)

    def path(self, value: str | Path) -> Path:
        """A settings path made absolute against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


class Connector:
    """Base class of every connector type. Subclass, declare, implement the four methods."""

    #: The type name used as ``plugin = "..."`` in config.toml.
    plugin: ClassVar[str]
    #: What the system is. Declare ``SystemKind.NEWSLETTER`` for anything that mails people:
    #: hub then writes to it only what consent allows, whatever the config says.
    system: ClassVar[SystemKind] = SystemKind.OTHER
    #: The pydantic model of this connector's ``[connectors.NAME]`` table.
    Settings: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Streams `read()` accepts, in the order the engine reads them.
    streams: ClassVar[tuple[str, ...]] = ("contacts",)
    #: Largest page `read()` should return and largest batch `write()` accepts.
    page_size: ClassVar[int] = 1000
    batch_size: ClassVar[int] = 100
    #: Golden fields written when the config does not say `write_fields`.
    default_write_fields: ClassVar[tuple[str, ...]] = ()
    #: Whether the engine may create records in this system (False: update linked ones only).
    #: An instance may set it from its settings (Shopify's `create_customers`).
    creates_records: bool = True
    #: Whether the system finds the record to write by its e-mail address (an upsert by
    #: e-mail, a list keyed by address): hub then never writes two contacts that share an
    #: address there, and reports the conflict instead.
    keyed_by_email: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context
        self.name = context.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def check(self) -> Sequence[Finding]:
        """Prove the system is reachable and the credentials work; raise `UnreachableError`.

        Return what a sync would trip over later although the connection works (missing
        scopes, renamed stages, an expiring API version) as `Finding`s; empty when all is well.
        """
        return ()

    def read(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Yield pages of `stream` changed since `cursor` (None: everything), oldest first."""
        raise NotImplementedError(f"{type(self).__name__} does not read")

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """Write one batch (at most `batch_size`) and answer once per record, by key."""
        raise NotImplementedError(f"{type(self).__name__} does not write")

    def close(self) -> None:
        """Release files, connections; finish anything `write()` staged. Called once."""

    @property
    def write_fields(self) -> tuple[str, ...]:
        """The golden fields this instance writes: config's `write_fields` or the default."""
        configured = self.settings.write_fields
        return tuple(configured) if configured is not None else self.default_write_fields
