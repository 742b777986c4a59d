"""The shared HTTP layer: retries, Retry-After, throttle signals, rate limiting, counting."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from hub.errors import RetryableError, UnreachableError
from hub.http import (
    Counter,
    RateLimit,
    RetryPolicy,
    SlidingWindow,
    Timeouts,
    TokenBucket,
    build_client,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*answers: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    return httpx.MockTransport(handler), seen


def client(transport: httpx.BaseTransport, t: FakeTime, **kw: object) -> tuple[httpx.Client, Counter]:
    counter = Counter()
    c = build_client(base_url="http://sandbox", transport=transport, sleep=t.sleep,
                     clock=t.clock, counter=counter,
                     policy=RetryPolicy(attempts=4, base=1.0, cap=30, jitter=0.0), **kw)  # type: ignore[arg-type]
    return c, counter


def test_retries_429_and_5xx_then_succeeds_honouring_retry_after() -> None:
    t = FakeTime()
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        httpx.Response(200, json={"ok": True}))
    c, counter = client(transport, t)
    assert c.get("/x").json() == {"ok": True}
    assert len(seen) == 3 and counter.requests == 3 and counter.retries == 2
    assert t.sleeps == [7.0, 2.0]  # Retry-After wins over the 1 s backoff; then 2 s
    assert counter.throttled == 1


def test_timeouts_and_resets_are_retried() -> None:
    t = FakeTime()
    transport, _ = scripted(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset"),
                            httpx.Response(200, json={}))
    c, counter = client(transport, t)
    assert c.get("/x").status_code == 200 and counter.requests == 3


def test_validation_errors_are_not_retried() -> None:
    t = FakeTime()
    transport, seen = scripted(httpx.Response(400, json={"message": "bad"}))
    c, _ = client(transport, t)
    assert c.get("/x").status_code == 400 and len(seen) == 1 and t.sleeps == []


def test_giving_up_raises_unreachable_without_query_secrets() -> None:
    t = FakeTime()
    transport, _ = scripted(*[httpx.Response(500) for _ in range(4)])
    c, _ = client(transport, t)
    with pytest.raises(UnreachableError) as info:
        c.get("/x", params={"apikey": "s3cret"})
    assert "failed 4 times" in str(info.value) and "s3cret" not in str(info.value)


def test_a_connector_classifier_sees_throttling_inside_http_200() -> None:
    t = FakeTime()
    throttled = httpx.Response(200, json={"errors": [{"extensions": {"code": "THROTTLED"}}]})

    def classify(response: httpx.Response) -> RetryableError | None:
        if response.status_code == 200 and "THROTTLED" in response.text:
            return RetryableError("throttled", retry_after=3.0)
        return None
    transport, _ = scripted(throttled, httpx.Response(200, json={"data": {}}))
    c, counter = client(transport, t, classify=classify)
    assert c.post("/graphql.json").json() == {"data": {}}
    assert counter.throttled == 1 and t.sleeps == [3.0]


def test_token_bucket_keeps_to_the_rate_without_real_waiting() -> None:
    t = FakeTime()
    bucket = TokenBucket(RateLimit(rate=10, burst=10), clock=t.clock, sleep=t.sleep)
    for _ in range(30):
        bucket.acquire()
    # 10 in the burst, then 20 more at 10/s: 2 seconds of waiting in total
    assert t.now == pytest.approx(2.0)


def test_a_rolling_window_sends_the_whole_limit_at_once_and_never_more_per_window() -> None:
    t = FakeTime()
    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(t.now)
        t.now += 0.05  # the answer takes 50 ms
        return httpx.Response(200, json={})
    c, counter = client(httpx.MockTransport(answer), t,
                        rate=RateLimit(rate=10, burst=100, window=10.0))
    for _ in range(250):
        c.get("/x")
    # at most 100 in any 10 s counted from each answer, as the server sees arrivals
    for i, moment in enumerate(sent):
        assert sum(1 for s in sent[i:] if s < moment + 10.0) <= 100
    # the first 100 go as fast as they are answered: 250 calls take two windows and the
    # answers of the last 50 (2 × 10.05 s + 50 × 0.05 s), not 25 s at an even 10/s
    assert counter.requests == 250 and t.now == pytest.approx(22.6)


def test_a_rolling_window_waits_what_the_server_asked_after_a_429() -> None:
    t = FakeTime()
    window = SlidingWindow(RateLimit(rate=1, burst=10, window=10.0), clock=t.clock,
                           sleep=t.sleep)
    window.slow_down(3.0)
    window.acquire()
    assert t.now == pytest.approx(3.0)


def test_rate_limited_client_spreads_requests() -> None:
    t = FakeTime()
    answers: list[Callable[[], httpx.Response]] = []
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={}))
    del answers
    c, counter = client(transport, t, rate=RateLimit(rate=5, burst=5))
    for _ in range(15):
        c.get("/x")
    assert counter.requests == 15 and t.now == pytest.approx(2.0)


def test_user_agent_names_hub() -> None:
    t = FakeTime()
    seen: list[str] = []
    transport = httpx.MockTransport(lambda r: (seen.append(r.headers["user-agent"]),
                                               httpx.Response(200))[1])
    c, _ = client(transport, t)
    c.get("/x")
    assert seen[0].startswith("hub/")


def test_a_json_answer_cut_short_is_retried_like_a_5xx() -> None:
    t = FakeTime()
    whole = b'{"results": [{"id": "1"}, {"id": "2"}]}'
    transport, seen = scripted(
        httpx.Response(200, content=whole[:17], headers={"content-type": "application/json"}),
        httpx.Response(400, content=b'{"title": "Inv',
                       headers={"content-type": "application/problem+json; charset=utf-8"}),
        httpx.Response(200, content=whole, headers={"content-type": "application/json"}))
    c, counter = client(transport, t)
    assert c.get("/x").json()["results"][1]["id"] == "2"
    assert len(seen) == 3 and counter.retries == 2


def test_bodies_that_are_not_json_are_left_to_the_connector() -> None:
    t = FakeTime()
    lines = b'{"id": 1}\n{"id": 2}\n'  # a bulk file: JSON lines, not one JSON document
    transport, seen = scripted(
        httpx.Response(200, content=lines, headers={"content-type": "application/jsonl"}),
        httpx.Response(204))
    c, _ = client(transport, t)
    assert c.get("/bulk").content == lines and c.delete("/x").status_code == 204
    assert len(seen) == 2 and t.sleeps == []


def test_a_json_answer_that_stays_malformed_ends_unreachable() -> None:
    t = FakeTime()
    transport, _ = scripted(*[httpx.Response(200, content=b"{", headers={
        "content-type": "application/json"}) for _ in range(4)])
    c, _ = client(transport, t)
    with pytest.raises(UnreachableError) as info:
        c.get("/x")
    assert "malformed answer" in str(info.value) and "failed 4 times" in str(info.value)


def test_an_unreachable_system_is_given_up_after_unreachable_attempts_naming_the_connector(
        ) -> None:
    t = FakeTime()
    transport, seen = scripted(httpx.ConnectError("[Errno 111] Connection refused"),
                               httpx.ConnectError("[Errno 111] Connection refused"),
                               httpx.Response(200))
    c = build_client(base_url="http://crm.example:8080", transport=transport, sleep=t.sleep,
                     clock=t.clock, name="crm",
                     policy=RetryPolicy(attempts=8, base=1.0, jitter=0.0, unreachable_attempts=2))
    with pytest.raises(UnreachableError) as info:
        c.get("/x")
    message = str(info.value)
    assert len(seen) == 2 and t.sleeps == [1.0]  # not 8 attempts with growing backoff
    assert message.startswith("connector 'crm': crm.example:8080 is unreachable")
    assert "Connection refused" in message and "tried 2 times" in message


def test_a_read_timeout_names_its_setting() -> None:
    t = FakeTime()
    transport, _ = scripted(httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"))
    c = build_client(base_url="http://crm.example", transport=transport, sleep=t.sleep,
                     clock=t.clock, name="crm", timeout=Timeouts(read=2.5).apply(60.0),
                     policy=RetryPolicy(attempts=8, base=1.0, jitter=0.0))
    with pytest.raises(UnreachableError) as info:
        c.get("/x")
    assert "no answer within the read timeout (2.5 s)" in str(info.value)


def test_timeouts_configured_win_over_the_connectors_default() -> None:
    assert Timeouts().apply(60.0) == httpx.Timeout(60.0)
    assert Timeouts(connect=3.0).apply(120.0) == httpx.Timeout(120.0, connect=3.0)
    assert Timeouts(connect=3.0, read=9.0).apply(120.0) == httpx.Timeout(9.0, connect=3.0)
