"""One sync run: PULL → RESOLVE → DECIDE → PUSH → REPORT, in that order and nothing more.

Each stage lives in its own module; this one builds the connectors, orders the stages, keeps
one connector's failure from stopping the others, and writes the run row whose summary is
what `hub sync --json` prints and what `run_finished` plugins observe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update

from hub.clock import iso
from hub.connector import Capability, Connector, Rejection
from hub.consent import ledger
from hub.consent import states as consent_states
from hub.consent.policy import Policy
from hub.errors import (
    EXIT_CRASH,
    EXIT_INTERRUPTED,
    ConfigError,
    ConnectorError,
    HubError,
    Interrupted,
    StoreBusy,
    UnreachableError,
)
from hub.lifecycle import evaluation, lead_fields
from hub.logs import log_context, mask_emails
from hub.matching import linking
from hub.pipeline import crashes, golden, identity, outbox, pull, push
from hub.pipeline.merge import Survivorship
from hub.pipeline.normalize import IdentitySettings, Normalizer
from hub.pipeline.progress import Checkpoints, ProgressSink, Silent, StopSignal
from hub.pipeline.summary import (
    ConnectorCounts,
    ConsentCounts,
    ContactCounts,
    Drift,
    Rejected,
    RunError,
    RunSummary,
)
from hub.runtime import Runtime
from hub.store import ANALYZE_FROM, Store, analyze, locks
from hub.store.schema import contacts, runs, source_records

log = logging.getLogger("hub.engine")
MAX_REJECTIONS_SHOWN = 50
#: How often a run waiting for the store's writer lease tries again.
LEASE_POLL_SECONDS = 0.5


@dataclass
class SyncOptions:
    """What `hub sync` (or a scheduled pipeline) asks for."""

    plan: bool = False
    full: bool = False
    connectors: list[str] | None = None
    pipeline: str = "manual"
    trigger: str = "manual"
    #: Set by `hub run` on SIGTERM: the run ends at its next checkpoint, marked interrupted.
    stop: StopSignal | None = None
    #: The `hub run` node running it (host:pid), stored on the run row.
    node: str | None = None
    #: When another run holds the store: wait for it (True) or raise `StoreBusy` (False).
    wait: bool = False
    #: Told once, when the run starts waiting for the store (who holds it).
    on_wait: Callable[[str], None] | None = None


@dataclass
class _Tally:
    counts: dict[str, ConnectorCounts] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    rejected_total: int = 0
    errors: list[RunError] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    exit_code: int = 0

    def connector(self, name: str) -> ConnectorCounts:
        return self.counts.setdefault(name, ConnectorCounts())

    def reject(self, name: str, rejection: Rejection, stage: str = "read") -> None:
        self.rejected_total += 1
        self.connector(name).rejected += 1
        if len(self.rejected) < MAX_REJECTIONS_SHOWN:
            # the summary is stored and shipped (hooks, `hub runs`): addresses masked, the
            # dead letter keeps the record itself
            self.rejected.append(Rejected(
                connector=name, stage=stage, record_id=rejection.record_id and mask_emails(
                    rejection.record_id), origin=rejection.origin,
                reason=mask_emails(rejection.reason)))

    def fail(self, name: str, error: HubError) -> None:
        self.errors.append(RunError(connector=name, message=mask_emails(str(error))))
        self.exit_code = max(self.exit_code, error.exit_code)


def normalizer_for(runtime: Runtime) -> Normalizer:
    """The normaliser configured by ``[hub] default_region`` and ``[identity]``."""
    config = runtime.config.config
    defaults = IdentitySettings()
    settings = IdentitySettings(
        placeholder_emails=defaults.placeholder_emails
        | {e.strip().casefold() for e in config.identity.placeholder_emails},
        placeholder_local_parts=defaults.placeholder_local_parts,
        role_local_parts=defaults.role_local_parts
        | {r.strip().casefold().split("@")[0] for r in config.identity.role_addresses},
    )
    return Normalizer(default_region=config.hub.default_region, identity=settings)


def lifecycle_of(runtime: Runtime) -> evaluation.Lifecycle:
    """The ``[scoring]`` and ``[lifecycle]`` rules with the plugins' scoring signals."""
    config = runtime.config.config
    return evaluation.Lifecycle(config.scoring, config.lifecycle, runtime.plugins.signals)


@dataclass
class _Started:
    """What an exception escaping a run leaves to report: its row, and whether it was told."""

    run_id: int | None = None
    started: datetime | None = None
    reported: bool = False


def sync(runtime: Runtime, options: SyncOptions,
         progress: ProgressSink | None = None) -> RunSummary:
    """Run one sync holding the store's writer lease, and return its summary.

    The lease makes this run the store's only writer (`hub.store.locks.writer_lease`); when
    another run holds it, the run waits (`options.wait`) or raises `StoreBusy`. Holding it, a
    run first marks runs whose process died as crashed, so no run stays 'running' forever.
    A plan (`options.plan`) runs every stage against `Store.rehearsal()`, which is thrown
    away: the store is exactly as before, whatever the plan read, merged or queued.

    Every run that got a run row ends with `run_finished`, including one an unexpected
    exception stops: plugins hear status "error" before the exception propagates, so a bug
    in hub or in a connector is not invisible to the observers that exist to notice it. The
    row itself is left to whoever handles the exception (`hub run` marks it with
    `lease.end_crashed_run` and alerts; it does not report the run a second time).
    """
    store = runtime.store
    writer = locks.writer_lease(store)
    _acquire(writer, store, options)
    try:
        if options.plan:
            with store.rehearsal() as scratch:
                return _reported(runtime, scratch, options, progress)
        with store.begin() as conn:
            crashed = crashes.mark_crashed(conn, by=_who(options), now=runtime.clock())
        for summary in crashed:
            log.warning("run %s had crashed: %s", summary["run_id"], summary["message"])
            runtime.plugins.run_finished(summary)
        return _reported(runtime, store, options, progress)
    finally:
        writer.release()


def _who(options: SyncOptions) -> str:
    return f"node {options.node}" if options.node else f"a {options.trigger} hub sync"


def _acquire(writer: locks.Lease, store: Store, options: SyncOptions) -> None:
    """Take the writer lease now, or wait for it, or say who holds it (`StoreBusy`)."""
    if writer.acquire():
        return
    holder = _holder(store)
    if not options.wait:
        raise StoreBusy(f"another run writes to this store: {holder} — let it finish, or run "
                        "`hub sync --wait` to wait for it")
    if options.on_wait is not None:
        options.on_wait(f"another run writes to this store: {holder}; waiting for it to "
                        "finish")
    pause = threading.Event()
    while not writer.acquire():
        if options.stop is not None and options.stop.is_set():
            raise StoreBusy(f"stopped while waiting for the store ({holder})")
        pause.wait(LEASE_POLL_SECONDS)


def _holder(store: Store) -> str:
    """Who holds the store, as far as its newest 'running' row says."""
    with store.begin() as conn:
        row = conn.execute(select(runs).where(runs.c.status == "running")
                           .order_by(runs.c.id.desc()).limit(1)).first()
    if row is None:
        return "a run that is just starting or ending"
    who = f"node {row.node}" if row.node else "a manual hub sync"
    return f"run {row.id} (pipeline {row.pipeline}, {who}, started {iso(row.started_at)})"


def _reported(runtime: Runtime, store: Store, options: SyncOptions,
              progress: ProgressSink | None) -> RunSummary:
    run = _Started()
    try:
        return _run(runtime, store, options, progress, run)
    except BaseException as exc:
        if run.run_id is not None and run.started is not None and not run.reported:
            run.reported = True
            runtime.plugins.run_finished(_escaped(run.run_id, options, exc, run.started,
                                                  runtime.clock()).as_dict())
        raise


def _escaped(run_id: int, options: SyncOptions, exc: BaseException, started: datetime,
             finished: datetime) -> RunSummary:
    """The summary of a run an exception ended: the usual keys, with what is known.

    Only the exception's type: its message may quote a record, and summaries are shipped.
    """
    stopped = isinstance(exc, (KeyboardInterrupt, SystemExit))
    message = (f"stopped by {type(exc).__name__}" if stopped
               else f"unexpected {type(exc).__name__}; the run stopped (the log has more)")
    return RunSummary(
        run_id=run_id, status="interrupted" if stopped else "error",
        exit_code=EXIT_INTERRUPTED if stopped else EXIT_CRASH, plan=options.plan, full=options.full,
        pipeline=options.pipeline, trigger=options.trigger, node=options.node,
        started_at=iso(started), finished_at=iso(finished), connectors={},
        rejected_total=0, rejected=[], errors=[RunError("-", message)], drift=[])


def _run(runtime: Runtime, store: Store, options: SyncOptions, progress: ProgressSink | None,
         run: _Started) -> RunSummary:
    started = runtime.clock()
    clock_start = time.monotonic()
    names = _selected(runtime, options)
    # Build every connector first: a missing secret stops the run before anything is touched.
    connectors: dict[str, Connector] = {name: runtime.connector(name) for name in names}
    with store.begin() as conn:
        run_id = conn.execute(insert(runs).values(
            pipeline=options.pipeline, trigger=options.trigger, status="running",
            started_at=started, node=options.node).returning(runs.c.id)).scalar_one()
    run.run_id, run.started = run_id, started
    progress = Checkpoints(progress or Silent(), store, run_id, wall=runtime.clock)
    log_context.set({**log_context.get(), "run_id": run_id, "pipeline": options.pipeline})
    log.debug("run started", extra={"trigger": options.trigger})
    tally = _Tally()
    interrupted = False
    for name in names:
        tally.connector(name)
    failed: set[str] = set()
    contact_counts = ContactCounts()
    planned: dict[str, outbox.Planned] = {}
    lead_report = evaluation.Report()
    stages: dict[str, float] = {}

    def timed(stage: str, since: float) -> None:
        stages[stage] = round(stages.get(stage, 0.0) + time.monotonic() - since, 3)
    consent = runtime.config.config.consent
    policy = Policy(doi_request_window_days=consent.doi_request_window_days,
                    expire_after_days=consent.expire_after_days,
                    suppress_stale=consent.suppress_stale)
    try:
        normalizer = normalizer_for(runtime)
        for name, connector in connectors.items():
            if Capability.READ_CONTACTS not in connector.capabilities:
                continue
            for stream in connector.streams:
                progress.stage(f"read {name}", None)
                pulled = pull.PullStats()
                began = time.monotonic()
                try:
                    pull.pull(store, connector, stream, normalizer=normalizer, run_id=run_id,
                              now=started, full=options.full, progress=progress,
                              on_reject=tally.reject, stats=pulled, stop=options.stop)
                except CONTAINED as exc:
                    tally.fail(name, _connector_failure(name, exc))
                    failed.add(name)
                finally:
                    progress.done()
                    timed(f"read {name}", began)
                    counts = tally.connector(name)
                    counts.read += pulled.read
                    counts.skipped_unchanged += pulled.skipped_unchanged
                    counts.deleted += pulled.deleted
                    counts.suppressed += pulled.suppressed
                if name in failed:
                    break
                _reconcile_read(store, name, pulled, started, tally)

        if options.stop is not None and options.stop.is_set():
            raise Interrupted("stopped after reading, before merging")
        large = sum(c.read - c.skipped_unchanged for c in tally.counts.values()) \
            >= ANALYZE_FROM
        if large:
            with store.begin() as conn:
                analyze(conn, ("source_records", "identity_keys"))
        progress.stage("resolve", None)
        began = time.monotonic()
        with store.begin() as conn:
            total_records = conn.execute(
                select(func.count()).select_from(source_records)).scalar_one()
            identity_config = runtime.config.config.identity
            resolution = identity.resolve(
                conn, max_records=identity_config.max_records_per_contact,
                run_id=run_id, now=started)
            matched = linking.link(conn, thresholds=linking.Thresholds(
                identity_config.auto_merge, identity_config.review), run_id=run_id,
                now=started, id_fields=identity_config.identifiers,
                max_records=identity_config.max_records_per_contact,
                crowded=resolution.crowded)
            # in place: `touched` holds every contact of a first import
            resolution.touched.update(matched.touched)
            resolution.touched.update(golden.stale_ids(conn))
            if golden.rules_changed(conn, runtime.config.config.merge):
                resolution.touched.update(golden.active_ids(conn))  # a [merge] rule changed
            for name, n in _joined_counts(conn).items():
                if name in tally.counts:
                    tally.connector(name).merged += n
            consent_recorded = ledger.record_observations(conn, run_id=run_id, now=started)
            rebuilt = golden.rebuild(
                conn, resolution.touched, Survivorship(runtime.config.config.merge),
                run_id=run_id, now=started,
                bulk=len(resolution.touched) * 4 >= total_records)  # stream all, not by id
            if consent_recorded:
                ledger.touch_observed(conn, run_id)
        progress.done()
        timed("resolve", began)
        began = time.monotonic()
        if large:
            with store.begin() as conn:
                analyze(conn, ("contacts", "source_records", "leads", "match_keys"))
        with store.begin() as conn:
            lead_report = lifecycle_of(runtime).apply(
                conn, run_id=run_id, now=started,
                touched=None if options.full else resolution.touched, unread=failed)
        timed("lifecycle", began)
        contact_counts = ContactCounts(created=resolution.created,
                                       updated=rebuilt.updated - rebuilt.created,
                                       merged=resolution.merged + matched.merged,
                                       held_for_review=resolution.held + matched.suggested,
                                       consent_events=consent_recorded)

        for name, connector in connectors.items():
            if name in failed or Capability.WRITE_CONTACTS not in connector.capabilities:
                continue
            with store.begin() as conn:
                planned[name] = outbox.plan(
                    conn, connector, run_id=run_id, now=started, full=options.full,
                    newsletter=name == consent.newsletter, policy=policy,
                    lead=lead_fields.payloads(pushed) if (pushed := runtime.config.config
                                                        .lifecycle.push.get(name)) else None,
                )
            if planned[name].conflicts:
                tally.drift.append(Drift(
                    connector=name, kind="address_conflict", count=planned[name].conflicts,
                    message=f"{planned[name].conflicts} contacts were not written to {name}: "
                            "another contact's record there has their e-mail address "
                            "(`hub duplicates` to review, or give them their own addresses)"))
            if options.plan:
                continue
            progress.stage(f"push {name}", None)
            began = time.monotonic()
            try:
                stats = push.drain(store, connector, runtime.plugins, run_id=run_id,
                                   now=started, progress=progress,
                                   on_reject=lambda n, r: tally.reject(n, r, stage="push"),
                                   stop=options.stop)
            except CONTAINED as exc:
                tally.fail(name, _connector_failure(name, exc))
                failed.add(name)
                continue
            finally:
                progress.done()
                timed(f"push {name}", began)
            counts = tally.connector(name)
            counts.created += stats.created
            counts.updated += stats.updated
            with store.begin() as conn:
                waiting = outbox.pending_counts(conn).get(name, 0)
            if waiting:
                tally.drift.append(Drift(connector=name, kind="unacknowledged", count=waiting,
                                         message=f"{waiting} writes to {name} were not "
                                                 "acknowledged and wait for the next run"))
    except Interrupted as exc:  # a checkpoint was reached; the next run resumes from it
        interrupted = True
        log.info("run interrupted: %s", exc)
    finally:
        for name, connector in connectors.items():
            tally.connector(name).api_calls = connector.context.api_calls
            tally.connector(name).throttled = connector.context.throttled
            try:
                connector.close()
            except ConnectorError as exc:
                tally.fail(name, exc)
    if (tally.rejected_total or tally.drift) and tally.exit_code == 0:
        tally.exit_code = 1
    began = time.monotonic()
    with store.begin() as conn:
        # what this run changed decided once now, so counting consent states is one query
        consent_states.refresh(conn)
    timed("consent states", began)
    with store.begin() as conn:
        contact_counts.total = conn.execute(select(func.count()).select_from(contacts).where(
            contacts.c.status == "active")).scalar_one()
    finished = runtime.clock()
    summary = RunSummary(
        run_id=run_id,
        # records refused one by one are dead letters, not a failed run (exit 1 says "look")
        status="interrupted" if interrupted else "ok" if not tally.errors
        else {1: "failed"}.get(tally.exit_code, "error"),
        exit_code=tally.exit_code,
        plan=options.plan,
        full=options.full,
        pipeline=options.pipeline,
        trigger=options.trigger,
        node=options.node,
        started_at=iso(started),
        finished_at=iso(finished),
        duration_s=round(time.monotonic() - clock_start, 3),
        stages_s=stages,
        connectors=tally.counts,
        contacts=contact_counts,
        rejected_total=tally.rejected_total,
        rejected=tally.rejected,
        errors=tally.errors,
        drift=tally.drift,
        planned=planned,
        consent=ConsentCounts(suppressed_reimports=sum(c.suppressed
                                                       for c in tally.counts.values())),
        lifecycle=lead_report,
    )
    reported = summary.as_dict()
    with store.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(
            status=summary.status, finished_at=finished, exit_code=tally.exit_code,
            summary=reported))
    run.reported = True
    runtime.plugins.run_finished(reported)  # an observer's failure is logged only
    return summary


#: What a connector's code raises, besides `ConnectorError`, when a system answers
#: something it did not expect (a shape it cannot read): that connector fails, the run
#: goes on with the others. The store's own errors and hub's bugs are not among them.
CONTAINED = (ConnectorError, ValueError, KeyError, TypeError, IndexError, AttributeError,
             httpx.HTTPError)


def _connector_failure(name: str, exc: Exception) -> ConnectorError:
    """`exc` as the error of connector `name`: the message names it and says what to do."""
    if isinstance(exc, ConnectorError):
        if f"{name!r}" in str(exc):
            return exc
        kind = UnreachableError if isinstance(exc, UnreachableError) else ConnectorError
        return kind(f"connector {name!r}: {exc}")
    log.error("connector %r failed on an answer it could not read", name, exc_info=exc)
    # only the exception's type: its text may quote a record
    return UnreachableError(f"connector {name!r}: an answer from the system could not be "
                            f"read ({type(exc).__name__}); the other systems went on — the "
                            "log has the details, and the next run retries")


def _reconcile_read(store: Any, name: str, pulled: pull.PullStats, now: datetime,
                    tally: _Tally) -> None:
    """Counts along the way: what the system reported vs. what was read, and the sweep."""
    received = pulled.received
    if pulled.seen is not None and pulled.reported_total is not None \
            and received < pulled.reported_total:
        tally.drift.append(Drift(
            connector=name, kind="short_read", count=pulled.reported_total - received,
            message=f"{name} reported {pulled.reported_total} records but hub received "
                    f"{received}"))
    if pulled.seen is None:
        return
    vanished = pull.sweep(store, name, pulled.seen, now)
    if vanished:
        tally.connector(name).deleted += len(vanished)
        shown = mask_emails(", ".join(vanished[:5])) + (" …" if len(vanished) > 5 else "")
        tally.drift.append(Drift(
            connector=name, kind="vanished", count=len(vanished),
            message=f"{len(vanished)} records hub linked are no longer in {name} "
                    f"(marked deleted, their contacts kept): {shown}"))


def _selected(runtime: Runtime, options: SyncOptions) -> list[str]:
    names = runtime.connector_names
    if options.connectors is None:
        return names
    unknown = [n for n in options.connectors if n not in runtime.config.connectors]
    if unknown:
        raise ConfigError(f"no connector named {unknown[0]!r}", path=str(runtime.config.path),
                          hint="configured connectors: " + ", ".join(names))
    return [n for n in names if n in options.connectors]


def _joined_counts(conn: Any) -> dict[str, int]:
    """Per connector: changed records that share their contact with another system's record."""
    mine = source_records.alias("mine")
    other = source_records.alias("other")
    query = (
        select(mine.c.connector, func.count(func.distinct(mine.c.id)))
        .join(other, (other.c.contact_id == mine.c.contact_id)
              & (other.c.connector != mine.c.connector))
        .where(mine.c.dirty.is_(True))
        .group_by(mine.c.connector)
    )
    return {name: n for name, n in conn.execute(query)}


