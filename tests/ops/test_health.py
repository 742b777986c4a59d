"""/healthz answers from the shared run history; /metrics counts this node's runs and reads
the store's gauges at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from sqlalchemy import insert

from hub.ops.health import health_app
from hub.ops.metrics import Metrics
from hub.ops.serving import serve_in_thread
from hub.store import Store
from hub.store.schema import consent_ledger, dead_letters, runs
from tests.conftest import FIXED_NOW


@contextmanager
def served(store: Store, metrics: Metrics, pipelines: list[str],
           running: Callable[[], bool]) -> Iterator[httpx.Client]:
    app = health_app(store, metrics, pipelines, running=running, unhealthy_after=3)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.base_url) as client:
        yield client


def _fail(store: Store, pipeline: str, n: int) -> None:
    with store.begin() as conn:
        for i in range(n):
            conn.execute(insert(runs).values(pipeline=pipeline, trigger="schedule",
                                             status="error", summary={"errors": [{}]},
                                             started_at=FIXED_NOW + timedelta(minutes=i)))


def test_healthz_turns_unhealthy_after_the_threshold_and_when_stopped(store: Store) -> None:
    metrics = Metrics(store, ["main", "other"])
    scheduler = {"running": True}
    with served(store, metrics, ["main", "other"], lambda: scheduler["running"]) as client:
        _check_health(store, client, scheduler)


def _check_health(store: Store, client: httpx.Client, scheduler: dict[str, bool]) -> None:
    assert client.get("/healthz").status_code == 200
    _fail(store, "main", 2)
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["consecutive_failures"] == {"main": 2, "other": 0}
    _fail(store, "main", 1)
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json()["failing"] == ["main"]
    with store.begin() as conn:
        conn.execute(insert(runs).values(pipeline="main", trigger="schedule", status="ok",
                                         started_at=FIXED_NOW + timedelta(hours=1)))
    assert client.get("/healthz").status_code == 200
    scheduler["running"] = False
    assert client.get("/healthz").json()["scheduler_running"] is False
    assert client.get("/healthz").status_code == 503


def test_metrics_count_runs_and_read_the_store(store: Store) -> None:
    metrics = Metrics(store, ["main"])
    metrics.observe({"pipeline": "main", "status": "ok", "duration_s": 12.5, "connectors": {
        "crm": {"read": 40, "created": 3, "updated": 2, "rejected": 1, "api_calls": 9,
                "throttled": 2}}})
    with store.begin() as conn:
        conn.execute(insert(dead_letters).values(connector="crm", stage="push", reason="x",
                                                 created_at=FIXED_NOW))
        conn.execute(insert(consent_ledger).values(
            channel="email", purpose="newsletter", kind="decision:subscribed",
            recorded_at=FIXED_NOW, prev_hash="0", entry_hash="1"))
    with served(store, metrics, ["main"], lambda: True) as client:
        answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    for line in ('hub_runs_total{pipeline="main",status="ok"} 1.0',
                 'hub_run_duration_seconds_sum{pipeline="main"} 12.5',
                 'hub_records_total{connector="crm",kind="read",pipeline="main"} 40.0',
                 'hub_api_calls_total{connector="crm"} 9.0',
                 'hub_api_throttled_total{connector="crm"} 2.0',
                 'hub_dead_letters{connector="crm"} 1.0',
                 'hub_consent_decisions{decision="subscribed"} 1.0',
                 'hub_pipeline_consecutive_failures{pipeline="main"} 0.0',
                 "hub_contacts 0.0"):
        assert line in text, line
