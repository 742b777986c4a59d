"""The sandbox: the simulators on one loopback port behind fault injection and counters.

``Sandbox(...)`` builds the seeded simulators and one Starlette app; ``start()`` serves it on a
free loopback port in a thread (tests, `hub demo`); `hub sandbox serve` runs it in the
foreground. Control endpoints: ``GET /_sandbox/stats``, ``POST /_sandbox/reset``,
``POST /_sandbox/faults`` with ``{"faults": "429storm:3", "latency_ms": 0}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.ops.serving import ServedApp, serve_in_thread
from hub_sandbox.controls import Controls
from hub_sandbox.hubspot.simulator import HubSpotLimits, HubSpotSimulator
from hub_sandbox.mailchimp import MailchimpLimits, MailchimpSimulator
from hub_sandbox.people import Person, generate
from hub_sandbox.shopify.scopes import normalized
from hub_sandbox.shopify.simulator import ShopifyLimits, ShopifySimulator


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Sandbox:
    """Seeded simulators, their controls, and the ASGI app serving them."""

    def __init__(self, *, seed: int = 1, contacts: int = 3000, latency_ms: float = 0.0,
                 faults: str = "", rate_limit: bool = True, rate_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = _utcnow,
                 hubspot_scopes: Iterable[str] | None = None,
                 hubspot_stages: Mapping[str, str] | None = None,
                 shopify_scopes: Iterable[str] | None = None,
                 hubspot_rate_per_10s: int = 100, shopify_plan: str = "standard") -> None:
        """`hubspot_scopes`, `shopify_scopes`: the tokens' scopes (None: all the simulator
        knows); `hubspot_stages`: the portal's lifecycle stages, value → label (None: HubSpot's
        defaults); `hubspot_rate_per_10s`: the private app's tier (100, 190 or 250 per rolling
        10 s); `shopify_plan`: the shop's plan, which sets its restore rate."""
        self.seed = seed
        self.contacts = contacts
        self.people: list[Person] = generate(seed, contacts)
        shopify = ShopifyLimits(rate_limit=rate_limit, rate_scale=rate_scale, plan=shopify_plan)
        if shopify_scopes is not None:
            shopify.scopes = normalized(shopify_scopes)
        self.shopify = ShopifySimulator(self.people, limits=shopify, clock=clock, now=now)
        self.mailchimp = MailchimpSimulator(
            self.people, limits=MailchimpLimits(rate_limit=rate_limit, rate_scale=rate_scale),
            clock=clock, now=now)
        # the HubSpot token's scopes (None: all) and the portal's lifecycle stages
        hubspot_limits = HubSpotLimits(
            rate_limit=rate_limit, rate_scale=rate_scale, rate_per_10s=hubspot_rate_per_10s,
            scopes=None if hubspot_scopes is None else frozenset(hubspot_scopes))
        if hubspot_stages is not None:
            hubspot_limits.lifecycle_stages = dict(hubspot_stages)
        self.hubspot = HubSpotSimulator(self.people, limits=hubspot_limits, clock=clock, now=now)
        self.simulators: list[Any] = [self.hubspot, self.shopify, self.mailchimp]
        self.controls = Controls(seed=seed, latency_ms=latency_ms, faults=faults, throttled={
            "hubspot": self.hubspot.rate_limited_response,
            "shopify": self.shopify.rate_limited_response,
            "mailchimp": self.mailchimp.rate_limited_response})
        routes: list[Any] = [
            Route("/_sandbox/stats", self._stats, methods=["GET"]),
            Route("/_sandbox/reset", self._reset, methods=["POST"]),
            Route("/_sandbox/faults", self._faults, methods=["POST"]),
        ]
        for simulator in self.simulators:
            routes.extend(simulator.routes())
        self.app = self.controls.wrap(Starlette(routes=routes))

    def stats(self) -> dict[str, Any]:
        """Request counters plus each simulator's summary."""
        return {**self.controls.stats(),
                "systems": {s.system: s.summary() for s in self.simulators},
                "seed": self.seed, "contacts": self.contacts}

    def reset(self) -> None:
        """Back to the seeded state: data, rate limits and counters."""
        for simulator in self.simulators:
            simulator.reset(self.people)
        self.controls.reset_counters()

    def credentials(self, base_url: str) -> dict[str, dict[str, str]]:
        """What `hub sandbox serve --json` prints: where each API is and how to log in."""
        return {s.system: s.credentials(base_url) for s in self.simulators}

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse(self.stats())

    async def _reset(self, request: Request) -> JSONResponse:
        self.reset()
        return JSONResponse({"reset": True})

    async def _faults(self, request: Request) -> JSONResponse:
        body = await request.json()
        try:
            self.controls.set_faults(str(body.get("faults", "")),
                                     latency_ms=body.get("latency_ms"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": body.get("faults", "")})

    def start(self, host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
        """Serve on host:port (0: a free port) from a background thread."""
        return RunningSandbox(self, serve_in_thread(self.app, host, port))


@dataclass
class RunningSandbox:
    """A sandbox being served: its URL, credentials, counters; stop it when done."""

    sandbox: Sandbox
    served: ServedApp

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.served.base_url

    def credentials(self) -> dict[str, dict[str, str]]:
        """Per system: base_url and credentials, as `serve --json` prints them."""
        return self.sandbox.credentials(self.base_url)

    def stats(self) -> dict[str, Any]:
        """The counters, read in-process."""
        return self.sandbox.stats()

    def stop(self) -> None:
        """Shut the server down."""
        self.served.stop()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
