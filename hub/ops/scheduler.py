"""`hub run`: the pipelines of ``[schedule.NAME]`` on APScheduler 3, for months, unattended.

- Jobs live in the store (APScheduler's SQLAlchemyJobStore on the `scheduler_jobs` table), so
  a restarted node knows what it missed: a job whose time passed while every node was down
  runs once on start (coalesce) if it is late by less than ``[scheduler] misfire_grace``.
- Several nodes may share one PostgreSQL store. Each run holds the pipeline's lease
  (hub.ops.lease); the slot it runs is recorded under the lease, so two nodes woken for the same
  slot run it once between them. The run itself then waits for the store's writer lease, which
  every sync takes (manual ones too), so pipelines take turns. Every ``takeover_check`` each
  node looks for a run marked running whose lease is free — its node died — and resumes it
  from the last checkpoint, after marking the dead run crashed.
- `stop()` (SIGTERM/SIGINT, see hub.ops.daemon): no new runs; the running ones stop at their next
  checkpoint and are marked interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import insert, select, update

from hub.clock import iso
from hub.config import ScheduleSection, parse_duration
from hub.errors import ConfigError, HubError, StoreBusy
from hub.logs import log_context
from hub.ops import alerts, lease
from hub.ops.metrics import Metrics
from hub.ops.triggers import current_slot, trigger_for
from hub.pipeline.engine import SyncOptions, sync
from hub.pipeline.summary import RunError, RunSummary
from hub.runtime import Runtime
from hub.store.schema import pipelines, runs

log = logging.getLogger("hub.scheduler")

JOB_FUNC = "hub.ops.scheduler:scheduled_run"
_active: Scheduler | None = None


def node_name() -> str:
    """host:pid — what run rows and `hub status` say about who ran what."""
    return f"{socket.gethostname()}:{os.getpid()}"


def scheduled_run(pipeline: str) -> None:
    """The persisted job's target (referenced by name, so jobs survive restarts)."""
    if _active is None:
        log.error("a scheduled job ran outside `hub run`", extra={"pipeline": pipeline})
        return
    _active.run_pipeline(pipeline, trigger="schedule")


@dataclass
class _Spec:
    name: str
    schedule: ScheduleSection
    full_every: timedelta | None


class Scheduler:
    """One `hub run` node: the APScheduler instance, the leases, stopping, and the reports."""

    def __init__(self, runtime: Runtime, *, node: str | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        config = runtime.config.config
        if not config.schedule:
            raise ConfigError("no pipeline to run", path=str(runtime.config.path),
                              key="schedule",
                              hint='add one, e.g. [schedule.main] with every = "15m"')
        self.runtime = runtime
        self.store = runtime.store
        self.node = node or node_name()
        self.clock = clock or runtime.clock
        self.settings = config.scheduler
        self.specs = {name: _Spec(name, s, parse_duration(s.full_every) if s.full_every else None)
                      for name, s in config.schedule.items()}
        self.metrics = Metrics(self.store, list(self.specs))
        self.stopping = threading.Event()
        self._busy: dict[str, threading.Event] = {}
        self._busy_lock = threading.RLock()  # a signal handler may take it again
        self._scheduler: BackgroundScheduler | None = None
        if config.alerts.webhook or config.alerts.smtp_host:
            runtime.plugins.manager.register(
                alerts.Delivery(config.alerts, runtime.secrets), name="hub-alerts")

    # -- the daemon ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the scheduler takes runs (what `/healthz` reports)."""
        return (self._scheduler is not None and self._scheduler.running
                and not self.stopping.is_set())

    def start(self) -> None:
        """Start APScheduler with the configured pipelines (jobs kept in the store)."""
        global _active
        _active = self
        grace = int(parse_duration(self.settings.misfire_grace).total_seconds())
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine,
                                                     tablename="scheduler_jobs"),
                       "local": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(len(self.specs) + 2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
            timezone=UTC)
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._sync_jobs(scheduler, grace)
        check = parse_duration(self.settings.takeover_check).total_seconds()
        scheduler.add_job(self.take_over, IntervalTrigger(seconds=check), id="takeover-check",
                          jobstore="local", next_run_time=datetime.now(UTC),
                          max_instances=1, coalesce=True)
        scheduler.resume()
        log.info("scheduler started", extra={"node": self.node, "pipelines": list(self.specs)})

    def _sync_jobs(self, scheduler: BackgroundScheduler, grace: int) -> None:
        """Make the stored jobs match the config, keeping unchanged jobs' next (missed) time."""
        for job in scheduler.get_jobs(jobstore="default"):
            if job.id not in self.specs:
                scheduler.remove_job(job.id, jobstore="default")
        for name, spec in self.specs.items():
            trigger = trigger_for(spec.schedule)
            existing = scheduler.get_job(name, jobstore="default")
            if existing is not None and _same(existing.trigger, trigger):
                scheduler.modify_job(name, jobstore="default", misfire_grace_time=grace,
                                     coalesce=True, max_instances=1)
                continue
            scheduler.add_job(JOB_FUNC, trigger, args=[name], id=name, name=name,
                              jobstore="default", replace_existing=True)

    def stop(self, *, wait: bool = True) -> None:
        """Take no new runs; running ones stop at their next checkpoint; wait for them."""
        self.stopping.set()
        with self._busy_lock:
            for event in self._busy.values():
                event.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        log.info("scheduler stopped", extra={"node": self.node})

    # -- one run ---------------------------------------------------------------------------
    def run_pipeline(self, name: str, *, trigger: str) -> RunSummary | None:
        """Run `name` under its lease; None when another node has it or the slot was run."""
        spec = self.specs[name]
        if self.stopping.is_set():
            return None
        with self._claim_locally(name) as stop:
            if stop is None:
                log.debug("pipeline is already running on this node", extra={"pipeline": name})
                return None
            held = lease.open_lease(self.store, name)
            if not held.acquire():
                # normal with several nodes: the others got there first
                log.debug("pipeline runs on another node; skipped", extra={"pipeline": name})
                return None
            token = log_context.set({"pipeline": name, "node": self.node})
            beat = _Heartbeat(held, stop)
            try:
                now = self.clock()
                with self.store.begin() as conn:
                    if trigger == "schedule":
                        if not lease.claim_slot(conn, name, current_slot(spec.schedule, now),
                                                node=self.node, now=now):
                            log.debug("this slot already ran on another node",
                                      extra={"pipeline": name})
                            return None
                    else:
                        lease.hold(conn, name, node=self.node, now=now)
                    full = self._full_due(conn, spec, now)
                log.info("run starting", extra={"trigger": trigger, "full": full})
                beat.start()
                summary = self._sync(spec, trigger=trigger, full=full, stop=stop, now=now)
                if summary is not None:
                    self._report(summary)
                return summary
            finally:
                beat.stop()
                try:
                    with self.store.begin() as conn:
                        lease.let_go(conn, name)
                finally:
                    held.release()
                    log_context.reset(token)

    @contextmanager
    def _claim_locally(self, name: str) -> Iterator[threading.Event | None]:
        with self._busy_lock:
            if name in self._busy:
                claimed = None
            else:
                claimed = self._busy[name] = threading.Event()
                if self.stopping.is_set():
                    claimed.set()
        try:
            yield claimed
        finally:
            if claimed is not None:
                with self._busy_lock:
                    self._busy.pop(name, None)

    def _full_due(self, conn: Any, spec: _Spec, now: datetime) -> bool:
        if spec.full_every is None:
            return False
        last = conn.execute(select(pipelines.c.last_full_at).where(
            pipelines.c.name == spec.name)).scalar()
        return last is None or now - last >= spec.full_every

    def _sync(self, spec: _Spec, *, trigger: str, full: bool, stop: threading.Event,
              now: datetime) -> RunSummary | None:
        """The run, or None when the node stopped while another run held the store."""
        options = SyncOptions(full=full, connectors=spec.schedule.connectors,
                              pipeline=spec.name, trigger=trigger, stop=stop, node=self.node,
                              wait=True, on_wait=log.info)
        try:
            summary = sync(self.runtime, options)
        except StoreBusy as exc:  # only when stopping: a run that never started
            log.info("%s", exc)
            return None
        except HubError as exc:  # before the run started (a missing secret): still a run row
            log.error("the run could not start: %s", exc)
            summary = self._error_run(spec.name, trigger, exc, now)
        except Exception as exc:  # a bug: the run row must not stay 'running', ops must hear
            log.exception("the run failed unexpectedly")
            with self.store.begin() as conn:
                crashed = lease.end_crashed_run(
                    conn, spec.name, error=f"unexpected {type(exc).__name__} (the log has where)",
                    now=self.clock())
            if crashed is None:
                raise
            return crashed
        if full and summary.status in ("ok", "failed") and not summary.errors:
            with self.store.begin() as conn:
                conn.execute(update(pipelines).where(pipelines.c.name == spec.name).values(
                    last_full_at=now))
        return summary

    def _error_run(self, pipeline: str, trigger: str, error: HubError,
                   now: datetime) -> RunSummary:
        finished = self.clock()
        summary = RunSummary(
            run_id=None, status="error", exit_code=error.exit_code, plan=False, full=False,
            pipeline=pipeline, trigger=trigger, node=self.node,
            started_at=iso(now), finished_at=iso(finished), duration_s=0.0,
            connectors={}, rejected_total=0, rejected=[],
            errors=[RunError(connector="-", message=str(error))], drift=[])
        with self.store.begin() as conn:
            summary.run_id = conn.execute(insert(runs).values(
                pipeline=pipeline, trigger=trigger, status="error", started_at=now,
                finished_at=finished, exit_code=error.exit_code, summary=summary.as_dict(),
                node=self.node).returning(runs.c.id)).scalar_one()
            conn.execute(update(runs).where(runs.c.id == summary.run_id).values(
                summary=summary.as_dict()))
        return summary

    def _report(self, summary: RunSummary) -> None:
        """Metrics, the log line, and alerts (decided from the shared history)."""
        reported = summary.as_dict()
        self.metrics.observe(reported)
        log.info("run finished", extra={
            "run_id": summary.run_id, "status": summary.status,
            "exit_code": summary.exit_code, "duration_s": summary.duration_s,
            "rejected_total": summary.rejected_total})
        try:
            with self.store.begin() as conn:
                due = alerts.decide(conn, reported, self.runtime.config.config.alerts)
            for alert in due:
                log.warning("alert: %s", alert["message"], extra={"alert": alert["kind"]})
                self.runtime.plugins.send_alert(alert)  # each channel on its own
        except Exception:  # deciding must never stop the scheduler
            log.exception("deciding the alerts failed")

    # -- takeover --------------------------------------------------------------------------
    def take_over(self) -> None:
        """Resume pipelines left 'running' by a dead node (their lease is free)."""
        for name in self.specs:
            if self.stopping.is_set():
                return
            with self.store.begin() as conn:
                if not lease.marked_running(conn, name):
                    continue
            self.run_pipeline(name, trigger="takeover")

    def run_all_once(self) -> int:
        """`hub run --once`: every pipeline now, one after another; the worst exit code."""
        code = 0
        for name in self.specs:
            if self.stopping.is_set():
                break
            summary = self.run_pipeline(name, trigger="once")
            if summary is not None:
                code = max(code, summary.exit_code)
        return code


def _same(existing: Any, wanted: Any) -> bool:
    return bool(repr(existing) == repr(wanted)
                and getattr(existing, "jitter", None) == getattr(wanted, "jitter", None))


class _Heartbeat:
    """While a run holds its lease, check every few seconds that it still does; if not, stop."""

    def __init__(self, held: lease.Lease, stop: threading.Event, every: float = 5.0) -> None:
        self._held = held
        self._stop_run = stop
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        """Begin checking (from the moment the run is about to start)."""
        self._thread.start()

    def stop(self) -> None:
        """The run is over; stop checking."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._done.wait(self._every):
            if not self._held.alive():
                log.error("lost the pipeline lease; stopping at the next checkpoint")
                self._stop_run.set()
                return
