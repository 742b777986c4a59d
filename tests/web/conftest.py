"""The console's fixtures: hub's CSV example synced into a store, with console users."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.connector import OutboundRecord
from hub.hookspecs import hookimpl
from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.web.auth import hash_password

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
USERS = {"olga": "operator", "vera": "viewer"}


class Clock:
    """A clock the tests move by hand (sessions expire, the sign-in throttle forgets)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class ExportRule:
    """A plugin rule that refuses contact 1's row in the CSV export: a refused write, kept as
    a dead letter until ops fix the rule and retry it."""

    @hookimpl
    def veto_push(self, connector: str, record: OutboundRecord) -> str | None:
        if connector == "export" and record.contact_id == 1:
            return "the export rule refuses this contact"
        return None


#: A trade-fair list with people the example already knows under other addresses: the
#: matcher scores them into the review band (hub.matching), so the console has pairs to review.
FAIR = """id,first_name,last_name,email,city,zip
M-1,Anna,Mueller,a.mueller@web.de,Berlin,
M-2,Jonas,Schmidt,jonas.s@gmx.de,,
M-3,Lena,Schneider,lena@nordlicht.example,München,
M-4,Jonas,Schmidt,j.schmidt@t-online.de,Hamburg,20095
"""
FAIR_CONNECTOR = """
[connectors.fair]
plugin = "csv"
path = "data/messe.csv"
format = "generic"
id_column = "id"

[connectors.fair.columns]
email = "email"
first_name = "first_name"
last_name = "last_name"
city = "city"
zip = "zip"
"""


def web_config(extra: str = "") -> str:
    """``[web]`` tables for an operator (olga) and a viewer (vera), both with PASSWORD."""
    digest = hash_password(PASSWORD)
    tables = "".join(f'\n[web.users.{name}]\npassword_hash = "{digest}"\nrole = "{role}"\n'
                     for name, role in USERS.items())
    return f"\n[web]\nlogin_attempts = 3\nlogin_window = \"10m\"\n{extra}{tables}"


def example_runtime(folder: Path, *, web: str | None = None, synced: bool = True,
                    clock: Clock | None = None) -> Runtime:
    """hub's CSV example plus the `FAIR` list in `folder` with console users, synced once:
    two rows that could not be read and one write the `ExportRule` refused are its dead
    letters, and the fair's people are pairs to review."""
    shutil.copytree(ROOT / "hub" / "demo", folder,
                    ignore=shutil.ignore_patterns("hub.db*", "out", "__pycache__"))
    (folder / "data" / "messe.csv").write_text(FAIR, encoding="utf-8")
    config = folder / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + FAIR_CONNECTOR
                      + (web if web is not None else web_config()), encoding="utf-8")
    runtime = Runtime.load(config, plugins=load_plugins(["csv"], extra=(ExportRule(),)),
                           clock=clock)
    if synced:
        from hub.pipeline.engine import SyncOptions, sync

        sync(runtime, SyncOptions())
    return runtime


@pytest.fixture
def clock() -> Clock:
    return Clock()
