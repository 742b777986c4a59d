"""Run history: what counts as a failure, failures in a row, per-pipeline status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from hub.ops import history
from hub.store import Store
from hub.store.schema import dead_letters, outbox, runs, scheduler_jobs
from tests.conftest import FIXED_NOW


def _run(conn: Any, pipeline: str, status: str, minute: int, **summary: Any) -> None:
    conn.execute(insert(runs).values(
        pipeline=pipeline, trigger="schedule", status=status, node="n:1",
        started_at=FIXED_NOW + timedelta(minutes=minute),
        finished_at=FIXED_NOW + timedelta(minutes=minute, seconds=30),
        summary={"duration_s": 30.0, "connectors": {"crm": {"read": 5, "api_calls": 2},
                                                    "shop": {"read": 1, "api_calls": 1}},
                 **summary}))


def test_refused_records_are_not_a_failure_but_a_failed_system_is() -> None:
    assert not history.is_failure("ok", {})
    assert not history.is_failure("failed", {"rejected_total": 3, "errors": []})
    assert history.is_failure("failed", {"errors": [{"connector": "crm", "message": "x"}]})
    assert history.is_failure("error", None)
    assert not history.is_failure("interrupted", {"errors": [{"message": "x"}]})


def test_failures_in_a_row_skip_interrupted_runs(store: Store) -> None:
    with store.begin() as conn:
        _run(conn, "main", "error", 0)
        _run(conn, "main", "ok", 1)
        _run(conn, "main", "error", 2)
        _run(conn, "main", "interrupted", 3)
        _run(conn, "main", "failed", 4, errors=[{"connector": "crm", "message": "503"}])
        _run(conn, "main", "running", 5)
        _run(conn, "other", "error", 6)
        assert history.consecutive_failures(conn, "main") == 2
        assert history.consecutive_failures(conn, "main", before_id=3) == 0
        assert history.consecutive_failures(conn, "other") == 1
        assert history.consecutive_failures(conn, "nothing") == 0


def test_runs_and_status_as_scripts_read_them(store: Store) -> None:
    with store.begin() as conn:
        _run(conn, "main", "ok", 0)
        _run(conn, "main", "error", 1, errors=[{"connector": "crm", "message": "503"}])
        _run(conn, "main", "running", 2)
        conn.execute(insert(scheduler_jobs).values(
            id="main", next_run_time=(FIXED_NOW + timedelta(minutes=15)).timestamp(),
            job_state=b"x"))
        conn.execute(insert(outbox).values(
            key="k1", connector="crm", contact_id=1, operation="upsert", payload={},
            payload_hash="h", status="pending", attempts=0, created_at=FIXED_NOW))
        conn.execute(insert(dead_letters).values(
            connector="shop", stage="read", reason="bad", created_at=FIXED_NOW))
        listed = history.recent_runs(conn, limit=2)
        status = history.pipeline_status(conn, ["main", "idle"],
                                         {"main": ["crm", "shop"], "idle": ["shop"]})
    assert [r["status"] for r in listed] == ["running", "error"]
    error = listed[1]
    assert error["started_at"] == "2026-11-01T09:01:00Z" and error["failure"] is True
    assert error["counts"]["read"] == 6 and error["counts"]["api_calls"] == 3
    main = status["main"]
    assert main["last_run"]["status"] == "error" and main["running"]["id"] == 3
    assert main["next_run"] == "2026-11-01T09:15:00Z"
    assert main["consecutive_failures"] == 1
    assert (main["outbox_pending"], main["dead_letters"]) == (1, 1)
    assert status["idle"]["last_run"] is None and status["idle"]["dead_letters"] == 1
