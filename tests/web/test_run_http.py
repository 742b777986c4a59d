"""`hub run --http`: the daemon's /healthz and /metrics, and the console behind its sign-in."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.daemon import start
from tests.web.conftest import PASSWORD, ROOT, web_config

pytestmark = pytest.mark.e2e


def test_the_daemon_serves_the_console_next_to_health_and_metrics(tmp_path: Path) -> None:
    folder = tmp_path / "example"
    shutil.copytree(ROOT / "hub" / "demo", folder,
                    ignore=shutil.ignore_patterns("hub.db*", "out", "__pycache__"))
    config = folder / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + web_config()
                      + '\n[schedule.main]\nevery = "1h"\n', encoding="utf-8")
    daemon = start(folder, {}, "--http", "127.0.0.1:0")
    try:
        with httpx.Client(base_url=daemon.http) as client:
            assert client.get("/healthz").json()["scheduler_running"] is True  # no sign-in
            assert "hub_runs_total" in client.get("/metrics").text
            gate = client.get("/")
            assert gate.status_code == 303 and gate.headers["location"] == "/login?next=%2F"
            form = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            signed = client.post("/login", data={"csrf": token.group(1), "username": "vera",
                                                 "password": PASSWORD, "next": "/"})
            assert signed.status_code == 303
            overview = client.get("/")
            assert overview.status_code == 200 and "vera (viewer)" in overview.text
            assert '<th scope="row">main</th>' in overview.text  # the scheduled pipeline
    finally:
        assert daemon.terminate() == 0
