"""Run history and store-wide numbers: what ran, when, how it went — the facts `hub runs`,
`hub status`, `/healthz` and alerts all read, so they never disagree.

A run's outcome for alerting and health is not its exit code alone: a run whose only problem
is a handful of records a system refused (exit 1, dead letters) is *working*; a run where a
system could not be reached or a connector failed as a whole is *failing*. Interrupted runs
(a stop or a dead node) are neither: the next run resumes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from hub.clock import iso
from hub.ops.dead_letters import open_counts
from hub.pipeline.outbox import pending_counts
from hub.store.schema import contacts, merges, pipelines, runs, scheduler_jobs, source_records

#: How many runs back `consecutive_failures` looks (more is "at least this many").
FAILURE_WINDOW = 100




def is_failure(status: str, summary: Mapping[str, Any] | None) -> bool:
    """A system or connector failed (not merely some records were refused)."""
    if status in ("error", "crashed"):  # a process that died is news for the operator
        return True
    return status == "failed" and bool((summary or {}).get("errors"))


def run_view(row: Any) -> dict[str, Any]:
    """One run as `hub runs --json` prints it: the row plus its counts."""
    summary: Mapping[str, Any] = row.summary or {}
    connectors: Mapping[str, Mapping[str, int]] = summary.get("connectors") or {}
    totals = {key: sum(int(c.get(key, 0)) for c in connectors.values())
              for key in ("read", "created", "updated", "rejected", "api_calls", "throttled")}
    return {
        "id": row.id,
        "pipeline": row.pipeline,
        "trigger": row.trigger,
        "status": row.status,
        "failure": is_failure(row.status, summary),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "duration_s": summary.get("duration_s"),
        "exit_code": row.exit_code,
        "node": row.node,
        "full": summary.get("full"),
        "counts": totals,
        "connectors": dict(connectors),
        "rejected_total": summary.get("rejected_total", 0),
        "errors": summary.get("errors", []),
        "message": summary.get("message"),
    }


def recent_runs(conn: Connection, *, limit: int = 20,
                pipeline: str | None = None) -> list[dict[str, Any]]:
    """The newest runs first."""
    query = select(runs).order_by(runs.c.id.desc()).limit(limit)
    if pipeline is not None:
        query = query.where(runs.c.pipeline == pipeline)
    return [run_view(row) for row in conn.execute(query)]


def consecutive_failures(conn: Connection, pipeline: str, *,
                         before_id: int | None = None) -> int:
    """Failed runs of `pipeline` in a row, newest first, ignoring interrupted and running ones."""
    query = (select(runs.c.status, runs.c.summary).where(
        runs.c.pipeline == pipeline, runs.c.status.notin_(("running", "interrupted")))
        .order_by(runs.c.id.desc()).limit(FAILURE_WINDOW))
    if before_id is not None:
        query = query.where(runs.c.id < before_id)
    count = 0
    for status, summary in conn.execute(query):
        if not is_failure(status, summary):
            break
        count += 1
    return count


def next_runs(conn: Connection) -> dict[str, str | None]:
    """When the scheduler will next run each pipeline (job id = pipeline name)."""
    from datetime import UTC

    return {job_id: (iso(datetime.fromtimestamp(at, UTC)) if at is not None else None)
            for job_id, at in conn.execute(select(scheduler_jobs.c.id,
                                                  scheduler_jobs.c.next_run_time))}


def pipeline_status(conn: Connection, names: Sequence[str],
                    connectors: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """Per pipeline: last run and result, next run, failures in a row, waiting writes, dead letters.

    `connectors` maps each pipeline to the connectors it syncs (its outbox and dead letters).
    """
    pending = pending_counts(conn)
    letters = open_counts(conn)
    upcoming = next_runs(conn)
    holders = {row.name: row for row in conn.execute(select(pipelines))}
    result: dict[str, dict[str, Any]] = {}
    for name in names:
        last = conn.execute(select(runs).where(runs.c.pipeline == name, runs.c.status != "running")
                            .order_by(runs.c.id.desc()).limit(1)).first()
        running = conn.execute(select(runs).where(runs.c.pipeline == name,
                                                  runs.c.status == "running")
                               .order_by(runs.c.id.desc()).limit(1)).first()
        held = holders.get(name)
        members = connectors.get(name, ())
        result[name] = {
            "last_run": run_view(last) if last is not None else None,
            "running": run_view(running) if running is not None else None,
            "next_run": upcoming.get(name),
            "consecutive_failures": consecutive_failures(conn, name),
            "held_by": held.holder if held is not None else None,
            "last_full_at": iso(held.last_full_at) if held is not None else None,
            "outbox_pending": sum(pending.get(c, 0) for c in members),
            "dead_letters": sum(letters.get(c, 0) for c in members),
        }
    return result


def status(conn: Connection, *, runs_limit: int = 10) -> dict[str, Any]:
    """Store-wide numbers and the last runs (`hub status --json`)."""
    per_connector = {name: n for name, n in conn.execute(
        select(source_records.c.connector, func.count()).group_by(source_records.c.connector))}
    pending = pending_counts(conn)
    letters = open_counts(conn)
    held = conn.execute(select(func.count()).select_from(merges).where(
        merges.c.kind == "held")).scalar_one()
    recent = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(runs_limit)).all()
    return {
        "contacts": conn.execute(select(func.count()).select_from(contacts).where(
            contacts.c.status == "active")).scalar_one(),
        "source_records": per_connector,
        "outbox_pending": pending,
        "dead_letters": letters,
        "held_for_review": held,
        "runs": [{"id": r.id, "pipeline": r.pipeline, "trigger": r.trigger, "status": r.status,
                  "started_at": iso(r.started_at), "finished_at": iso(r.finished_at),
                  "exit_code": r.exit_code,
                  "duration_s": (r.summary or {}).get("duration_s")} for r in recent],
    }
