"""End-to-end helpers: run the real `hub` executable as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB = Path(sys.executable).parent / "hub"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_hub(*args: str, cwd: Path, env: dict[str, str] | None = None,
            stdin: str | None = None) -> Result:
    """`hub ARGS` in `cwd`, with an isolated keyring and no terminal."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    done = subprocess.run([str(HUB), *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, input=stdin, timeout=300)
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of hub/demo/ (config and data), without any store or output."""
    target = tmp_path / "example"
    shutil.copytree(ROOT / "hub" / "demo", target,
                    ignore=shutil.ignore_patterns("hub.db*", "out", "__pycache__"))
    return target


def sandbox_config(folder: Path, running: Any, *, extra: str = "", crm: str = "",
                   shop: str = "", newsletter: str = "") -> dict[str, str]:
    """Write a config.toml with the sandbox's HubSpot (crm), Shopify (shop) and Mailchimp
    (newsletter) as connectors, plus `extra` tables; return the secrets' environment.

    `crm`, `shop` and `newsletter` are extra lines for that connector's table.
    """
    creds = running.credentials()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(f"""
[hub]
store = "sqlite:///hub.db"
retry_base_seconds = 0.01   # the sandbox's faults need no real patience

[connectors.crm]
plugin = "hubspot"
token = {{ secret = "hubspot-token" }}
base_url = "{creds['hubspot']['base_url']}"
read_subscriptions = false
{crm}
[connectors.shop]
plugin = "shopify"
shop = "{creds['shopify']['shop']}"
token = {{ secret = "shopify-token" }}
base_url = "{creds['shopify']['base_url']}"
api_version = "{creds['shopify']['api_version']}"
{shop}
[connectors.newsletter]
plugin = "mailchimp"
api_key = {{ secret = "mailchimp-key" }}
list_id = "{creds['mailchimp']['list_id']}"
base_url = "{creds['mailchimp']['base_url']}"
{newsletter}
{extra}
""", encoding="utf-8")
    return {"HUB_SECRET_HUBSPOT_TOKEN": creds["hubspot"]["token"],
            "HUB_SECRET_SHOPIFY_TOKEN": creds["shopify"]["token"],
            "HUB_SECRET_MAILCHIMP_KEY": creds["mailchimp"]["api_key"]}
