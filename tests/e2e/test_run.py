"""`hub run` as a real process against the sandbox over loopback.

A seconds-scale schedule completes several runs that `hub status` and `hub runs` report, and
`/healthz` and `/metrics` answer over HTTP; SIGTERM in the middle of a read ends the process
cleanly and the next start resumes from the checkpoint with the same records a clean sync
gets; a failing pipeline sends one alert per incident to a webhook, and one on recovery.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.ops.serving import serve_in_thread
from hub_sandbox.app import RunningSandbox, Sandbox
from tests.e2e.conftest import run_hub
from tests.e2e.daemon import StoreView, newsletter_config, overlapping, start, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=400, seed=8).start() as running:
        yield running


def _env(running: RunningSandbox) -> dict[str, str]:
    return {"HUB_SECRET_MAILCHIMP_KEY": running.credentials()["mailchimp"]["api_key"]}


def test_scheduled_runs_are_reported_and_sigterm_is_a_clean_exit(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    newsletter_config(tmp_path, sandbox.credentials()["mailchimp"], store="sqlite:///hub.db")
    env = _env(sandbox)
    daemon = start(tmp_path, env, "--http", "127.0.0.1:0")
    view = StoreView(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        done = wait_for(lambda: len(view.finished("ok")) >= 3 and view.finished("ok"),
                        what="three scheduled runs")
        assert all(r.trigger == "schedule" and r.node == daemon.node for r in done)
        assert overlapping(done) == []
        health = httpx.get(f"{daemon.http}/healthz")
        assert health.status_code == 200 and health.json()["scheduler_running"] is True
        metrics = httpx.get(f"{daemon.http}/metrics").text
        assert 'hub_runs_total{pipeline="main",status="ok"}' in metrics
        assert 'hub_pipeline_consecutive_failures{pipeline="main"} 0.0' in metrics
        assert "hub_contacts " in metrics and "hub_api_calls_total" in metrics

        status = run_hub("status", "--json", cwd=tmp_path, env=env)
        assert status.code == 0, status.stderr
        main = status.json()["pipelines"]["main"]
        assert main["last_run"]["status"] == "ok" and main["consecutive_failures"] == 0
        assert main["next_run"] is not None and main["dead_letters"] == 0
        history = run_hub("runs", "--json", "--limit", "50", cwd=tmp_path, env=env).json()
        first = history[-1]
        assert {"id", "pipeline", "trigger", "status", "started_at", "finished_at",
                "counts"} <= set(first)
        assert first["started_at"].endswith("Z") and first["finished_at"].endswith("Z")
        members = len(sandbox.sandbox.mailchimp.members)
        assert first["counts"]["read"] == members and first["counts"]["api_calls"] >= 2
    finally:
        code = daemon.terminate()
    assert code == 0, daemon.log.read_text()
    assert view.running() == []
    log = daemon.log.read_text()
    assert '"msg": "scheduler stopped"' in log and '"run_id"' in log
    assert re.search(r"[\w.%+-]+@[\w-]+\.[a-z]", log) is None  # no address in the INFO log
    view.close()


def test_sigterm_mid_read_then_the_next_start_resumes_without_loss(tmp_path: Path) -> None:
    with Sandbox(contacts=4000, seed=4, latency_ms=250).start() as running:
        creds = running.credentials()["mailchimp"]
        env = _env(running)
        newsletter_config(tmp_path / "node", creds, store="sqlite:///hub.db")
        view = StoreView(f"sqlite:///{tmp_path / 'node' / 'hub.db'}")
        daemon = start(tmp_path / "node", env)
        try:
            wait_for(lambda: view.running() and view.cursor_saved("newsletter"),
                     what="a run past its first checkpoint")
        finally:
            code = daemon.terminate()
        assert code == 0, daemon.log.read_text()
        interrupted = view.runs()[-1]
        assert interrupted.status == "interrupted"
        kept = view.records("newsletter")
        members = len(running.sandbox.mailchimp.members)
        assert 0 < len(kept) < members  # stopped mid-read, pages so far committed

        again = run_hub("run", "--once", cwd=tmp_path / "node", env=env)
        assert again.code == 0, again.stderr
        resumed = view.runs()[-1]
        assert resumed.status == "ok" and resumed.trigger == "once"
        read_again = resumed.summary["connectors"]["newsletter"]["read"]
        assert read_again < members  # from the checkpoint, not from scratch

        running.sandbox.controls.set_faults("", latency_ms=0)
        newsletter_config(tmp_path / "clean", creds, store="sqlite:///hub.db")
        clean = run_hub("sync", "--json", cwd=tmp_path / "clean", env=env)
        assert clean.code == 0, clean.stderr
        reference = StoreView(f"sqlite:///{tmp_path / 'clean' / 'hub.db'}")
        assert view.records("newsletter") == reference.records("newsletter")
        assert len(running.sandbox.mailchimp.members) == members
        reference.close()
        view.close()


class _Receiver:
    """A local webhook endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self.alerts.append(body)
        return JSONResponse({"ok": True})

    def kinds(self) -> list[str]:
        with self._lock:
            return [a["kind"] for a in self.alerts]


def test_a_failing_pipeline_alerts_once_per_incident_and_on_recovery(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    receiver = _Receiver()
    with serve_in_thread(receiver.app) as hook:
        newsletter_config(tmp_path, sandbox.credentials()["mailchimp"], store="sqlite:///hub.db",
                          extra=f"""unhealthy_after = 2

[alerts]
webhook = "{hook.base_url}/hook"
after_failures = 2
""")
        config = (tmp_path / "config.toml").read_text().replace(
            "retry_base_seconds = 0.01", "retry_base_seconds = 0.01\nretry_attempts = 1")
        (tmp_path / "config.toml").write_text(config)
        sandbox.sandbox.controls.set_faults("mailchimp.503:1")
        view = StoreView(f"sqlite:///{tmp_path / 'hub.db'}")
        daemon = start(tmp_path, _env(sandbox), "--http", "127.0.0.1:0")
        try:
            wait_for(lambda: len(view.finished("error")) >= 4, what="four failed runs")
            assert receiver.kinds() == ["failing"]
            alert = receiver.alerts[0]
            assert alert["pipeline"] == "main" and alert["consecutive_failures"] == 2
            assert "503" in alert["message"] and alert["run_id"] == view.finished()[1].id
            unhealthy = httpx.get(f"{daemon.http}/healthz")
            assert unhealthy.status_code == 503 and unhealthy.json()["failing"] == ["main"]

            sandbox.sandbox.controls.set_faults("")
            wait_for(lambda: "recovered" in receiver.kinds(), what="the recovery alert")
            assert httpx.get(f"{daemon.http}/healthz").status_code == 200
            wait_for(lambda: len(view.finished("ok")) >= 3, what="more good runs")
            assert receiver.kinds() == ["failing", "recovered"]
        finally:
            assert daemon.terminate() == 0
        view.close()


def test_a_second_signal_exits_at_once_and_the_next_start_cleans_up(tmp_path: Path) -> None:
    import signal

    with Sandbox(contacts=2500, seed=9, latency_ms=1000).start() as running:
        env = _env(running)
        newsletter_config(tmp_path, running.credentials()["mailchimp"], store="sqlite:///hub.db")
        view = StoreView(f"sqlite:///{tmp_path / 'hub.db'}")
        daemon = start(tmp_path, env)
        wait_for(lambda: view.running() and view.cursor_saved("newsletter"),
                 what="a run past its first checkpoint")
        daemon.process.send_signal(signal.SIGINT)
        wait_for(lambda: "stop requested" in daemon.log.read_text(), what="the first signal")
        daemon.process.send_signal(signal.SIGINT)
        assert daemon.process.wait(timeout=30) == 1
        (left,) = view.running()  # nobody could mark it: the next start does
        running.sandbox.controls.set_faults("", latency_ms=0)
        again = run_hub("run", "--once", cwd=tmp_path, env=env)
        assert again.code == 0, again.stderr
        runs = {r.id: r for r in view.runs()}
        assert runs[left.id].status == "crashed"  # it never reached its checkpoint
        assert runs[max(runs)].status == "ok" and runs[max(runs)].trigger == "once"
        assert len(view.records("newsletter")) == len(running.sandbox.mailchimp.members)
        view.close()
