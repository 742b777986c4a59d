"""Operator trust against the simulators: a refused token exits 2, an unreachable system 3,
faults never print a person's data, and an erasure leaves no trace in hub's own history.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from tests.e2e.conftest import Result, run_hub, sandbox_config
from tests.e2e.test_trust import phone_like

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=150, seed=16, rate_scale=100).start() as running:
        yield running


def needles(running: RunningSandbox) -> set[str]:
    """Every seeded person's address, full name, last name (when distinctive) and phone."""
    found: set[str] = set()
    for p in running.sandbox.people:
        found.update({p.email, f"{p.first_name} {p.last_name}"})
        if len(p.last_name) >= 6:
            found.add(p.last_name)
        if p.phone:
            found.add(p.phone)
            found.add(p.phone[-7:])
    return found


def leaks(outputs: list[Result], running: RunningSandbox) -> list[str]:
    text = "\n".join(r.stdout + "\n" + r.stderr for r in outputs)
    numbers = phone_like(text)
    return sorted(n for n in needles(running)
                  if (n.lstrip("+").isdigit() and any(n.lstrip("+") in d for d in numbers))
                  or (not n.lstrip("+").isdigit()
                      and re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", text, re.I)))


def test_a_refused_token_exits_2_an_unreachable_system_3_and_no_output_names_anyone(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = sandbox_config(tmp_path, sandbox)
    outputs: list[Result] = []
    wrong = {**env, "HUB_SECRET_HUBSPOT_TOKEN": "pat-eu1-wrong"}
    checked = run_hub("check", cwd=tmp_path, env=wrong)
    refused = run_hub("sync", "--json", cwd=tmp_path, env=wrong)
    outputs += [checked, refused]
    assert checked.code == 2 and refused.code == 2, refused.stdout + refused.stderr
    summary = refused.json()
    assert [e["connector"] for e in summary["errors"]] == ["crm"]
    assert summary["connectors"]["newsletter"]["read"] > 0  # the others still ran

    config = tmp_path / "config.toml"
    creds = sandbox.credentials()
    config.write_text(config.read_text("utf-8").replace(
        creds["hubspot"]["base_url"], "http://127.0.0.1:9"), encoding="utf-8")
    unreachable = run_hub("sync", "--json", cwd=tmp_path, env=env)
    outputs.append(unreachable)
    assert unreachable.code == 3, unreachable.stdout + unreachable.stderr
    assert unreachable.json()["status"] == "error"

    # the rest of the fault campaign's faults: garbled, cut and failing answers everywhere
    config.write_text(config.read_text("utf-8").replace(
        "http://127.0.0.1:9", creds["hubspot"]["base_url"]), encoding="utf-8")
    sandbox.sandbox.controls.set_faults("truncate:0.05,500:0.05,reset:0.02")
    try:
        outputs.append(run_hub("sync", "--full", cwd=tmp_path, env=env))
        outputs.append(run_hub("--debug", "sync", cwd=tmp_path, env=env))
    finally:
        sandbox.sandbox.controls.set_faults("")
    outputs.append(run_hub("runs", "--json", cwd=tmp_path, env=env))
    assert leaks(outputs, sandbox) == []


def test_an_erasure_scrubs_run_history_dead_letters_and_the_member_hash(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = sandbox_config(tmp_path, sandbox, extra="""
[connectors.accounting]
plugin = "csv"
path = "accounting.csv"
format = "generic"
updated_column = "Stand"
columns = { email = "E-Mail", first_name = "Vorname" }
""")
    person = next(p for p in sandbox.sandbox.people
                  if p.mailchimp and p.hubspot and p.mailchimp.status != "archived"
                  and not p.notes)
    with (tmp_path / "accounting.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["E-Mail", "Vorname", "Stand"])
        writer.writerow([person.email, person.first_name, "2025-01-01"])
        writer.writerow([person.email, person.first_name, "gestern"])  # refused, by address
    synced = run_hub("sync", "--json", cwd=tmp_path, env=env)
    assert synced.json()["rejected_total"] >= 1
    # the run summary (stored, shipped to hooks) masks the address; the dead letter has it
    assert person.email not in synced.stdout
    assert any(r["record_id"] == f"{person.email[0]}***@***" for r in synced.json()["rejected"])
    forgotten = run_hub("consent", "forget", person.email, "--yes", "--json", cwd=tmp_path,
                        env=env)
    assert forgotten.json()["systems"]["newsletter"] == "done", forgotten.stdout
    member_id = hashlib.md5(person.email.encode(), usedforsecurity=False).hexdigest()
    with sqlite3.connect(tmp_path / "hub.db") as db:
        dump = "\n".join(db.iterdump()).lower()
    assert person.email.lower() not in dump
    assert member_id not in dump
    runs = run_hub("runs", "--json", cwd=tmp_path, env=env)
    letters = run_hub("dead-letters", "--json", cwd=tmp_path, env=env)
    assert person.email.lower() not in (runs.stdout + letters.stdout).lower()


def test_a_mailchimp_outage_in_the_first_sync_does_not_leave_subscribers_as_leads(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = sandbox_config(tmp_path, sandbox)
    subscribers = [p for p in sandbox.sandbox.people
                   if p.hubspot is not None and p.shopify is None and p.mailchimp is not None
                   and p.mailchimp.status == "subscribed" and not p.notes
                   and p.hubspot.lifecyclestage in (None, "subscriber")]
    assert subscribers, "the seed has CRM contacts whose newsletter permission is in Mailchimp"

    def stage(email: str) -> tuple[str, list[str]]:
        lead = run_hub("contacts", "explain", email, "--json", cwd=tmp_path, env=env).json()
        return lead["lead"]["stage"], lead["lead"]["notes"]

    sandbox.sandbox.controls.set_faults("mailchimp.503:1.0")
    try:
        down = run_hub("sync", "--json", cwd=tmp_path, env=env)
    finally:
        sandbox.sandbox.controls.set_faults("")
    assert down.code == 3 and [e["connector"] for e in down.json()["errors"]] == ["newsletter"]
    during = stage(subscribers[0].email)
    assert during[0] == "lead" and any("provisional" in n for n in during[1]), during
    back = run_hub("sync", "--json", cwd=tmp_path, env=env)
    assert back.code in (0, 1), back.stdout + back.stderr
    assert {stage(p.email)[0] for p in subscribers} == {"subscriber"}
    # the same end state as a run that never saw the outage
    clean = tmp_path / "clean"
    clean_env = sandbox_config(clean, sandbox)
    run_hub("sync", cwd=clean, env=clean_env)
    for p in subscribers:
        explained = run_hub("contacts", "explain", p.email, "--json", cwd=clean, env=clean_env)
        assert explained.json()["lead"]["stage"] == "subscriber"


def test_ctrl_c_during_a_sync_exits_130_and_the_next_run_finishes(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    import os
    import signal
    import subprocess

    from tests.e2e.conftest import HUB

    env = sandbox_config(tmp_path, sandbox)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment.update(env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    sandbox.sandbox.controls.set_faults("", latency_ms=150)
    try:
        process = subprocess.Popen([str(HUB), "--debug", "sync"], cwd=tmp_path,
                                   env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        for line in process.stderr:  # the run has its row and is reading
            if "HTTP Request" in line or "run started" in line:
                break
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=120)
    finally:
        sandbox.sandbox.controls.set_faults("", latency_ms=0)
    assert process.returncode == 130, rest[-2000:]
    again = run_hub("sync", "--json", cwd=tmp_path, env=env)
    assert again.code in (0, 1) and again.json()["status"] == "ok", again.stderr
