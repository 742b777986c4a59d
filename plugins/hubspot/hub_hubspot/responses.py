"""Reading HubSpot's answers: error messages, and the account-level failures that stop a run.

Record-level refusals (a 400 for one bad e-mail) are answers the writer turns into rejections;
what this module raises is what no record can fix: refused credentials, missing scopes, the
daily quota, a response hub does not understand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from hub.plugin import (
    AuthenticationError,
    ConnectorError,
    SecretRef,
    UnreachableError,
    env_var_name,
)
from hub_hubspot.throttle import error_body, policy_name

#: An e-mail address inside HubSpot's wording ("… anna@example.de is already subscribed").
_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")


def message(response: httpx.Response) -> str:
    """HubSpot's own words for an error (its `message`, else the start of the body).

    HubSpot quotes the contact's address in some answers; the words go into rejection reasons,
    dead letters and exceptions, where no personal data belongs, so the address is replaced.
    """
    body = error_body(response)
    text = str(body["message"])[:1000] if body.get("message") else response.text[:300]
    return _ADDRESS.sub("<address>", text) or f"HTTP {response.status_code}"


def missing_scopes(response: httpx.Response) -> list[str] | None:
    """The scopes a 403 ``MISSING_SCOPES`` asks for (None: not that refusal).

    HubSpot names them under ``errors[].context.requiredScopes`` (HubSpot/hubspot-api-nodejs
    #268) or, in the v4 reference's error model, as a string ``{missingScopes=[a, b]}``;
    both are read, and an answer naming none gives an empty list.
    """
    if response.status_code != 403:
        return None
    body = error_body(response)
    if body.get("category") != "MISSING_SCOPES":
        return None
    found: list[str] = []
    for error in body.get("errors") or ():
        context = error.get("context") if isinstance(error, Mapping) else None
        if isinstance(context, Mapping):
            for key in ("requiredScopes", "requiredGranularScopes", "missingScopes"):
                found.extend(str(s) for s in context.get(key) or ())
        elif isinstance(context, str) and "=[" in context:
            inner = context.split("=[", 1)[1].split("]", 1)[0]
            found.extend(s.strip() for s in inner.split(",") if s.strip())
    return list(dict.fromkeys(found))


def json_object(response: httpx.Response, what: str) -> Mapping[str, Any]:
    """The response's JSON object, or a `ConnectorError` naming what was asked."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        raise ConnectorError(f"HubSpot sent a body that is not a JSON object for {what} "
                             f"(HTTP {response.status_code})")
    return body


class Account:
    """Turns account-level failures into errors naming the connector and its secret."""

    def __init__(self, connector: str, token: SecretRef) -> None:
        self.connector = connector
        self.token = token

    def check(self, response: httpx.Response, what: str) -> None:
        """Raise for 401/403/daily-quota/5xx; return for 2xx and record-level 4xx."""
        status = response.status_code
        where = f"connector {self.connector!r}"
        if status == 401:
            raise AuthenticationError(
                f"{where}: HubSpot refused the credentials (401) for {what} — check the "
                f"private-app token in secret {self.token.secret!r}: run `hub secrets set "
                f"{self.token.secret}` or set {env_var_name(self.token.secret)}")
        if status == 403:
            scopes = missing_scopes(response)
            needed = f"the scope {' or '.join(scopes)}" if scopes else \
                "the scopes `hub check` lists for this connector"
            raise AuthenticationError(
                f"{where}: HubSpot denied {what} (403): {message(response)} — give the private "
                f"app {needed} (Settings → Integrations → Private apps → Scopes); "
                "`hub check` lists every scope hub needs")
        if status == 429 and policy_name(response) == "DAILY":
            raise UnreachableError(
                f"{where}: HubSpot's daily API limit is used up ({message(response)}); it "
                "resets at midnight in the account's time zone — the next run continues from "
                "the last checkpoint")
        if status == 429 or status >= 500:
            raise UnreachableError(f"{where}: HubSpot kept answering {status} for {what}")

    def unexpected(self, response: httpx.Response, what: str) -> ConnectorError:
        """The error for an answer hub has no rule for (after `check`)."""
        body = error_body(response)
        category = body.get("category") or body.get("errorType") or ""
        return ConnectorError(
            f"connector {self.connector!r}: HubSpot answered {response.status_code} "
            f"{category} for {what}: {message(response)}")
