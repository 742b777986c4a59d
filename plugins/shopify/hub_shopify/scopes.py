"""The access scopes hub needs from a shop, and which of them a token lacks.

A custom app's token carries the scopes the merchant granted; a field outside them is refused
with ACCESS_DENIED only when a sync reaches it (a consent withdrawal, an erasure). `check()`
reads the granted scopes (`currentAppInstallation { accessScopes { handle } }`) and names each
missing one before that. "Any scope that writes a resource also grants read access to it"
(https://shopify.dev/docs/api/usage/access-scopes).
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.plugin import Finding

#: Scope → why hub needs it. Withdrawals and erasures are duties, so the write scopes are
#: needed whatever `write_fields` says.
NEEDED = {
    "read_customers": "to read customers and their e-mail consent",
    "read_orders": "to read orders for customer value",
    "write_customers": "to write consent withdrawals, hub's tags and profile fields",
    "write_customer_data_erasure": "to erase a customer's data (`hub consent forget`)",
}
#: Scopes whose absence a sync survives with less data.
WANTED = {"read_all_orders": "orders older than 60 days are hidden without it, so order "
                             "dates and paid counts can be incomplete"}


def granted_by(handles: Iterable[str], scope: str) -> bool:
    """Whether the granted `handles` include `scope` (a write scope includes its read)."""
    granted = set(handles)
    return scope in granted or (scope.startswith("read_")
                                and "write_" + scope.removeprefix("read_") in granted)


def scope_findings(connector: str, handles: Iterable[str]) -> list[Finding]:
    """A problem per needed scope the token lacks, a warning per wanted one."""
    granted = list(handles)
    fix = "grant it to the custom app (Settings → Apps → Develop apps → Configuration) and " \
          "reinstall it"
    found = [Finding("problem", "scope", f"connector {connector!r}: the token lacks "
                     f"{scope}, needed {why} — {fix}")
             for scope, why in NEEDED.items() if not granted_by(granted, scope)]
    found += [Finding("warning", "scope", f"connector {connector!r}: the token lacks {scope}: "
                      f"{why} — {fix}")
              for scope, why in WANTED.items() if not granted_by(granted, scope)]
    return found
