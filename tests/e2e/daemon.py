"""Helpers for the `hub run` end-to-end tests: start the real daemon, poll the store, stop it.

Waiting is always for a condition, polled with a generous deadline; nothing sleeps and then
asserts.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from hub.store.schema import runs, source_records
from tests.e2e.conftest import HUB

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 60.0, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(0.05)


def environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a `hub` child: no inherited HUB_*, an isolated keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


@dataclass
class Daemon:
    """A running `hub run --json` process."""

    process: subprocess.Popen[str]
    ready: dict[str, Any]
    log: Path
    lines: list[str] = field(default_factory=list)

    @property
    def node(self) -> str:
        return str(self.ready["node"])

    @property
    def http(self) -> str:
        return str(self.ready["http"])

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9: no handler runs, no row is updated."""
        self.process.kill()
        self.process.wait(timeout=30)


def start(folder: Path, env: dict[str, str], *args: str, name: str = "hub-run") -> Daemon:
    """Start `hub run --json ARGS` in `folder` and wait for its ready line."""
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [str(HUB), "run", "--json", *args], cwd=folder, env=environment(env),
        stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        first = lines.get(timeout=60)
    except queue.Empty:
        process.kill()
        raise AssertionError("hub run did not get ready: " + log.read_text()) from None
    return Daemon(process=process, ready=json.loads(first), log=log)


class StoreView:
    """Read-only look at a store the daemons write (plain SQLAlchemy, no migrations)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)

    def runs(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(runs).order_by(runs.c.id)))

    def finished(self, status: str | None = None) -> list[Any]:
        return [r for r in self.runs() if r.status not in ("running",)
                and (status is None or r.status == status)]

    def running(self) -> list[Any]:
        return [r for r in self.runs() if r.status == "running"]

    def records(self, connector: str) -> dict[str, str]:
        """external id → content hash of what hub holds from `connector`."""
        with self.engine.connect() as conn:
            return {r.external_id: r.content_hash for r in conn.execute(
                select(source_records.c.external_id, source_records.c.content_hash)
                .where(source_records.c.connector == connector))}

    def cursor_saved(self, connector: str) -> bool:
        from hub.store.schema import cursors

        with self.engine.connect() as conn:
            return conn.execute(select(cursors.c.value).where(
                cursors.c.connector == connector)).first() is not None

    def close(self) -> None:
        self.engine.dispose()


def overlapping(rows: list[Any]) -> list[tuple[int, int]]:
    """Pairs of runs whose [started_at, finished_at) intervals intersect."""
    pairs = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            a_end = a.finished_at or a.started_at
            b_end = b.finished_at or b.started_at
            if a.started_at < b_end and b.started_at < a_end:
                pairs.append((a.id, b.id))
    return pairs


def newsletter_config(folder: Path, creds: dict[str, str], *, store: str, extra: str = "") -> None:
    """A pipeline reading the Mailchimp simulator every second."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(f"""
[hub]
store = "{store}"
retry_base_seconds = 0.01

[connectors.newsletter]
plugin = "mailchimp"
api_key = {{ secret = "mailchimp-key" }}
list_id = "{creds['list_id']}"
base_url = "{creds['base_url']}"

[consent]
newsletter = "newsletter"

[schedule.main]
every = "1s"

[scheduler]
takeover_check = "1s"
stop_timeout = "30s"
{extra}
""", encoding="utf-8")
