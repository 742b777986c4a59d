"""The scheduler's decisions without a clock on the wall: which slot a run belongs to, one run
per slot, full reconciliations by `full_every`, leases held elsewhere, a run that cannot start,
alerts through the `send_alert` hook."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.config import ScheduleSection
from hub.connector import Connector, OutboundRecord, WriteResult
from hub.errors import ConfigError
from hub.hookspecs import hookimpl
from hub.ops import lease
from hub.ops.scheduler import Scheduler
from hub.ops.triggers import ANCHOR, current_slot, trigger_for
from hub.pipeline.summary import RunSummary
from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.store.schema import runs
from hub_csv.connector import CsvConnector
from tests.conftest import FIXED_NOW

DEMO = Path(__file__).resolve().parents[2] / "hub" / "demo"
moments = st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2030, 1, 1),
                       timezones=st.just(UTC))


@given(now=moments, seconds=st.integers(min_value=1, max_value=7 * 86400))
def test_an_interval_slot_is_the_last_grid_point_at_or_before_now(now: datetime,
                                                                   seconds: int) -> None:
    schedule = ScheduleSection(every=f"{seconds}s")
    slot = current_slot(schedule, now)
    assert slot <= now < slot + timedelta(seconds=seconds)
    assert (slot - ANCHOR).total_seconds() % seconds == 0


@settings(max_examples=60, deadline=None)
@given(now=moments, cron=st.sampled_from(["*/15 7-19 * * mon-fri", "0 3 * * *", "*/5 * * * *",
                                          "30 8 1 * *", "0 0 * * sun"]),
       zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
def test_a_cron_slot_is_the_last_fire_time_at_or_before_now(now: datetime, cron: str,
                                                            zone: str) -> None:
    schedule = ScheduleSection(cron=cron, timezone=zone)
    slot = current_slot(schedule, now)
    trigger = trigger_for(schedule)
    assert slot <= now
    # slot is a fire time, and the next fire time after it lies beyond now
    assert trigger.get_next_fire_time(None, slot) == slot.astimezone(ZoneInfo(zone))
    assert trigger.get_next_fire_time(slot, slot + timedelta(seconds=1)) > now


def test_nodes_build_identical_triggers() -> None:
    schedule = ScheduleSection(every="15m", jitter="30s")
    a, b = trigger_for(schedule), trigger_for(schedule)
    assert repr(a) == repr(b) and a.jitter == b.jitter == 30
    fires = [t.get_next_fire_time(None, FIXED_NOW) for t in (a, b)]
    # jitter spreads the nodes' wake-ups, but both belong to the same slot
    assert all(FIXED_NOW <= f <= FIXED_NOW + timedelta(seconds=30) for f in fires)
    assert {current_slot(schedule, f) for f in fires} == {FIXED_NOW}


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


class Alerts:
    def __init__(self) -> None:
        self.sent: list[Mapping[str, Any]] = []

    @hookimpl
    def send_alert(self, alert: Mapping[str, Any]) -> None:
        self.sent.append(alert)


def reported(summary: RunSummary | None) -> dict[str, Any] | None:
    """A run's summary as stored and alerted on, which is what these tests check."""
    return None if summary is None else summary.as_dict()


def runtime_for(tmp_path: Path, schedule: str, *, extra: tuple[object, ...] = (),
                plugins: list[str] | None = None, connectors: str = "") -> tuple[Runtime, Clock]:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("hub.db*", "out"))
    config = folder / "config.toml"
    config.write_text(config.read_text() + connectors + schedule)
    clock = Clock()
    return Runtime.load(config, plugins=load_plugins(plugins or ["csv"], extra=extra),
                        clock=clock), clock


def test_no_schedule_is_a_config_error(tmp_path: Path) -> None:
    runtime, _ = runtime_for(tmp_path, "")
    with pytest.raises(ConfigError, match=r"schedule.*\[schedule.main\]"):
        Scheduler(runtime)


def test_each_slot_runs_once_and_full_every_brings_a_full_read(tmp_path: Path) -> None:
    runtime, clock = runtime_for(tmp_path, '\n[schedule.main]\nevery = "15m"\n'
                                           'full_every = "1d"\n')
    scheduler = Scheduler(runtime, node="test:1")
    first = reported(scheduler.run_pipeline("main", trigger="schedule"))
    assert first is not None and first["full"] is True and first["node"] == "test:1"
    assert scheduler.run_pipeline("main", trigger="schedule") is None  # same slot
    clock.now += timedelta(minutes=15)
    second = reported(scheduler.run_pipeline("main", trigger="schedule"))
    assert second is not None and second["full"] is False
    clock.now += timedelta(days=1)
    third = reported(scheduler.run_pipeline("main", trigger="schedule"))
    assert third is not None and third["full"] is True
    with runtime.store.begin() as conn:
        rows = conn.execute(select(runs.c.trigger, runs.c.node, runs.c.status)).all()
    assert [r.trigger for r in rows] == ["schedule"] * 3
    assert {r.node for r in rows} == {"test:1"}
    runtime.store.close()


def test_a_pipeline_held_elsewhere_is_skipped(tmp_path: Path) -> None:
    runtime, _ = runtime_for(tmp_path, '\n[schedule.main]\nevery = "15m"\n')
    scheduler = Scheduler(runtime, node="test:1")
    other_node = lease.open_lease(runtime.store, "main")
    assert other_node.acquire()
    try:
        assert scheduler.run_pipeline("main", trigger="schedule") is None
        assert scheduler.run_pipeline("main", trigger="takeover") is None
    finally:
        other_node.release()
    with runtime.store.begin() as conn:
        assert conn.execute(select(runs)).first() is None
    assert scheduler.run_pipeline("main", trigger="once") is not None
    runtime.store.close()


def test_a_run_that_cannot_start_is_a_failed_run_with_an_alert(tmp_path: Path) -> None:
    alerts = Alerts()
    runtime, clock = runtime_for(
        tmp_path, '\n[schedule.news]\nevery = "15m"\nconnectors = ["mc"]\n',
        extra=(alerts,), plugins=["csv", "mailchimp"],
        connectors='\n[connectors.mc]\nplugin = "mailchimp"\napi_key = { secret = '
                   '"unset-key" }\nlist_id = "a1b2c3d4e5"\n')
    scheduler = Scheduler(runtime, node="test:1")
    summary = reported(scheduler.run_pipeline("news", trigger="schedule"))
    assert summary is not None and summary["status"] == "error"
    assert "unset-key" in summary["errors"][0]["message"]
    clock.now += timedelta(minutes=15)
    again = reported(scheduler.run_pipeline("news", trigger="schedule"))
    assert again is not None and again["status"] == "error"
    assert [a["kind"] for a in alerts.sent] == ["failing"]  # once per incident
    with runtime.store.begin() as conn:
        assert [r.status for r in conn.execute(select(runs))] == ["error", "error"]
    runtime.store.close()


def test_a_stopping_scheduler_starts_nothing(tmp_path: Path) -> None:
    runtime, _ = runtime_for(tmp_path, '\n[schedule.main]\nevery = "15m"\n')
    scheduler = Scheduler(runtime, node="test:1")
    scheduler.stop(wait=False)
    assert scheduler.run_pipeline("main", trigger="schedule") is None
    assert scheduler.run_all_once() == 0
    runtime.store.close()


class BrokenWriter(CsvConnector):
    """A connector with a bug: its write raises what no connector contract allows."""

    plugin = "broken-csv"

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        raise RuntimeError("plugin bug")


class Broken:
    """A plugin with a bug: the run dies of an exception hub did not expect.

    (A raising `veto_push` no longer does that: hub sets the record aside and goes on.)
    """

    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(BrokenWriter)


def test_a_run_that_crashes_is_recorded_as_an_error_and_alerted(tmp_path: Path) -> None:
    alerts = Alerts()
    runtime, _ = runtime_for(tmp_path, '\n[schedule.main]\nevery = "15m"\n',
                             extra=(alerts, Broken()),
                             connectors='\n[connectors.broken]\nplugin = "broken-csv"\n'
                                        'path = "out/broken.csv"\nmode = "write"\n')
    scheduler = Scheduler(runtime, node="test:1")
    summary = reported(scheduler.run_pipeline("main", trigger="once"))
    assert summary is not None and summary["status"] == "error"
    # the type, not the message: a bug's message may quote a record, and run rows are shipped
    assert summary["errors"][0]["message"].startswith("unexpected RuntimeError")
    assert "plugin bug" not in summary["errors"][0]["message"]
    with runtime.store.begin() as conn:
        assert [r.status for r in conn.execute(select(runs))] == ["error"]
    assert [a["kind"] for a in alerts.sent] == ["failing"]
    runtime.store.close()


def test_a_run_missed_during_downtime_runs_once_on_start(tmp_path: Path) -> None:
    """Jobs live in the store: a restart keeps a missed time, and coalescing runs it once."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from hub.store.schema import scheduler_jobs
    from tests.e2e.daemon import wait_for

    runtime, _ = runtime_for(tmp_path, '\n[schedule.main]\nevery = "1h"\n')
    first = Scheduler(runtime, node="test:1")
    first.start()
    first.stop()
    jobs = SQLAlchemyJobStore(engine=runtime.store.engine, tablename="scheduler_jobs")
    job = jobs.lookup_job("main")
    assert job is not None and job.next_run_time > datetime.now(UTC)  # the next full hour
    # the node was down for three and a half hours: four fire times were missed
    job.next_run_time = datetime.now(UTC) - timedelta(hours=3, minutes=30)
    jobs.update_job(job)
    with runtime.store.begin() as conn:
        assert conn.execute(select(runs)).first() is None

    again = Scheduler(runtime, node="test:2")
    again.start()
    try:
        wait_for(lambda: _finished_runs(runtime), what="the missed run")
    finally:
        again.stop()
    with runtime.store.begin() as conn:
        ran = conn.execute(select(runs.c.trigger, runs.c.node)).all()
        (next_run,) = conn.execute(select(scheduler_jobs.c.next_run_time)).scalars()
    assert [(r.trigger, r.node) for r in ran] == [("schedule", "test:2")]  # once, not four
    assert next_run > datetime.now(UTC).timestamp()
    runtime.store.close()


def _finished_runs(runtime: Runtime) -> list[Any]:
    with runtime.store.begin() as conn:
        return list(conn.execute(select(runs).where(runs.c.status != "running")))
