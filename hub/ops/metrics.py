"""Prometheus metrics of a `hub run` node (served on ``/metrics`` by hub.ops.health).

Two kinds: what this node did (runs, durations, records, API calls, 429s: counters that grow
with each run it finished), and what the store holds now (outbox depth, dead letters, consent
decisions, failures in a row: read from the database at each scrape, so every node reports
the same shared truth).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from hub.ops.dead_letters import open_counts
from hub.ops.history import consecutive_failures
from hub.pipeline.outbox import pending_counts
from hub.store import Store
from hub.store.schema import consent_ledger, contacts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    """Gauges read from the shared store at scrape time."""

    def __init__(self, store: Store, pipelines: Sequence[str]) -> None:
        self._store = store
        self._pipelines = list(pipelines)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One query per gauge; cheap next to a sync."""
        depth = GaugeMetricFamily("hub_outbox_pending", "Writes waiting for a system",
                                  labels=["connector"])
        letters = GaugeMetricFamily("hub_dead_letters", "Unresolved dead letters",
                                    labels=["connector"])
        decisions = GaugeMetricFamily("hub_consent_decisions",
                                      "Consent decisions recorded in the ledger",
                                      labels=["decision"])
        failures = GaugeMetricFamily("hub_pipeline_consecutive_failures",
                                     "Failed runs in a row", labels=["pipeline"])
        total = GaugeMetricFamily("hub_contacts", "Active golden contacts")
        with self._store.begin() as conn:
            for name, n in pending_counts(conn).items():
                depth.add_metric([name], n)
            for name, n in open_counts(conn).items():
                letters.add_metric([name], n)
            for kind, n in conn.execute(
                    select(consent_ledger.c.kind, func.count())
                    .where(consent_ledger.c.kind.like("decision:%"))
                    .group_by(consent_ledger.c.kind)):
                decisions.add_metric([kind.removeprefix("decision:")], n)
            for name in self._pipelines:
                failures.add_metric([name], consecutive_failures(conn, name))
            total.add_metric([], conn.execute(select(func.count()).select_from(contacts).where(
                contacts.c.status == "active")).scalar_one())
        yield from (depth, letters, decisions, failures, total)


class Metrics:
    """The node's registry; `observe` is called with each finished run's summary."""

    def __init__(self, store: Store, pipelines: Sequence[str]) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("hub_runs", "Finished runs", ["pipeline", "status"],
                            registry=self.registry)
        self.duration = Histogram("hub_run_duration_seconds", "Run duration", ["pipeline"],
                                  buckets=(1, 5, 15, 60, 300, 900, 3600, 14400),
                                  registry=self.registry)
        self.records = Counter("hub_records", "Records by connector and what happened",
                               ["pipeline", "connector", "kind"], registry=self.registry)
        self.api_calls = Counter("hub_api_calls", "Requests to systems", ["connector"],
                                 registry=self.registry)
        self.throttled = Counter("hub_api_throttled", "429 / throttled answers", ["connector"],
                                 registry=self.registry)
        self.registry.register(StoreCollector(store, pipelines))

    def observe(self, summary: Mapping[str, Any]) -> None:
        """Count one finished run."""
        pipeline = str(summary.get("pipeline"))
        self.runs.labels(pipeline, str(summary.get("status"))).inc()
        if summary.get("duration_s") is not None:
            self.duration.labels(pipeline).observe(float(summary["duration_s"]))
        for connector, counts in (summary.get("connectors") or {}).items():
            for kind in ("read", "created", "updated", "rejected", "deleted"):
                if counts.get(kind):
                    self.records.labels(pipeline, connector, kind).inc(counts[kind])
            self.api_calls.labels(connector).inc(counts.get("api_calls", 0))
            self.throttled.labels(connector).inc(counts.get("throttled", 0))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
