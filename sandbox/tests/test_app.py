"""The composed sandbox: counters, faults and serving over real loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub_sandbox.app import Sandbox
from hub_sandbox.controls import FaultPlan

QUERY = {"query": "{ customers(first: 5) { nodes { id email } } }"}


def gql(client: httpx.Client, creds: dict[str, str]) -> httpx.Response:
    return client.post(f"{creds['base_url']}/admin/api/{creds['api_version']}/graphql.json",
                       json=QUERY, headers={"X-Shopify-Access-Token": creds["token"]})


def test_counters_per_endpoint_and_reset() -> None:
    with Sandbox(contacts=50).start() as running, httpx.Client() as client:
        creds = running.credentials()["shopify"]
        for _ in range(3):
            assert gql(client, creds).status_code == 200
        stats = client.get(f"{running.base_url}/_sandbox/stats").json()
        assert stats["requests"]["shopify"] == {"POST /admin/api/{version}/graphql.json": 3}
        assert stats["statuses"]["shopify"] == {"200": 3}
        assert stats["systems"]["shopify"]["customers"] > 0
        client.post(f"{running.base_url}/_sandbox/reset")
        assert client.get(f"{running.base_url}/_sandbox/stats").json()["total"] == {}


def test_storms_use_the_systems_own_throttle_answer() -> None:
    with Sandbox(contacts=20, faults="429storm:2").start() as running, httpx.Client() as client:
        creds = running.credentials()["shopify"]
        first, second, third = (gql(client, creds) for _ in range(3))
        assert first.status_code == 200 and "THROTTLED" in first.text  # Shopify: 200 + THROTTLED
        assert "THROTTLED" in second.text and "data" in third.json()
        assert running.stats()["faults_injected"] == {"shopify.429": 2}


def test_faults_are_reproducible_and_changeable_at_run_time() -> None:
    def outcomes() -> list[int]:
        with Sandbox(contacts=10, seed=3, faults="500:0.3").start() as running, \
                httpx.Client() as client:
            creds = running.credentials()["shopify"]
            return [gql(client, creds).status_code for _ in range(20)]
    first = outcomes()
    assert first == outcomes() and 500 in first and 200 in first
    with Sandbox(contacts=10).start() as running, httpx.Client() as client:
        creds = running.credentials()["shopify"]
        client.post(f"{running.base_url}/_sandbox/faults", json={"faults": "503:1"})
        assert gql(client, creds).status_code == 503
        bad = client.post(f"{running.base_url}/_sandbox/faults", json={"faults": "boom:1"})
        assert bad.status_code == 400 and "not understood" in bad.json()["error"]


def test_truncated_reset_and_timeout_faults_break_the_client_as_real_ones_do() -> None:
    with Sandbox(contacts=10).start() as running, httpx.Client(timeout=0.5) as client:
        creds = running.credentials()["shopify"]
        running.sandbox.controls.set_faults("truncate:1")
        with pytest.raises(json.JSONDecodeError):
            gql(client, creds).json()
        running.sandbox.controls.set_faults("reset:1")
        with pytest.raises(httpx.TransportError):
            gql(client, creds)
        running.sandbox.controls.timeout_s = 2.0
        running.sandbox.controls.set_faults("timeout:1")
        with pytest.raises(httpx.TimeoutException):
            gql(client, creds)


def test_fault_spec_errors_name_the_rule() -> None:
    with pytest.raises(ValueError, match="'teapot:1'"):
        FaultPlan.parse("500:0.1,teapot:1")
    assert FaultPlan.parse("shopify.429:0.2").odds == {("shopify", "429"): 0.2}


def test_serve_json_prints_one_line_and_stops_on_sigterm() -> None:
    hub = Path(sys.executable).parent / "hub"
    process = subprocess.Popen([str(hub), "sandbox", "serve", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "200"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        creds = json.loads(line)
        with httpx.Client() as client:
            response = gql(client, creds["shopify"])
        assert response.status_code == 200 and len(response.json()["data"]["customers"]["nodes"]) == 5
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
