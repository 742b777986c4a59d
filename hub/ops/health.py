"""``hub run --http``: ``/healthz`` for the orchestrator, ``/metrics`` for Prometheus.

Healthy means: this node's scheduler is running and no pipeline has failed
``[scheduler] unhealthy_after`` times in a row (history decides, so every node agrees). A
pipeline whose only problem is refused records is healthy: dead letters are an alert and a
metric, not a reason for systemd or Kubernetes to restart hub.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.ops.history import consecutive_failures
from hub.ops.metrics import CONTENT_TYPE, Metrics
from hub.store import Store


def health_app(store: Store, metrics: Metrics, pipelines: Sequence[str], *,
               running: Callable[[], bool], unhealthy_after: int) -> Starlette:
    """The ASGI app serving both endpoints."""

    def healthz(request: Request) -> JSONResponse:
        failing: dict[str, int] = {}
        try:
            with store.begin() as conn:
                streaks = {name: consecutive_failures(conn, name) for name in pipelines}
        except Exception as exc:  # the store itself is down: unhealthy, and say so
            return JSONResponse({"status": "unhealthy",
                                 "reason": f"the store cannot be read: {type(exc).__name__}"},
                                status_code=503)
        failing = {name: n for name, n in streaks.items() if n >= unhealthy_after}
        scheduler = running()
        healthy = scheduler and not failing
        body = {"status": "ok" if healthy else "unhealthy", "scheduler_running": scheduler,
                "consecutive_failures": streaks, "failing": sorted(failing)}
        return JSONResponse(body, status_code=200 if healthy else 503)

    def scrape(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", scrape)])
