"""Fault injection and counters in front of every simulator (an ASGI middleware).

Faults are given as a spec, e.g. ``500:0.05,429:0.1,timeout:0.02,reset:0.01,truncate:0.01``
(kind:probability), optionally scoped to one system (``shopify.429:0.2``), plus storms:
``429storm:5`` makes the next 5 requests fail with that system's own "too many" answer
(Shopify's THROTTLED inside an HTTP 200, HubSpot's policy body, Mailchimp's problem JSON).
Draws come from a seeded RNG, so a run with the same requests is reproducible. Counters
record every request per system and endpoint template and every status, so tests and
benchmarks can compare calls made with the minimum needed.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KINDS = ("500", "502", "503", "429", "timeout", "reset", "truncate")
_RULE = re.compile(r"^(?:(hubspot|shopify|mailchimp)\.)?(\d{3}storm|\d{3}|timeout|reset|truncate)"
                   r":([0-9.]+)$")


def system_of(path: str) -> str | None:
    """Which simulated API a path belongs to (their paths do not overlap)."""
    if path.startswith(("/crm/", "/communication-preferences/", "/account-info/")):
        return "hubspot"
    if path.startswith("/admin/api/") or path.startswith("/_sandbox/shopify/"):
        return "shopify"
    if path.startswith("/3.0/") or path == "/3.0":
        return "mailchimp"
    return None


@dataclass
class FaultPlan:
    """Parsed fault spec: probabilities per (system or None, kind) and pending storms."""

    odds: dict[tuple[str | None, str], float] = field(default_factory=dict)
    storms: dict[tuple[str | None, str], int] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """`spec` as in the module docstring; a bad rule raises ValueError naming it."""
        plan = cls()
        for rule in filter(None, (part.strip() for part in spec.split(","))):
            match = _RULE.match(rule)
            if not match:
                raise ValueError(f"fault rule {rule!r} is not understood; write KIND:VALUE with "
                                 f"KIND one of {', '.join(KINDS)} or NNNstorm, optionally "
                                 "prefixed by hubspot., shopify. or mailchimp.")
            system, kind, value = match.group(1), match.group(2), match.group(3)
            if kind.endswith("storm"):
                plan.storms[(system, kind[:3])] = int(float(value))
            else:
                probability = float(value)
                if not 0 <= probability <= 1:
                    raise ValueError(f"fault rule {rule!r}: the probability must be 0..1")
                plan.odds[(system, kind)] = probability
        return plan


class Controls:
    """Latency, faults and counters; wrap the sandbox's ASGI app with `wrap()`."""

    def __init__(self, *, seed: int = 1, latency_ms: float = 0.0, faults: str = "",
                 timeout_s: float = 130.0,
                 throttled: dict[str, Callable[[], Response]] | None = None) -> None:
        self.latency_ms = latency_ms
        self.timeout_s = timeout_s
        self.plan = FaultPlan.parse(faults)
        self._rng = random.Random(seed)
        self._throttled = throttled or {}
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.injected: Counter[str] = Counter()

    def set_faults(self, spec: str, *, latency_ms: float | None = None,
                   seed: int | None = None) -> None:
        """Replace the fault plan (and latency) at run time; `seed` restarts the draws, so a
        test knows which request of the next run fails whatever ran before it."""
        self.plan = FaultPlan.parse(spec)
        if seed is not None:
            self._rng = random.Random(seed)
        if latency_ms is not None:
            self.latency_ms = latency_ms

    def reset_counters(self) -> None:
        """Forget every count (between benchmark phases)."""
        self.requests.clear()
        self.statuses.clear()
        self.injected.clear()

    def stats(self) -> dict[str, Any]:
        """Counts for /_sandbox/stats: requests per endpoint, statuses, faults injected."""
        return {
            "requests": {s: dict(sorted(c.items())) for s, c in sorted(self.requests.items())},
            "total": {s: sum(c.values()) for s, c in sorted(self.requests.items())},
            "statuses": {s: {str(k): v for k, v in sorted(c.items())}
                         for s, c in sorted(self.statuses.items())},
            "faults_injected": dict(self.injected),
        }

    def _draw(self, system: str) -> str | None:
        for scope in (system, None):
            for kind in ("429", "500"):
                key = (scope, kind)
                if self.plan.storms.get(key, 0) > 0:
                    self.plan.storms[key] -= 1
                    return kind
        for (scope, kind), odds in self.plan.odds.items():
            if scope in (None, system) and self._rng.random() < odds:
                return kind
        return None

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The middleware: count, delay, maybe fail, else pass to `app`."""
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            system = system_of(scope["path"])
            if system is None or scope["path"].startswith("/_sandbox/shopify/bulk"):
                await app(scope, receive, send)
                return
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            status: list[int] = []

            def count() -> None:
                route = scope.get("route")
                template = getattr(route, "path", scope["path"])
                self.requests[system][f"{scope['method']} {template}"] += 1
                if status:
                    self.statuses[system][status[0]] += 1

            async def counting_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    # counted before the answer leaves: a client that reads the counters
                    # right after its response sees its own request in them
                    status.append(int(message["status"]))
                    count()
                await send(message)

            fault = self._draw(system)
            try:
                if fault is None:
                    await app(scope, receive, counting_send)
                else:
                    self.injected[f"{system}.{fault}"] += 1
                    await self._inject(fault, system, scope, receive, counting_send, app)
            finally:
                if not status:  # no answer started (the app raised): counted all the same
                    count()
        return middleware

    async def _inject(self, fault: str, system: str, scope: Scope, receive: Receive,
                      send: Send, app: ASGIApp) -> None:
        if fault == "429" and system in self._throttled:
            await self._throttled[system]()(scope, receive, send)
        elif fault in ("429", "500", "502", "503"):
            await _error(system, int(fault))(scope, receive, send)
        elif fault == "timeout":
            await asyncio.sleep(self.timeout_s)  # the client gives up first
            await _error(system, 504)(scope, receive, send)
        elif fault == "reset":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", b"1000")]})
            raise ConnectionResetError("sandbox: injected connection reset")
        else:  # truncate: a real answer, cut in half
            body: list[bytes] = []
            head: dict[str, Any] = {}

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    head.update(message)
                else:
                    body.append(message.get("body", b""))
            await app(scope, receive, capture)
            whole = b"".join(body)
            cut = whole[: max(1, len(whole) // 2)]
            headers = [(k, v) for k, v in head.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(cut)).encode()))
            await send({"type": "http.response.start", "status": head.get("status", 200),
                        "headers": headers})
            await send({"type": "http.response.body", "body": cut})


def _error(system: str, status: int) -> Response:
    """A server error as each API words it."""
    if system == "mailchimp":
        return Response(json.dumps({
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": "Internal Server Error" if status != 429 else "Too Many Requests",
            "status": status, "detail": "An unexpected internal error has occurred.",
            "instance": "00000000-0000-0000-0000-000000000000"}),
            status_code=status, media_type="application/problem+json; charset=utf-8")
    if system == "hubspot":
        return JSONResponse({"status": "error", "message": "internal error",
                             "correlationId": "00000000-0000-0000-0000-000000000000",
                             "category": "INTERNAL_ERROR"}, status_code=status)
    return JSONResponse({"errors": "Internal Server Error"}, status_code=status)
