"""Every hook, through the code that calls it: one test (at least) per hook, named
``test_hook_<name>_...`` — tests/test_plugin_docs.py fails when a hookspec has none.

Each plugin under test is registered with ``load_plugins(extra=...)``, next to the real CSV
connector, and the demo folder is synced by the real engine (or run by the real scheduler).
"""

from __future__ import annotations

import csv
import logging
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import insert, select
from typer.testing import CliRunner

from hub.connector import Connector, OutboundRecord, WriteResult
from hub.errors import EXIT_CRASH, PluginError
from hub.lifecycle.config import ScoringSection
from hub.lifecycle.scoring import Scorer
from hub.ops import lease
from hub.ops.dead_letters import retry
from hub.ops.scheduler import Scheduler
from hub.pipeline import engine
from hub.pipeline.engine import SyncOptions
from hub.plugin import hookimpl
from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.store.schema import dead_letters, outbox, runs
from hub_csv.connector import CsvConnector
from tests.conftest import FIXED_NOW

DEMO = Path(__file__).resolve().parents[1] / "hub" / "demo"
SCHEDULE = '\n[schedule.main]\nevery = "15m"\n'
BROKEN_EXPORT = ('\n[connectors.broken]\nplugin = "broken-csv"\npath = "out/broken.csv"\n'
                 'mode = "write"\n')
#: A contact of the demo data whose address must never reach a reason or an ERROR line.
PERSON = "clara.schroeder@example.de"


def sync(runtime: Any, options: SyncOptions) -> dict[str, Any]:
    """The summary as plugins and scripts see it (`run_finished`, `hub sync --json`)."""
    return engine.sync(runtime, options).as_dict()


def demo(tmp_path: Path, *plugins: object, extra_config: str = "",
         folder_name: str = "demo") -> Runtime:
    folder = tmp_path / folder_name
    if not folder.exists():
        shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("hub.db*", "out"))
        config = folder / "config.toml"
        config.write_text(config.read_text() + extra_config)
    return Runtime.load(folder / "config.toml", plugins=load_plugins(["csv"], extra=plugins),
                        clock=lambda: FIXED_NOW)


def exported(runtime: Runtime) -> list[dict[str, str]]:
    path = runtime.config.base_dir / "out" / "contacts.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def letters(runtime: Runtime) -> list[Any]:
    with runtime.store.begin() as conn:
        return list(conn.execute(select(dead_letters).where(dead_letters.c.connector == "export")
                                 .order_by(dead_letters.c.id)))


class Recorder:
    """Hears every run and every alert."""

    def __init__(self) -> None:
        self.summaries: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []

    @hookimpl
    def run_finished(self, summary: Mapping[str, Any]) -> None:
        self.summaries.append(dict(summary))

    @hookimpl
    def send_alert(self, alert: Mapping[str, Any]) -> None:
        self.alerts.append(dict(alert))


class Deaf:
    """An observer with a bug; it is registered first so it would be called first."""

    @hookimpl
    def run_finished(self, summary: Mapping[str, Any]) -> None:
        raise RuntimeError(f"cannot handle {summary}")

    @hookimpl
    def send_alert(self, alert: Mapping[str, Any]) -> None:
        raise ConnectionError("the chat service is down")


class BrokenWriter(CsvConnector):
    """A connector whose write raises what no contract allows: the run dies of a bug."""

    plugin = "broken-csv"

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        raise RuntimeError(f"bug while writing {records[0].fields.get('email')}")


class ProvidesBrokenWriter:
    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(BrokenWriter)


# -- register_connectors -------------------------------------------------------------------
class ShopCopy(CsvConnector):
    plugin = "shop-copy"


class ProvidesShopCopy:
    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(ShopCopy)


def test_hook_register_connectors_adds_a_type_the_config_can_use(tmp_path: Path) -> None:
    runtime = demo(tmp_path, ProvidesShopCopy(), extra_config=(
        '\n[connectors.copy]\nplugin = "shop-copy"\npath = "data/shop_customers.csv"\n'
        'format = "shopify"\n'))
    summary = sync(runtime, SyncOptions())
    assert summary["connectors"]["copy"]["read"] == summary["connectors"]["shop"]["read"] > 0
    assert {i.name: i.connector_types for i in runtime.plugins.infos()}[
        "ProvidesShopCopy"] == ("shop-copy",)
    runtime.store.close()


def test_hook_register_connectors_that_raises_is_a_start_up_error_naming_the_plugin() -> None:
    class Broken:
        @hookimpl
        def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
            raise ImportError("its SDK is missing")

    plugins = load_plugins(["csv"], extra=(Broken(),))
    with pytest.raises(PluginError, match=r"plugin 'Broken' failed in register_connectors: "
                                          r"ImportError"):
        _ = plugins.connector_types


# -- register_signals ----------------------------------------------------------------------
def test_hook_register_signals_feeds_scoring_and_a_raising_plugin_costs_only_its_own(
        caplog: pytest.LogCaptureFixture) -> None:
    class Webinars:
        @hookimpl
        def register_signals(self, register: Callable[..., None]) -> None:
            register("webinars", lambda facts: len(facts.get("events", [])))

    class Broken:
        @hookimpl
        def register_signals(self, register: Callable[..., None]) -> None:
            register("half", lambda facts: 1.0)
            raise ValueError("bad config")

    plugins = load_plugins([], extra=(Broken(), Webinars()))
    with caplog.at_level(logging.ERROR, logger="hub.plugins"):
        signals = plugins.signals
    assert sorted(signals) == ["webinars"]  # not half of Broken's
    assert "plugin 'Broken' failed in register_signals: ValueError" in caplog.text
    from hub.lifecycle.scoring import Fact

    scorer = Scorer(ScoringSection.model_validate(
        {"rules": [{"field": "webinars", "min": 2, "points": 65}]}), signals)
    assert scorer.score({"events": Fact(["a", "b"])}, FIXED_NOW).total == 65


# -- veto_push -----------------------------------------------------------------------------
class VetoPerson:
    @hookimpl
    def veto_push(self, connector: str, record: OutboundRecord) -> str | None:
        if connector == "export" and record.fields.get("email") == PERSON:
            return "asked not to be exported"
        return None


def test_hook_veto_push_holds_a_record_back_as_a_dead_letter(tmp_path: Path) -> None:
    runtime = demo(tmp_path, VetoPerson())
    summary = sync(runtime, SyncOptions())
    assert PERSON not in {row["email"] for row in exported(runtime)}
    assert len(exported(runtime)) == summary["contacts"]["total"] - 1
    (letter,) = letters(runtime)
    assert (letter.stage, letter.reason) == ("veto", "vetoed by a plugin: asked not to be "
                                                     "exported")
    runtime.store.close()


class CrashesOnPerson:
    """A veto plugin with a bug that quotes the record in its exception."""

    @hookimpl
    def veto_push(self, record: OutboundRecord) -> str | None:  # fewer arguments: allowed
        if record.fields.get("email") == PERSON:
            raise KeyError(f"no rule for {PERSON}")
        return None


def test_hook_veto_push_that_raises_sets_the_record_aside_and_the_batch_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, CrashesOnPerson(), recorder)
    with caplog.at_level(logging.DEBUG, logger="hub.plugins"):
        summary = sync(runtime, SyncOptions())
    assert summary["status"] == "ok" and recorder.summaries[-1]["run_id"] == \
        summary["run_id"]
    rows = exported(runtime)
    assert PERSON not in {row["email"] for row in rows}
    assert len(rows) == summary["contacts"]["total"] - 1  # everyone else was written
    (letter,) = letters(runtime)
    assert (letter.stage, letter.reason) == (
        "plugin", "plugin 'CrashesOnPerson' failed in veto_push: KeyError")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "plugin 'CrashesOnPerson' failed in veto_push: KeyError"]
    assert all(PERSON not in r.getMessage() and r.exc_info is None for r in errors)
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.DEBUG)
    runtime.store.close()

    # the plugin is fixed (here: uninstalled); ops retry, and the record goes out
    fixed = demo(tmp_path)
    with fixed.store.begin() as conn:
        assert retry(conn, now=FIXED_NOW).requeued == 1
    again = sync(fixed, SyncOptions())
    assert again["connectors"]["export"]["created"] + again["connectors"]["export"][
        "updated"] == 1
    assert PERSON in {row["email"] for row in exported(fixed)}
    fixed.store.close()


# -- transform_push ------------------------------------------------------------------------
class CompanyFirst:
    @hookimpl
    def transform_push(self, connector: str, record: OutboundRecord) -> Mapping[str, Any]:
        return {"company": "first", "city": "Kept"}


class CompanySecond:
    @hookimpl
    def transform_push(self, record: OutboundRecord) -> Mapping[str, Any] | None:
        return {"company": "second"} if record.fields.get("email") == PERSON else None


def test_hook_transform_push_overrides_merge_in_registration_order(tmp_path: Path) -> None:
    runtime = demo(tmp_path, CompanyFirst(), CompanySecond())
    sync(runtime, SyncOptions())
    by_email = {row["email"]: row for row in exported(runtime)}
    assert (by_email[PERSON]["company"], by_email[PERSON]["city"]) == ("second", "Kept")
    assert {row["company"] for e, row in by_email.items() if e != PERSON} == {"first"}
    runtime.store.close()


class TransformBug:
    @hookimpl
    def transform_push(self, connector: str, record: OutboundRecord) -> Any:
        if record.fields.get("email") == PERSON:
            return ["not", "a", "mapping"]
        if record.fields.get("first_name") == "Ben":
            raise ZeroDivisionError
        return None


def test_hook_transform_push_that_raises_or_answers_nonsense_sets_the_record_aside(
        tmp_path: Path) -> None:
    runtime = demo(tmp_path, TransformBug())
    summary = sync(runtime, SyncOptions())
    assert len(exported(runtime)) == summary["contacts"]["total"] - 2
    assert sorted((letter.stage, letter.reason) for letter in letters(runtime)) == [
        ("plugin", "plugin 'TransformBug' failed in transform_push: TypeError"),
        ("plugin", "plugin 'TransformBug' failed in transform_push: ZeroDivisionError")]
    with runtime.store.begin() as conn:  # kept, dead, for `hub dead-letters --retry`
        assert conn.execute(select(outbox.c.status).where(
            outbox.c.connector == "export", outbox.c.status == "dead")).all() == [("dead",)] * 2
    runtime.store.close()


# -- run_finished --------------------------------------------------------------------------
def test_hook_run_finished_hears_rejections_then_ok_despite_a_raising_observer(
        tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, Deaf(), recorder)
    first = sync(runtime, SyncOptions())
    second = sync(runtime, SyncOptions())
    assert [(s["status"], s["exit_code"]) for s in recorder.summaries] == [("ok", 1), ("ok", 0)]
    assert recorder.summaries == [first, second]
    runtime.store.close()


def test_hook_run_finished_hears_a_run_an_exception_ended_as_error(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, ProvidesBrokenWriter(), recorder, extra_config=BROKEN_EXPORT)
    with pytest.raises(RuntimeError):
        sync(runtime, SyncOptions(pipeline="nightly"))
    (summary,) = recorder.summaries
    with runtime.store.begin() as conn:
        (run_id,) = conn.execute(select(runs.c.id)).scalars()
    assert summary["run_id"] == run_id
    assert (summary["status"], summary["pipeline"], summary["exit_code"]) == (
        "error", "nightly", EXIT_CRASH)
    assert summary["errors"] == [{"connector": "-", "message": "unexpected RuntimeError; the "
                                                                "run stopped (the log has more)"}]
    runtime.store.close()


def test_hook_run_finished_hears_an_interrupted_run(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, recorder)
    stop = threading.Event()
    stop.set()
    summary = sync(runtime, SyncOptions(stop=stop))
    assert [s["status"] for s in recorder.summaries] == ["interrupted"]
    assert recorder.summaries[0] == summary
    runtime.store.close()


def test_hook_run_finished_hears_once_of_a_scheduled_run_that_crashed(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, ProvidesBrokenWriter(), recorder,
                   extra_config=BROKEN_EXPORT + SCHEDULE)
    summary = Scheduler(runtime, node="test:1").run_pipeline("main", trigger="once")
    assert summary is not None and summary.status == "error"
    assert [(s["run_id"], s["status"]) for s in recorder.summaries] == [
        (summary.run_id, "error")]
    assert [a["kind"] for a in recorder.alerts] == ["failing"]
    runtime.store.close()


def test_hook_run_finished_hears_of_a_run_whose_node_died(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, recorder, extra_config=SCHEDULE)
    with runtime.store.begin() as conn:  # a node died mid-run: its row says running
        dead_id = conn.execute(insert(runs).values(
            pipeline="main", trigger="schedule", status="running", started_at=FIXED_NOW,
            node="gone:7").returning(runs.c.id)).scalar_one()
        assert lease.marked_running(conn, "main")
    summary = Scheduler(runtime, node="test:1").run_pipeline("main", trigger="takeover")
    assert summary is not None
    crashed, resumed = recorder.summaries
    assert (crashed["run_id"], crashed["status"], crashed["pipeline"], crashed["node"]) == (
        dead_id, "crashed", "main", "gone:7")
    assert crashed["stopped_in"] == "starting" and "gone:7" in crashed["errors"][0]["message"]
    assert resumed == summary.as_dict()
    runtime.store.close()


def test_hook_run_finished_hears_of_a_crashed_manual_sync_from_the_next_one(
        tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, recorder)
    with runtime.store.begin() as conn:  # kill -9 mid-read: the row says where it was
        dead_id = conn.execute(insert(runs).values(
            pipeline="manual", trigger="manual", status="running", started_at=FIXED_NOW,
            summary={"stage": "read accounting", "alive_at": "2026-11-01T09:00:05Z",
                     "records": 40}).returning(runs.c.id)).scalar_one()
    summary = engine.sync(runtime, SyncOptions())
    crashed, finished = recorder.summaries
    assert (crashed["run_id"], crashed["status"], crashed["stopped_in"]) == (
        dead_id, "crashed", "read accounting")
    assert crashed["stopped_at"] == "2026-11-01T09:00:05Z"
    assert finished == summary.as_dict() and summary.run_id != dead_id
    runtime.store.close()


# -- send_alert ----------------------------------------------------------------------------
def test_hook_send_alert_a_failing_channel_does_not_silence_the_others(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    runtime = demo(tmp_path, ProvidesBrokenWriter(), Deaf(), recorder,
                   extra_config=BROKEN_EXPORT + SCHEDULE)
    with caplog.at_level(logging.ERROR, logger="hub.plugins"):
        Scheduler(runtime, node="test:1").run_pipeline("main", trigger="once")
    assert [a["kind"] for a in recorder.alerts] == ["failing"]
    assert "plugin 'Deaf' failed in send_alert: ConnectionError" in caplog.text
    assert "plugin 'Deaf' failed in run_finished: RuntimeError" in caplog.text
    runtime.store.close()


# -- register_commands ---------------------------------------------------------------------
def hello(name: str = "world") -> None:
    """Say hello (a command a plugin adds)."""
    typer.echo(f"hello {name}")


class Greeter:
    @hookimpl
    def register_commands(self, cli: typer.Typer) -> None:
        cli.command("hello")(hello)


class HalfRegistered:
    @hookimpl
    def register_commands(self, cli: typer.Typer) -> None:
        cli.command("half")(hello)
        raise RuntimeError("the second command failed to import")


@pytest.fixture
def hub_app() -> Any:
    """hub's own app, with whatever the test's plugins add taken back afterwards."""
    from hub.cli import app

    commands, groups = list(app.registered_commands), list(app.registered_groups)
    yield app
    app.registered_commands[:], app.registered_groups[:] = commands, groups


def test_hook_register_commands_adds_a_command_hub_runs(hub_app: Any) -> None:
    load_plugins([], extra=(Greeter(),)).register_commands(hub_app)
    result = CliRunner().invoke(hub_app, ["hello", "--name", "plugin"])
    assert result.exit_code == 0 and result.output == "hello plugin\n"


def test_hook_register_commands_that_raises_loses_only_its_own_commands(
        hub_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="hub.plugins"):
        load_plugins([], extra=(HalfRegistered(), Greeter())).register_commands(hub_app)
    assert "plugin 'HalfRegistered' failed in register_commands: RuntimeError" in caplog.text
    runner = CliRunner()
    assert runner.invoke(hub_app, ["hello"]).output == "hello world\n"
    assert runner.invoke(hub_app, ["half"]).exit_code != 0  # taken back, not half there
    plugins = runner.invoke(hub_app, ["plugins", "--json"])  # hub's own commands still work
    assert plugins.exit_code == 0, plugins.output
