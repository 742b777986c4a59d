"""HubSpot's 429 policies and rate headers as hub's HTTP layer sees them."""

from __future__ import annotations

import httpx
import pytest

from hub_hubspot.throttle import app_rate, classify, search_rate

URL = "https://api.hubapi.com/crm/v3/objects/contacts"


def answer(status: int, body: dict[str, object] | None = None,
           headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body or {}, headers=headers,
                          request=httpx.Request("GET", URL))


def test_ten_secondly_waits_for_the_window() -> None:
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
    problem = classify(answer(429, body))
    assert problem is not None and problem.retry_after == 10.0
    headed = classify(answer(429, body, {"X-HubSpot-RateLimit-Interval-Milliseconds": "2000",
                                         "X-HubSpot-RateLimit-Remaining": "0"}))
    assert headed is not None and headed.retry_after == 2.0
    asked = classify(answer(429, body, {"Retry-After": "3"}))
    assert asked is not None and asked.retry_after == 3.0


def test_secondly_waits_a_second() -> None:
    problem = classify(answer(429, {"message": "You have reached your secondly limit.",
                                    "policyName": "SECONDLY"}))
    assert problem is not None and problem.retry_after == 1.0
    unnamed = classify(answer(429, {"message": "You have reached your secondly limit."}))
    assert unnamed is not None and unnamed.retry_after == 1.0


def test_daily_is_not_retried() -> None:
    assert classify(answer(429, {"message": "You have reached your daily limit.",
                                 "policyName": "DAILY"})) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(status: int) -> None:
    assert classify(answer(status)) is not None


@pytest.mark.parametrize("status", [200, 207, 400, 401, 404, 409])
def test_answers_are_handed_back(status: int) -> None:
    assert classify(answer(status)) is None


def test_client_side_limits_are_the_tiers_windows() -> None:
    # the tier's whole limit per rolling window: never slower than HubSpot allows, and the
    # window (counted to each answer) never lets more through than HubSpot counts
    assert (app_rate(100).burst, app_rate(100).window) == (100, 10.0)
    assert app_rate(190).rate * 10 == pytest.approx(190)
    assert (search_rate(5.0).burst, search_rate(5.0).window) == (5, 1.0)
