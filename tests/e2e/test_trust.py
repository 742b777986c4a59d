"""Operator trust end to end: exit codes as documented, errors without people's data.

Every exit code of the README's table is provoked through the real `hub` executable, and the
outputs of every fault provoked here (a crash inside a SQL statement, a broken CSV, a refused
token, an unreachable system, a run with rejected records) are scanned for the e-mail
addresses, names and phone numbers of the people in the files.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import pytest

from hub import __version__
from hub.errors import EXIT_CRASH
from tests.e2e.conftest import ROOT, Result, run_hub

pytestmark = pytest.mark.e2e

SCHEDULE = """
[schedule.nightly]
every = "1d"
"""


def people(folder: Path) -> set[str]:
    """E-mail addresses, names and phone numbers of everyone in the example's files."""
    found: set[str] = set()
    for path in (folder / "data").glob("*.csv"):
        raw = path.read_bytes()
        text = raw.decode("utf-8") if not path.name.startswith("buch") else raw.decode("cp1252")
        delimiter = ";" if path.name.startswith("buch") else ","
        for row in csv.DictReader(text.splitlines(), delimiter=delimiter):
            for header, cell in row.items():
                if header is None or not isinstance(cell, str) or not cell.strip():
                    continue  # a broken row's surplus cells
                value = cell.strip()
                if "@" in value or re.search(r"name|vorname|nachname", header, re.I):
                    found.add(value)
                if re.search(r"phone|telefon", header, re.I):
                    found.add(value)
                    found.add(re.sub(r"\D", "", value)[-7:])  # any formatting of it
    return {v for v in found if len(v) >= 4}


def leaked(outputs: list[Result], needles: set[str]) -> list[str]:
    """The needles any output quotes (names as whole words, case-insensitively)."""
    text = "\n".join(r.stdout + "\n" + r.stderr for r in outputs)
    digits = re.sub(r"\D", "", text)
    hits = []
    for needle in needles:
        if needle.isdigit():
            if needle in digits and len(needle) >= 7:
                hits.append(needle)
        elif re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", text, re.I):
            hits.append(needle)
    return sorted(hits)


def test_hub_version_alone_prints_the_version_and_exits_0(tmp_path: Path) -> None:
    result = run_hub("--version", cwd=tmp_path)
    assert (result.code, result.stdout.strip()) == (0, f"hub {__version__}")


def test_a_crash_inside_a_sql_statement_exits_70_without_quoting_a_row(example: Path) -> None:
    (example / "config.toml").write_text((example / "config.toml").read_text("utf-8")
                                         + SCHEDULE, encoding="utf-8")
    assert run_hub("check", cwd=example).code == 0
    # a store that lost a table: the first INSERT of identity keys (e-mail addresses) fails
    from hub.store import Store

    Store.open(f"sqlite:///{example / 'hub.db'}").engine.dispose()
    with sqlite3.connect(example / "hub.db") as db:
        db.execute("DROP TABLE identity_keys")
    crashed = run_hub("sync", cwd=example)
    assert crashed.code == EXIT_CRASH, crashed.stderr
    assert re.search(r"unexpected error: OperationalError in hub/\S+\.py:\d+ — hub stopped "
                     r"\(exit 70\)", crashed.stderr), crashed.stderr
    daemon = run_hub("run", "--once", cwd=example)
    assert '"exc": "Traceback' in daemon.stderr  # the daemon still logs where it happened
    assert "message withheld" in daemon.stderr
    debug = run_hub("--debug", "sync", "--json", cwd=example)
    runs = run_hub("runs", "--json", cwd=example)
    assert leaked([crashed, daemon, runs], people(example)) == []
    assert "identity_keys" in debug.stderr  # --debug is the way to the whole story


def test_a_config_problem_in_hub_check_exits_2_and_keeps_brackets(example: Path) -> None:
    config = example / "config.toml"
    config.write_text(config.read_text("utf-8") + '\n[connectors.crm_export]\nplugin = "csv"\n'
                      'path = "data/crm.csv"\n', encoding="utf-8")
    (example / "data" / "crm.csv").write_text("Kontakt;Mail\nK1;k@example.org\n",
                                              encoding="utf-8")
    checked = run_hub("check", cwd=example)
    assert checked.code == 2, checked.stdout + checked.stderr
    assert "[connectors.crm_export.columns]" in re.sub(r"[\s│]+", "", checked.stdout)
    synced = run_hub("sync", cwd=example)
    assert "[connectors.crm_export.columns]" in synced.stdout + synced.stderr
    missing = example / "elsewhere.toml"
    assert run_hub("check", "--config", str(missing), cwd=example).code == 2


def test_a_run_with_rejected_records_exits_1_and_is_not_failed(example: Path) -> None:
    with (example / "data" / "buchhaltung.csv").open("a", encoding="cp1252", newline="") as f:
        f.write("K-9999;Firma;Vor;Nach;keine-adresse;;;;;;\r\n")
    synced = run_hub("sync", "--json", cwd=example)
    summary = synced.json()
    assert (synced.code, summary["status"], summary["errors"]) == (1, "ok", [])
    assert summary["rejected_total"] >= 1
    runs = run_hub("runs", "--json", cwd=example).json()
    assert runs[0]["status"] == "ok"
    assert run_hub("sync", "--json", cwd=example).code in (0, 1)


def test_the_readme_documents_every_exit_code_once() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    table = re.findall(r"^\| (\d+) \|", readme, re.M)
    assert table == ["0", "1", "2", "3", str(EXIT_CRASH), "130"]
