"""HubSpot's throttling signals, read for hub's HTTP layer, and the client-side rates.

A 429 names its policy in the body: ``TEN_SECONDLY_ROLLING`` (the app's burst limit, frees up
within the rolling 10 s window), ``SECONDLY`` (the search API's 5 requests/s) or ``DAILY``
(the account's daily quota: waiting minutes does not help, it resets at midnight in the
account's time zone, so the run must stop and say so). The ``X-HubSpot-RateLimit-*`` headers
say how much of the window is left; ``Retry-After`` is not documented but honoured if sent.
"""

from __future__ import annotations

import json
from typing import Any, Final

import httpx

from hub.plugin import RateLimit, RetryableError, retry_after

#: Waits when the headers do not say better (the official Node client uses the same).
TEN_SECONDLY_WAIT: Final = 10.0
SECONDLY_WAIT: Final = 1.0


def policy_name(response: httpx.Response) -> str | None:
    """The ``policyName`` of a 429 body (None when the body is not HubSpot's JSON)."""
    body = error_body(response)
    name = body.get("policyName")
    if isinstance(name, str):
        return name.upper()
    message = str(body.get("message", "")).lower()
    if "daily" in message:
        return "DAILY"
    if "secondly limit" in message and "ten_secondly" not in message:
        return "SECONDLY"
    return None


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON error object of a response, or {} when it has none."""
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _window_wait(response: httpx.Response) -> float:
    """Seconds until the rolling window frees: the interval header, else HubSpot's 10 s."""
    interval = response.headers.get("x-hubspot-ratelimit-interval-milliseconds")
    try:
        return max(0.1, float(interval) / 1000) if interval else TEN_SECONDLY_WAIT
    except ValueError:
        return TEN_SECONDLY_WAIT


def classify(response: httpx.Response) -> RetryableError | None:
    """What hub's HTTP layer should do with `response`: retry after a wait, or hand it back.

    A DAILY 429 is handed back (None): retrying within the run cannot succeed, and the
    connector turns it into an `UnreachableError` that says when the quota resets.
    """
    status = response.status_code
    if status == 429:
        policy = policy_name(response)
        if policy == "DAILY":
            return None
        asked = retry_after(response)
        if policy == "SECONDLY":
            wait = asked if asked is not None else SECONDLY_WAIT
        else:
            wait = asked if asked is not None else _window_wait(response)
        return RetryableError(
            f"HubSpot throttled {response.request.url.path} ({policy or 'rate limit'})",
            retry_after=wait)
    if status >= 500:
        return RetryableError(f"HTTP {status} from HubSpot {response.request.url.path}",
                              retry_after=retry_after(response))
    return None


def app_rate(rate_per_10s: int, account: str | None = None) -> RateLimit:
    """The client-side limit for the app's rolling 10 s window: the tier's limit, as a window.

    HubSpot counts a private app's calls in a rolling 10-second window (100 per 10 s on
    Free/Starter, 190 on Professional/Enterprise, 250 with the API limit increase: "API usage
    guidelines and limits", https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
    A window lets the first `rate_per_10s` calls go at once and then one per answered call
    that leaves the window, so hub is never slower than the tier allows (a token bucket
    that may never exceed the window must trickle from the start). `account` (a digest of the
    token) makes every client of the same app in this process share one window, as HubSpot
    counts them together.
    """
    return RateLimit(rate=rate_per_10s / 10.0, burst=rate_per_10s, window=10.0,
                     shared=account)


def search_rate(per_second: float, account: str | None = None) -> RateLimit:
    """The client-side limit for the search API's own per-second policy (``SECONDLY``).

    HubSpot's search endpoints allow 5 requests per second per account ("Search the CRM",
    https://developers.hubspot.com/docs/guides/api/crm/search#limitations), counted apart
    from the 10-second window; shared per `account` like `app_rate`.
    """
    return RateLimit(rate=per_second, burst=max(1, int(per_second)), window=1.0,
                     shared=account)
