"""The typed run summary writes the JSON scripts already read: same keys, shapes and order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.hookspecs import hookimpl
from hub.pipeline.engine import SyncOptions, sync
from hub.pipeline.summary import RunSummary
from hub.store.schema import runs
from tests.pipeline.test_engine import runtime_for

#: The documented `hub sync --json` form, in order.
TOP = ["run_id", "status", "exit_code", "plan", "full", "pipeline", "trigger", "node",
       "started_at", "finished_at", "duration_s", "stages_s", "connectors", "contacts",
       "rejected_total", "rejected", "errors", "drift", "planned", "consent", "lifecycle"]
COUNTS = ["read", "created", "updated", "merged", "rejected", "api_calls", "skipped_unchanged",
          "deleted", "suppressed", "throttled"]
CONTACTS = ["created", "updated", "merged", "held_for_review", "consent_events", "total"]


class Observer:
    """Keeps what `run_finished` plugins are handed."""

    def __init__(self) -> None:
        self.seen: list[Mapping[str, Any]] = []

    @hookimpl
    def run_finished(self, summary: Mapping[str, Any]) -> None:
        self.seen.append(summary)


def test_an_engine_summary_is_the_documented_json_and_round_trips(tmp_path: Path,
                                                                  store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    observer = Observer()
    runtime.plugins.manager.register(observer, name="observer")
    try:
        summary = sync(runtime, SyncOptions())
        as_json = json.dumps(summary.as_dict())
        data = summary.as_dict()
        assert list(data) == TOP
        assert all(list(c) == COUNTS for c in data["connectors"].values())
        assert list(data["contacts"]) == CONTACTS
        assert list(data["rejected"][0]) == ["connector", "stage", "record_id", "origin",
                                             "reason"]
        assert data["started_at"] == "2026-11-01T09:00:00Z" and data["node"] is None
        assert data["consent"] == {"suppressed_reimports": 0}
        assert set(data["lifecycle"]) == {"evaluated", "changed", "stage_moves", "new_mqls",
                                          "handed_over"}
        with runtime.store.begin() as conn:
            stored = conn.execute(select(runs.c.summary).where(
                runs.c.id == summary.run_id)).scalar_one()
        assert json.dumps(stored) == as_json  # the column keeps the order too
        assert [json.dumps(s) for s in observer.seen] == [as_json]
        assert json.dumps(RunSummary.from_dict(stored).as_dict()) == as_json
    finally:
        runtime.store.close()


def test_a_summary_of_a_run_that_never_got_far_leaves_the_unmeasured_keys_out() -> None:
    crashed = {"run_id": 7, "status": "error", "exit_code": 2, "plan": False, "pipeline": "main",
               "node": None, "rejected_total": 0,
               "errors": [{"connector": "-", "message": "unexpected RuntimeError: bug"}]}
    summary = RunSummary.from_dict(crashed)
    assert summary.contacts is None and summary.errors[0].message.endswith("bug")
    assert summary.as_dict() == crashed
