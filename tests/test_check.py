"""`hub check` reports a connector's findings: problems fail the check, warnings do not."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.plugin import Finding
from hub_csv.connector import CsvConnector

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "example"
    shutil.copytree(ROOT / "hub" / "demo", target,
                    ignore=shutil.ignore_patterns("hub.db*", "out", "__pycache__"))
    monkeypatch.chdir(target)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("COLUMNS", "200")
    return target


def findings_of(found: Sequence[Finding], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CsvConnector, "check", lambda self: found)


def test_a_problem_fails_the_check_as_a_configuration_error(
        example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings_of([Finding("problem", "scope", "the token lacks [write_customers]; add it")],
                monkeypatch)
    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    statuses = {c["status"] for c in report["connectors"].values()}
    assert statuses == {"problem"}
    finding = next(iter(report["connectors"].values()))["findings"][0]
    assert finding == {"severity": "problem", "subject": "scope",
                       "message": "the token lacks [write_customers]; add it"}


def test_warnings_pass_the_check_and_keep_their_brackets_on_screen(
        example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings_of([Finding("warning", "api version", "2025-10 falls forward [soon]")], monkeypatch)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "warning: api version" in result.stdout
    assert "falls forward [soon]" in result.stdout


def test_a_connector_returning_none_still_passes(
        example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plugins written before findings existed return None from check()."""
    findings_of(None, monkeypatch)  # type: ignore[arg-type]
    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exit_code == 0, result.output
    assert {c["status"] for c in json.loads(result.stdout)["connectors"].values()} == {"ok"}
