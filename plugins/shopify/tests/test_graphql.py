"""Shopify's ways of saying "not now", read for hub's HTTP layer."""

from __future__ import annotations

import json
from typing import Any

import httpx

from hub_shopify.graphql import classify

URL = "https://x.myshopify.com/admin/api/2025-10/graphql.json"


def _answer(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"content-type": "application/json", **headers},
                          request=httpx.Request("POST", URL))


def test_throttled_inside_200_waits_until_the_query_fits() -> None:
    problem = classify(_answer(200, {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 252, "actualQueryCost": None,
                                "throttleStatus": {"maximumAvailable": 1000.0,
                                                   "currentlyAvailable": 2.0,
                                                   "restoreRate": 50.0}}}}))
    assert problem is not None and problem.retry_after == 5.0


def test_429_5xx_and_internal_errors_are_retried_but_answers_are_not() -> None:
    throttled = classify(_answer(429, {"errors": "Exceeded 2 calls per second"},
                                 **{"retry-after": "2.0"}))
    assert throttled is not None and throttled.retry_after == 2.0
    assert classify(_answer(503, {})) is not None
    assert classify(_answer(200, {"errors": [{"message": "x", "extensions": {
        "code": "INTERNAL_SERVER_ERROR"}}], "data": None})) is not None
    assert classify(_answer(200, {"data": {"customerUpdate": {"userErrors": [
        {"field": ["phone"], "message": "Phone is invalid"}]}}})) is None
    assert classify(_answer(401, {"errors": "[API] Invalid API key"})) is None
    assert classify(_answer(200, {"data": {"customers": {"nodes": [
        {"note": "THROTTLED is just text here"}]}}})) is None
