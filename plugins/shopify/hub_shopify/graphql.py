"""Talking GraphQL to Shopify: one POST per query, with Shopify's ways of saying "not now".

Shopify answers most problems with HTTP 200: a throttled query is ``{"errors": [{"extensions":
{"code": "THROTTLED"}}]}`` with no data, an internal error is ``INTERNAL_SERVER_ERROR`` inside
200, and mutation validation problems are ``userErrors`` inside ``data``. `classify` turns the
first two into retries for hub's HTTP layer (clients that only retry on 429 fail at once on
them); `ShopifyAPI.run` turns the rest into clear errors, and feeds every answer's cost report
to the `CostBudget` so the next query waits for the bucket instead of being throttled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from hub.plugin import (
    AuthenticationError,
    ConnectorError,
    RetryableError,
    SecretRef,
    UnreachableError,
    retry_after,
)
from hub_shopify.budget import CostBudget
from hub_shopify.scopes import NEEDED

#: "A single query may not exceed a cost of 1,000 points" (shopify.dev, GraphQL Admin API rate
#: limits); what MAX_COST_EXCEEDED answers say when they carry no `maxCost`.
MAX_QUERY_COST = 1000.0
#: Shopify's REST answer to too many requests says 2 s; GraphQL's THROTTLED says nothing.
DEFAULT_WAIT = 2.0


def _code(error: Mapping[str, Any]) -> str:
    """One GraphQL error's `extensions.code` ("None" when it has none)."""
    return str((error.get("extensions") or {}).get("code"))


def _error_codes(body: Mapping[str, Any]) -> set[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return set()
    return {_code(e) for e in errors if isinstance(e, dict)}


def _throttle_wait(body: Mapping[str, Any]) -> float:
    """Seconds until the throttled query's cost fits the bucket, from the answer's cost."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.1, missing / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return DEFAULT_WAIT


def _extensions(errors: Any, code: str) -> Iterator[dict[str, Any]]:
    """The `extensions` of each error with `code`."""
    for error in errors if isinstance(errors, list) else ():
        if isinstance(error, dict) and _code(error) == code:
            yield dict(error.get("extensions") or {})


def classify(response: httpx.Response) -> RetryableError | None:
    """Retry 429, 5xx, and THROTTLED or INTERNAL_SERVER_ERROR inside an HTTP 200."""
    status = response.status_code
    path = response.request.url.path
    if status == 429:
        wait = retry_after(response)
        return RetryableError(f"Shopify throttled {path} (HTTP 429)",
                              retry_after=DEFAULT_WAIT if wait is None else wait)
    if status >= 500:
        return RetryableError(f"HTTP {status} from Shopify {path}",
                              retry_after=retry_after(response))
    if status == 200 and response.headers.get("content-type", "").startswith("application/json"):
        content = response.content
        if b"THROTTLED" not in content and b"INTERNAL_SERVER_ERROR" not in content:
            return None
        try:
            body = json.loads(content)
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        codes = _error_codes(body)
        if "THROTTLED" in codes:
            return RetryableError(f"Shopify throttled {path} (THROTTLED)",
                                  retry_after=_throttle_wait(body))
        if "INTERNAL_SERVER_ERROR" in codes and body.get("data") is None:
            return RetryableError(f"Shopify internal error at {path}")
    return None


class CostExceeded(ConnectorError):
    """Shopify refused a query for costing more than one query may (MAX_COST_EXCEEDED); the
    caller asks for less. `requested` and `maximum` are the numbers Shopify reported."""

    def __init__(self, message: str, requested: float, maximum: float) -> None:
        super().__init__(message)
        self.requested = requested
        self.maximum = maximum


class ShopifyAPI:
    """The shop's GraphQL endpoint: cost-budgeted queries that return ``data`` or raise."""

    def __init__(self, http: httpx.Client, endpoint: str, budget: CostBudget, *,
                 connector: str, token: SecretRef) -> None:
        self.http = http
        self.endpoint = endpoint
        self.budget = budget
        self.connector = connector
        self.token = token
        #: Requested cost per query text, learned from Shopify's answers.
        self._costs: dict[str, float] = {}
        #: `extensions.cost` of the last answer (requested and actual cost, throttle status).
        self.last_cost: dict[str, Any] = {}
        #: The API version that answered last (`X-Shopify-API-Version`): another one than the
        #: configured means the configured version is no longer supported.
        self.answered_version: str | None = None

    def run(self, query: str, variables: Mapping[str, Any] | None = None, *,
            doing: str, cost: float = 0.0) -> dict[str, Any]:
        """Run one query or mutation; `doing` names it in errors ("reading customers").

        `cost` estimates a document built for this call (mutations, read steps); a fixed
        document waits for the cost Shopify reported for it last time.
        """
        body = self._answer(query, variables, doing, cost)
        if body.get("errors"):
            raise self._failure(body["errors"], doing)
        return self._data(body, doing)

    def run_fields(self, query: str, variables: Mapping[str, Any] | None = None, *,
                   doing: str, cost: float = 0.0) -> tuple[dict[str, Any], dict[str, str]]:
        """Like `run` for a document of independent (aliased) fields: a field refused for a
        missing access scope comes back as {alias: Shopify's message} instead of failing the
        whole document, since every other field was carried out."""
        body = self._answer(query, variables, doing, cost)
        errors = body.get("errors") or []
        denied: dict[str, str] = {}
        for error in errors if isinstance(errors, list) else [errors]:
            path = error.get("path") if isinstance(error, dict) else None
            if not path or _code(error) != "ACCESS_DENIED":
                raise self._failure(errors, doing)
            denied[str(path[0])] = str(error.get("message", "access denied"))
        return self._data(body, doing), denied

    def _answer(self, query: str, variables: Mapping[str, Any] | None, doing: str,
                cost: float) -> dict[str, Any]:
        # a document built per call (an estimate given) is planned by its caller; a fixed one
        # waits for what Shopify charged it last time
        self.budget.reserve(cost if cost else self._costs.get(query, 0.0))
        response = self.http.post(self.endpoint, json={"query": query,
                                                       "variables": dict(variables or {})})
        self.refused(response, doing)
        self.answered_version = response.headers.get("X-Shopify-API-Version",
                                                     self.answered_version)
        try:
            body = response.json()
        except ValueError:
            raise ConnectorError(f"connector {self.connector!r}: Shopify answered {doing} with "
                                 f"something that is not JSON (HTTP {response.status_code})"
                                 ) from None
        if not isinstance(body, dict):
            raise ConnectorError(f"connector {self.connector!r}: Shopify sent no data {doing}")
        report = (body.get("extensions") or {}).get("cost")
        self.last_cost = dict(report or {})
        if report:
            self.budget.observe(report)
            if report.get("requestedQueryCost") is not None and not cost:
                self._costs[query] = float(report["requestedQueryCost"])
        return body

    def _data(self, body: dict[str, Any], doing: str) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, dict):
            raise ConnectorError(f"connector {self.connector!r}: Shopify sent no data {doing}")
        return data

    def refused(self, response: httpx.Response, doing: str) -> None:
        """Raise the error an HTTP-level refusal means, naming the fix."""
        status = response.status_code
        if status == 401:
            raise AuthenticationError(
                f"connector {self.connector!r}: Shopify refused the access token {doing} — "
                f"set a valid Admin API token: hub secrets set {self.token.secret}")
        if status == 402:
            raise UnreachableError(f"connector {self.connector!r}: the shop is frozen "
                                   "(Shopify answered 402 Payment Required); pay the bill")
        if status == 403:
            raise AuthenticationError(f"connector {self.connector!r}: the app lacks an access "
                                      f"scope {doing} (HTTP 403) — grant "
                                      f"{', '.join(NEEDED)} to the custom app")
        if status == 404:
            raise ConnectorError(f"connector {self.connector!r}: no Admin API at "
                                 f"{response.request.url} — check shop and api_version")
        if status >= 400:
            raise ConnectorError(f"connector {self.connector!r}: Shopify answered HTTP {status} "
                                 f"{doing}")

    def _failure(self, errors: Any, doing: str) -> ConnectorError:
        if isinstance(errors, str):
            messages = [errors]
            codes: set[str] = set()
        else:
            messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e)
                        for e in errors]
            codes = _error_codes({"errors": errors})
        text = "; ".join(messages)[:500]
        if "MAX_COST_EXCEEDED" in codes:
            extensions = next(_extensions(errors, "MAX_COST_EXCEEDED"), {})
            return CostExceeded(f"connector {self.connector!r}: Shopify refused the query "
                                f"{doing} as too costly: {text}",
                                float(extensions.get("cost") or 0),
                                float(extensions.get("maxCost") or MAX_QUERY_COST))
        if "ACCESS_DENIED" in codes:
            return ConnectorError(f"connector {self.connector!r}: access denied {doing}: {text} "
                                  "— grant the custom app the scope it names")
        return ConnectorError(f"connector {self.connector!r}: Shopify refused the query "
                              f"{doing}: {text}")
