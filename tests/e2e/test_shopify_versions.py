"""The real CLI against the Shopify simulator: scopes `hub check` must name, every API version.

A token without a scope hub needs is only refused when a sync reaches the field (an erasure, a
consent withdrawal), so `hub check` reads the granted scopes and fails first. A full sync works
with the shop connector pinned to each served version, each answering as itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.shopify.versions import SERVED, released
from tests.e2e.conftest import run_hub, sandbox_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def small() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=40, seed=3, rate_scale=1000).start() as running:
        yield running


def test_check_names_the_missing_scope_and_exits_2(tmp_path: Path) -> None:
    scopes = ["read_customers", "read_orders", "read_all_orders", "write_customers"]
    with Sandbox(contacts=10, seed=3, shopify_scopes=scopes).start() as running:
        env = sandbox_config(tmp_path, running)
        result = run_hub("check", "--json", cwd=tmp_path, env=env)
        table = run_hub("check", cwd=tmp_path, env=env)
    assert result.code == 2, result.stdout + result.stderr
    shop = result.json()["connectors"]["shop"]
    assert shop["status"] == "problem"
    assert [(f["severity"], f["subject"]) for f in shop["findings"]] == [("problem", "scope")]
    assert "write_customer_data_erasure" in shop["findings"][0]["message"]
    assert table.code == 2 and "write_customer_data_erasure" in table.stdout


def test_check_is_clean_with_every_scope_on_a_current_version(tmp_path: Path,
                                                              small: RunningSandbox) -> None:
    result = run_hub("check", "--json", cwd=tmp_path, env=sandbox_config(tmp_path, small))
    assert result.json()["connectors"]["shop"] == {"status": "ok", "plugin": "shopify",
                                                   "findings": []}


@pytest.mark.parametrize("version", SERVED)
def test_a_full_sync_works_at_every_served_version(tmp_path: Path, small: RunningSandbox,
                                                   version: str) -> None:
    simulator = small.sandbox.shopify
    start = released(version)
    assert start is not None
    simulator.limits.calendar_at = start + timedelta(days=30)  # the version answers itself
    simulator.limits.api_version = version
    env = sandbox_config(tmp_path, small, shop="bulk_threshold = 0")
    result = run_hub("sync", "--json", cwd=tmp_path, env=env)
    assert result.code == 0, result.stdout + result.stderr
    summary = result.json()
    assert summary["connectors"]["shop"]["read"] == len(simulator.shop.customers)
    (operation,) = simulator.bulk.operations.values()
    assert (operation.version, operation.status) == (version, "COMPLETED")
