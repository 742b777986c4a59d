"""The HTTP layer every connector shares: retries, rate limiting and request counting.

A connector asks its context for a client (`ConnectorContext.http(...)`) and gets an
`httpx.Client` whose transport:

- counts every request into `ConnectorContext.api_calls` (the run summary reports it),
- waits before each request so the connector stays at, not over, its declared rate (a token
  bucket, or a rolling window where the vendor counts one: a large sync runs at the limit
  instead of bouncing off 429s),
- retries 429, 5xx, timeouts, connection errors and malformed answers (a body cut short, JSON
  that does not parse) with exponential backoff and jitter (tenacity), honouring
  ``Retry-After`` and whatever the connector's `classify` hook reads from the response
  (HubSpot's policy names, Shopify's THROTTLED inside an HTTP 200),
- gives up on a system it cannot connect to, or that does not answer in time, after
  `RetryPolicy.unreachable_attempts`: an outage is reported in seconds, not minutes, naming
  the connector, and the run goes on with the other systems,
- never retries a validation error: a 4xx is the caller's per-record answer.

Clock and sleep are injected, so tests run retries and rate limits without real waiting.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from hub import __version__
from hub.errors import RetryableError, UnreachableError

USER_AGENT = f"hub/{__version__}"

#: What a connector's `classify` hook says about a response: None (fine, or a final 4xx),
#: or a `RetryableError` carrying the wait the API asked for.
Classifier = Callable[[httpx.Response], RetryableError | None]


@dataclass
class RetryPolicy:
    """How hard to try: attempts, backoff base and cap (seconds), jitter."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 60.0
    jitter: float = 0.5
    #: Attempts when the system cannot be reached at all (refused, DNS, no answer in time).
    unreachable_attempts: int = 2


@dataclass(frozen=True)
class Timeouts:
    """How long to wait for a connection and for an answer (seconds; None: the default)."""

    connect: float | None = None
    read: float | None = None

    def apply(self, default: float) -> httpx.Timeout:
        """An httpx timeout: these where set, `default` (the connector's own) elsewhere."""
        read = self.read if self.read is not None else default
        return httpx.Timeout(read, connect=self.connect if self.connect is not None
                             else min(default, read))


class _Unreachable(RetryableError):
    """No connection, or no answer in time: retried only `unreachable_attempts` times."""


def malformed(response: httpx.Response) -> RetryableError | None:
    """A JSON answer whose body does not parse: cut short on the way, or garbled.

    Retried like a 5xx, so one damaged answer costs one request, not the connector's run.
    Only bodies that say they are JSON are checked (a bulk file is JSON lines, not JSON).
    """
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (media == "application/json" or media.endswith("+json")) or not response.content:
        return None
    try:
        json.loads(response.content)
    except ValueError:
        return RetryableError(f"a malformed answer from {response.request.url.path} (HTTP "
                              f"{response.status_code}): its JSON is cut short or invalid")
    return None


@dataclass
class RateLimit:
    """At most `rate` requests per second on average, in bursts of up to `burst`.

    With `window` (seconds) set, the limit is a rolling window instead, as HubSpot words its
    own: at most `burst` requests in any `window` seconds (`SlidingWindow`). A token bucket
    that must never exceed such a window has to trickle at the window's average from the
    first request; the window lets the first `burst` go at once, so a run is never slower
    than the vendor's limit allows.
    """

    rate: float
    burst: int = 1
    window: float | None = None
    #: Limiters with the same key are one limiter in this process: clients of one account
    #: (two connectors on the same HubSpot app, one run after another) share its window.
    #: Make it a digest, never a credential.
    shared: str | None = None


class TokenBucket:
    """Client-side limiter: `acquire()` waits until a request may go out."""

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit.burst)
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Take one token, sleeping for the refill if the bucket is empty."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.limit.burst,
                               self._tokens + (now - self._stamp) * self.limit.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.limit.rate
            self._tokens = 0.0
            self._stamp = now + wait
        self.waited += wait
        self._sleep(wait)

    def release(self) -> None:
        """A bucket's tokens refill with time alone: an answer changes nothing."""

    def slow_down(self, seconds: float) -> None:
        """The server said 'too many': empty the bucket so the next request waits too."""
        with self._lock:
            self._tokens = min(self._tokens, 0.0) - seconds * self.limit.rate


class SlidingWindow:
    """Client-side limiter for a rolling window: at most `burst` requests in any `window` s.

    A request counts from when it is sent until `window` seconds after its answer came back:
    the server stamps a request when it arrives, which is after it was sent and before the
    answer, so counting to the answer keeps every window the server sees within the limit
    whatever the network delay (`acquire()` before sending, `release()` after).
    """

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        assert limit.window is not None
        self.limit = limit
        self.window = limit.window
        self._clock = clock
        self._sleep = sleep
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._not_before = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Wait until one more request fits the window, then count it as in flight."""
        while True:
            with self._lock:
                now = self._clock()
                while self._done and self._done[0] <= now - self.window:
                    self._done.popleft()
                wait = self._not_before - now
                if wait <= 0:
                    if self._in_flight + len(self._done) < self.limit.burst:
                        self._in_flight += 1
                        return
                    # the oldest answered request leaves the window next (if none has been
                    # answered, the in-flight ones will be: look again shortly)
                    wait = self._done[0] + self.window - now if self._done else 0.01
            wait = max(wait, 0.001)
            self.waited += wait
            self._sleep(wait)

    def release(self) -> None:
        """The answer to an acquired request came back (or it failed)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._done.append(self._clock())

    def slow_down(self, seconds: float) -> None:
        """The server said 'too many': send nothing more for `seconds`."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)


Limiter = TokenBucket | SlidingWindow


_SHARED: dict[tuple[str, float | None, int, float], Limiter] = {}
_SHARED_LOCK = threading.Lock()


def limiter(limit: RateLimit, *, clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> Limiter:
    """The limiter a `RateLimit` describes: a rolling window when it names one; the same
    one for every `RateLimit` with the same `shared` key and numbers."""
    def build() -> Limiter:
        if limit.window is not None:
            return SlidingWindow(limit, clock=clock, sleep=sleep)
        return TokenBucket(limit, clock=clock, sleep=sleep)
    if limit.shared is None:
        return build()
    key = (limit.shared, limit.window, limit.burst, limit.rate)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = build()
        return found


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), if present and sane."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def default_classify(response: httpx.Response) -> RetryableError | None:
    """429 and 5xx are retryable; everything else is the caller's answer."""
    if response.status_code == 429 or response.status_code >= 500:
        return RetryableError(f"HTTP {response.status_code} from {response.request.url.path}",
                              retry_after=retry_after(response))
    return None


@dataclass
class Counter:
    """Requests made and what they ran into; shared with the connector context."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    on_request: Callable[[], None] | None = None
    by_status: dict[int, int] = field(default_factory=dict)


class ResilientTransport(httpx.BaseTransport):
    """Wraps a transport with rate limiting, counting and retries (see module docstring)."""

    def __init__(self, inner: httpx.BaseTransport, *, classify: Classifier = default_classify,
                 policy: RetryPolicy | None = None, bucket: Limiter | None = None,
                 counter: Counter | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, name: str | None = None) -> None:
        #: What every final error starts with: which connector could not reach its system.
        self._where = f"connector {name!r}: " if name else ""
        self._inner = inner
        self._classify = classify
        self._policy = policy or RetryPolicy()
        self._bucket = bucket
        self.counter = counter or Counter()
        self._sleep = sleep
        self._rng = rng or random.Random()

    def _wait(self, state: RetryCallState) -> float:
        policy = self._policy
        backoff = min(policy.cap, policy.base * 2 ** (state.attempt_number - 1))
        backoff += self._rng.uniform(0, policy.jitter * backoff)
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = error.retry_after if isinstance(error, RetryableError) else None
        return float(min(policy.cap, max(backoff, asked or 0.0)))

    def _once(self, request: httpx.Request) -> httpx.Response:
        if self._bucket is not None:
            self._bucket.acquire()
        self.counter.requests += 1
        if self.counter.on_request is not None:
            self.counter.on_request()
        try:
            response = self._inner.handle_request(request)
            response.request = request
            response.read()  # a truncated body surfaces here, inside the retry
        except httpx.ConnectTimeout as exc:
            raise _Unreachable("could not connect within the connect timeout "
                               f"({_seconds(request, 'connect')})") from exc
        except httpx.TimeoutException as exc:
            raise _Unreachable(f"no answer within the read timeout ({_seconds(request, 'read')})"
                               ) from exc
        except httpx.ConnectError as exc:
            raise _Unreachable(f"could not connect: {exc}") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise RetryableError(f"connection problem: {type(exc).__name__}: {exc}") from exc
        finally:
            if self._bucket is not None:
                self._bucket.release()  # the answer is in (or the request failed)
        status = response.status_code
        self.counter.by_status[status] = self.counter.by_status.get(status, 0) + 1
        problem = self._classify(response) or malformed(response)
        if problem is not None:
            if status == 429 or "throttl" in str(problem).lower():
                self.counter.throttled += 1
                if self._bucket is not None:
                    self._bucket.slow_down(problem.retry_after or 1.0)
            response.close()
            raise problem
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying transient failures; raise `UnreachableError` at the end."""
        retrying = Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda _state: self._count_retry(),
        )
        try:
            response: httpx.Response = retrying(self._once, request)
        except _Unreachable as exc:
            raise UnreachableError(
                f"{self._where}{request.url.host}:{request.url.port or request.url.scheme} is "
                f"unreachable: {exc} (tried {self._policy.unreachable_attempts} times) — "
                "check that the system is up and the connector's base_url; slow systems "
                "may need a larger read_timeout_seconds") from None
        except RetryableError as exc:
            raise UnreachableError(
                f"{self._where}{request.method} {request.url.copy_with(query=None)} failed "
                f"{self._policy.attempts} times; last: {exc}",
            ) from None
        return response

    def _stop(self, state: RetryCallState) -> bool:
        """Stop after `attempts`, or `unreachable_attempts` while the system is unreachable."""
        outcome = state.outcome
        unreachable = outcome is not None and isinstance(outcome.exception(), _Unreachable)
        return state.attempt_number >= (self._policy.unreachable_attempts if unreachable
                                        else self._policy.attempts)

    def _count_retry(self) -> None:
        self.counter.retries += 1

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()


def _seconds(request: httpx.Request, which: str) -> str:
    value = (request.extensions.get("timeout") or {}).get(which)
    return f"{value:g} s" if isinstance(value, (int, float)) else "none set"


def build_client(*, base_url: str, headers: dict[str, str] | None = None,
                 auth: Any = None, classify: Classifier = default_classify,
                 rate: RateLimit | None = None, policy: RetryPolicy | None = None,
                 counter: Counter | None = None, timeout: float | httpx.Timeout = 60.0,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 max_connections: int = 10, name: str | None = None) -> httpx.Client:
    """An httpx client with hub's transport; `transport` lets tests bind it to the sandbox."""
    inner = transport or httpx.HTTPTransport(
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections),
        retries=0)
    bucket = limiter(rate, clock=clock, sleep=sleep) if rate else None
    resilient = ResilientTransport(inner, classify=classify, policy=policy, bucket=bucket,
                                   counter=counter, sleep=sleep, name=name)
    return httpx.Client(base_url=base_url, headers={"User-Agent": USER_AGENT, **(headers or {})},
                        auth=auth, timeout=timeout, transport=resilient)
