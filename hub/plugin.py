"""Everything a plugin imports from hub, in one place: ``from hub.plugin import Connector``.

The names in `__all__` are the plugin API. They keep their meaning across minor releases; a
test pins the list, so removing or renaming one is a deliberate, announced change. Anything
else in the `hub` package is internal and may move: the built-in plugins import only from
here, and a new plugin should too. The hooks themselves are documented in `hub.hookspecs`
and in docs/plugins.md.
"""

from __future__ import annotations

from hub.connector import (
    Capability,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    ConsentObservation,
    Finding,
    OutboundRecord,
    Page,
    Rejection,
    SourceRecord,
    SystemKind,
    WriteResult,
    WriteStatus,
)
from hub.contact import CUSTOM_PREFIX, GOLDEN_FIELDS, SCALAR_FIELDS, is_golden_field
from hub.errors import (
    AuthenticationError,
    ConnectorError,
    HubError,
    RetryableError,
    UnreachableError,
)
from hub.hookspecs import hookimpl
from hub.http import RateLimit, retry_after
from hub.lifecycle.stage import HUBSPOT as HUBSPOT_STAGES
from hub.lifecycle.stage import Stage
from hub.secrets import SecretRef, env_var_name

__all__ = [
    "CUSTOM_PREFIX",
    "GOLDEN_FIELDS",
    "HUBSPOT_STAGES",
    "SCALAR_FIELDS",
    "AuthenticationError",
    "Capability",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSettings",
    "ConsentObservation",
    "Finding",
    "HubError",
    "OutboundRecord",
    "Page",
    "RateLimit",
    "Rejection",
    "RetryableError",
    "SecretRef",
    "SourceRecord",
    "Stage",
    "SystemKind",
    "UnreachableError",
    "WriteResult",
    "WriteStatus",
    "env_var_name",
    "hookimpl",
    "is_golden_field",
    "retry_after",
]
