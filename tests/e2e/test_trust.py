"""Operator trust end to end: exit codes as documented, errors without people's data.

Every exit code of the README's table is provoked through the real `hub` executable, and the
outputs of every fault provoked here (a crash inside a SQL statement, a broken CSV, a refused
token, an unreachable system, a run with rejected records) are scanned for the e-mail
addresses, names and phone numbers of the people in the files.
"""

from __future__ import annotations

import csv
import re
import shutil
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


def phone_like(text: str) -> list[str]:
    """The digits of every phone-number-like run in `text` (however it is formatted)."""
    return [re.sub(r"\D", "", m) for m in re.findall(r"[+(\d][\d ()/-]{5,}\d", text)]


def leaked(outputs: list[Result], needles: set[str]) -> list[str]:
    """The needles any output quotes (names as whole words, case-insensitively)."""
    text = "\n".join(r.stdout + "\n" + r.stderr for r in outputs)
    numbers = phone_like(text)
    hits = []
    for needle in needles:
        if needle.isdigit():
            if len(needle) >= 7 and any(needle in n for n in numbers):
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
    assert re.search(r"unexpected error: OperationalError in hub[._][\w.]+:\d+ — hub stopped "
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
    assert table == ["0", "1", "2", "3", "4", str(EXIT_CRASH), "130"]


def test_a_broken_quote_is_reported_where_it_opens_and_nobody_after_it_is_lost(
        example: Path) -> None:
    path = example / "data" / "buchhaltung.csv"
    lines = path.read_bytes().decode("cp1252").splitlines()
    after = [line.split(";")[4] for line in lines[5:8]]
    lines.insert(4, 'K-6000;"Offen GmbH;Ina;Quote;ina.quote@example.de;;Weg 2;10115;Berlin;;DE')
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    summary = run_hub("sync", "--json", cwd=example).json()
    broken = [r for r in summary["rejected"] if r["origin"] == "buchhaltung.csv:5"]
    assert len(broken) == 1 and "quote opened on line 5" in broken[0]["reason"], summary
    for email in after:  # the people on the lines the quote would have swallowed
        assert run_hub("contacts", "show", email, cwd=example).code == 0, email


def test_an_emptied_export_warns_with_exit_1(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub" / "demo" / "data" / "shop_customers.csv", tmp_path / "shop.csv")
    (tmp_path / "config.toml").write_text(
        '[connectors.shop]\nplugin = "csv"\npath = "shop.csv"\nformat = "shopify"\n',
        encoding="utf-8")
    assert run_hub("sync", cwd=tmp_path).code == 0
    header = (tmp_path / "shop.csv").read_text("utf-8").splitlines()[0]
    (tmp_path / "shop.csv").write_text(header + "\n", encoding="utf-8")
    emptied = run_hub("sync", cwd=tmp_path)
    assert emptied.code == 1
    assert "shop.csv: the file has no rows (it had 25 rows at the last read)" in \
        " ".join(emptied.stdout.split())


def test_every_csv_hub_writes_is_formula_safe(example: Path) -> None:
    with (example / "data" / "newsletter_members.csv").open("a", encoding="utf-8") as f:
        f.write("=1+2@example.de,=HYPERLINK(\"x\"),-Minus,,1,2025-01-10 09:10:00,203.0.113.9,"
                "2025-01-10 09:20:00,198.51.100.9,,,,,,DE,,2026-01-01 12:00:00,199999,eu9,,\n")
    run_hub("sync", cwd=example)
    exported = run_hub("consent", "export", "--format", "csv", cwd=example)
    assert exported.code == 0
    rows = list(csv.DictReader(exported.stdout.splitlines()))
    assert "'=1+2@example.de" in {r["email"] for r in rows}
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    with (example / "out" / "contacts.csv").open(encoding="utf-8", newline="") as f:
        cells = [v for row in csv.reader(f) for v in row]
    assert "'=1+2@example.de" in cells and "'-Minus" in cells
    assert not any(v.startswith(("=", "+", "-", "@")) for v in cells)


def test_config_paths_stay_in_the_config_folder_and_webhooks_off_metadata(
        example: Path) -> None:
    (example.parent / "outside.csv").write_text("E-Mail\nx@example.org\n", encoding="utf-8")
    config = example / "config.toml"
    original = config.read_text("utf-8")
    config.write_text(original.replace('path = "data/shop_customers.csv"',
                                       'path = "../outside.csv"'), encoding="utf-8")
    refused = run_hub("check", cwd=example)
    assert refused.code == 2
    assert "connectors.shop.path: '../outside.csv' is outside the config folder" in \
        " ".join(refused.stderr.split())
    config.write_text(config.read_text("utf-8").replace(
        "[hub]\n", "[hub]\nallow_outside_paths = true\n"), encoding="utf-8")
    assert "outside" not in run_hub("check", cwd=example).stderr

    config.write_text(original + '\n[alerts]\nwebhook = "http://169.254.169.254/latest"\n',
                      encoding="utf-8")
    metadata = run_hub("check", cwd=example)
    assert metadata.code == 2 and "cloud metadata address" in metadata.stderr


def test_a_changed_scoring_rule_reaches_existing_contacts_and_the_plan_shows_it(
        example: Path) -> None:
    assert run_hub("sync", cwd=example).code in (0, 1)
    before = run_hub("contacts", "explain", "anna.mueller@example.de", "--json", cwd=example)
    assert before.json()["lead"]["stage"] != "mql"
    config = example / "config.toml"
    config.write_text(config.read_text("utf-8") + """
[lifecycle]
mql_threshold = 10

[[scoring.rules]]
field = "company"
matches = "(?i)bäckerei"
points = 10
""", encoding="utf-8")
    shown = " ".join(run_hub("sync", "--plan", cwd=example).stdout.split())
    assert "[scoring] or [lifecycle] changed since the last run, so all" in shown
    assert re.search(r"stage moves: \d+ to mql", shown), shown
    assert run_hub("sync", cwd=example).code in (0, 1)
    after = run_hub("contacts", "explain", "anna.mueller@example.de", "--json", cwd=example)
    assert after.json()["lead"]["stage"] == "mql"
    assert "rules_changed" not in run_hub("sync", "--json", cwd=example).json()["lifecycle"]
