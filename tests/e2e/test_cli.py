"""The real CLI on the bundled example: three exports of 40 people with real-world noise."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.e2e.conftest import run_hub

pytestmark = pytest.mark.e2e


def test_plugins_lists_the_csv_distribution(example: Path) -> None:
    result = run_hub("plugins", "--json", cwd=example)
    assert result.code == 0, result.stderr
    by_name = {p["name"]: p for p in result.json()}
    assert by_name["csv"]["distribution"] == "hub-csv" and by_name["csv"]["connector_types"] == ["csv"]


def test_check_passes_on_the_example(example: Path) -> None:
    result = run_hub("check", "--json", cwd=example)
    assert result.code == 0, result.stdout + result.stderr
    assert {c["status"] for c in result.json()["connectors"].values()} == {"ok"}


def test_sync_merges_three_exports_into_one_contact_per_person(example: Path) -> None:
    first = run_hub("sync", "--json", cwd=example)
    assert first.code == 1, first.stderr  # two malformed rows → record-level failures
    summary = first.json()
    assert summary["contacts"]["total"] == 40 and summary["contacts"]["created"] == 40
    assert summary["connectors"]["newsletter"]["read"] == 29
    assert summary["connectors"]["shop"]["read"] == 25
    assert summary["connectors"]["accounting"]["read"] == 21
    assert summary["connectors"]["export"]["created"] == 40
    reasons = {r["origin"]: r["reason"] for r in summary["rejected"]}
    assert "not a valid e-mail address" in reasons["newsletter_members.csv:30"]
    assert "kaputt" not in reasons["newsletter_members.csv:30"]  # personal data stays out
    assert "12 fields" in reasons["buchhaltung.csv:23"]
    with (example / "out" / "contacts.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40 and len({r["email"] for r in rows}) == 40
    assert all(not r["phone"] or r["phone"].startswith("'+49") for r in rows)

    second = run_hub("sync", "--json", cwd=example)
    assert second.code == 0, second.stderr
    again = second.json()
    assert all(c["read"] == 0 for c in again["connectors"].values())
    assert again["contacts"]["created"] == 0 and again["planned"]["export"]["create"] == 0

    status = run_hub("status", "--json", cwd=example).json()
    assert status["contacts"] == 40 and status["dead_letters"] == {"newsletter": 1, "accounting": 1}
    assert [r["exit_code"] for r in status["runs"]] == [0, 1]


def test_contacts_show_and_explain_give_provenance(example: Path) -> None:
    run_hub("sync", cwd=example)
    shown = run_hub("contacts", "show", " Jakob.Krueger@EXAMPLE.de ", "--json", cwd=example)
    assert shown.code == 0, shown.stderr
    contact = shown.json()
    assert {"connector": "shop", "id": "7100000021", "deleted": False} in contact["sources"]
    assert sorted(contact["emails"]) == ["jakob.krueger@example.de", "jakob.privat@example.com"]
    assert contact["first_name"] == "Jakob" and contact["last_name"] == "Krüger"
    assert contact["provenance"]["last_name"]["connector"] == "accounting"
    assert contact["provenance"]["phone"]["at"].endswith("Z")

    explained = run_hub("contacts", "explain", "jakob.privat@example.com", "--json",
                        cwd=example).json()
    keys = {j["key"] for j in explained["joined_by"]}
    assert keys == {"jakob.krueger@example.de", "jakob.privat@example.com"}
    last = next(f for f in explained["fields"] if f["field"] == "last_name")
    assert last["rule"].startswith("priority: accounting")

    text = run_hub("contacts", "explain", "jakob.privat@example.com", cwd=example)
    assert "joined because they share jakob.privat@example.com" in text.stdout

    missing = run_hub("contacts", "show", "nobody@example.de", cwd=example)
    assert missing.code == 1 and "no contact" in missing.stderr


def test_plan_writes_nothing(example: Path) -> None:
    result = run_hub("sync", "--plan", "--json", cwd=example)
    assert result.json()["planned"]["export"]["create"] == 40
    assert not (example / "out" / "contacts.csv").exists()


def test_changed_file_reimports_only_changed_rows(example: Path) -> None:
    run_hub("sync", cwd=example)
    path = example / "data" / "shop_customers.csv"
    text = path.read_text(encoding="utf-8").replace("Krüger,jakob.privat", "Krüger-Nowak,jakob.privat")
    path.write_text(text, encoding="utf-8")
    summary = run_hub("sync", "--json", cwd=example).json()
    shop = summary["connectors"]["shop"]
    assert shop["read"] == 25 and shop["skipped_unchanged"] == 24
    assert summary["connectors"]["newsletter"]["read"] == 0  # unchanged file not even opened


def test_unknown_key_is_a_config_error_with_line_and_suggestion(example: Path) -> None:
    config = example / "config.toml"
    config.write_text(config.read_text().replace('format = "shopify"', 'fromat = "shopify"'))
    result = run_hub("sync", cwd=example)
    assert result.code == 2
    assert "config.toml:17" in result.stderr and "connectors.shop.fromat" in result.stderr
    assert "did you mean 'format'" in result.stderr and "Traceback" not in result.stderr


def test_plugin_not_installed_names_the_distribution(example: Path) -> None:
    config = example / "config.toml"
    config.write_text(config.read_text().replace('plugin = "csv"\npath = "data/shop',
                                                 'plugin = "shopify"\npath = "data/shop'))
    result = run_hub("check", cwd=example, env={"HUB_PLUGINS": "csv"})
    assert result.code == 2 and "plugin 'shopify' is not installed" in result.stderr
    assert "hub-shopify" in result.stderr


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    assert run_hub("init", cwd=tmp_path).code == 0
    assert run_hub("init", cwd=tmp_path).code == 2  # refuses to overwrite
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "a.csv").write_text("Email Address,First Name,LAST_CHANGED\n"
                                                "a@example.de,A,2026-01-01 10:00:00\n")
    result = run_hub("sync", "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json()["contacts"]["total"] == 1


def test_demo_syncs_the_sandbox_and_keeps_its_folder(tmp_path: Path) -> None:
    result = run_hub("demo", "--dir", str(tmp_path / "d"), "--contacts", "600", cwd=tmp_path)
    assert result.code == 0, result.stdout + result.stderr
    out = result.stdout
    assert "first sync" in out and "second sync" in out and "contacts:" in out
    assert "consent kept" in out and "without any e-mail permission" in out
    assert "not a valid e-mail address" in out and "buchhaltung.csv:" in out
    assert "ina.fehler" not in out  # the refused address is personal data
    assert (tmp_path / "d" / "out" / "contacts.csv").exists()
    status = run_hub("status", "--json", "--config", str(tmp_path / "d" / "config.toml"),
                     cwd=tmp_path).json()
    # the sandbox's families share addresses: HubSpot cannot hold them apart, reported (exit 1)
    assert [r["exit_code"] for r in status["runs"]] == [1, 1]
    assert "were not written to crm: another contact's record there has their e-mail" in \
        " ".join(out.split())
    again = run_hub("demo", "--dir", str(tmp_path / "d"), cwd=tmp_path)
    assert again.code == 2 and "not empty" in again.stderr


def test_duplicates_lists_a_shared_address_held_for_review(example: Path) -> None:
    config = example / "config.toml"
    config.write_text(config.read_text().replace("[merge]", "[identity]\nmax_records_per_contact = 2\n\n[merge]"))
    path = example / "data" / "buchhaltung.csv"
    text = path.read_bytes().decode("cp1252")
    shared = "\r\n".join(f"K-77{i};Firma;Vor{i};Nach{i};familie.schulz@example.de;;Weg;12345;Ort;;Deutschland"
                         for i in range(3))
    path.write_bytes((text + shared + "\r\n").encode("cp1252"))
    summary = run_hub("sync", "--json", cwd=example).json()
    assert summary["contacts"]["held_for_review"] == 1 and summary["contacts"]["total"] == 43
    held = run_hub("duplicates", "--json", cwd=example).json()["held"]
    assert held[0]["key"] == "familie.schulz@example.de" and len(held[0]["records"]) == 3
    assert "max_records_per_contact" in run_hub("duplicates", cwd=example).stdout


def test_secrets_on_a_machine_without_a_keyring_say_what_to_do(tmp_path: Path) -> None:
    stored = run_hub("secrets", "set", "crm-token", "--stdin", cwd=tmp_path, stdin="s3cret-xyz\n")
    assert stored.code == 2 and "HUB_SECRET_CRM_TOKEN" in stored.stderr
    assert "s3cret-xyz" not in stored.stdout + stored.stderr
    deleted = run_hub("secrets", "delete", "crm-token", cwd=tmp_path)
    assert deleted.code == 1 and "not in the keyring" in deleted.stderr


def test_dead_letters_lists_what_was_refused_and_where(example: Path) -> None:
    run_hub("sync", cwd=example)
    letters = run_hub("dead-letters", "--json", cwd=example).json()
    assert {(d["connector"], d["origin"]) for d in letters} == {
        ("newsletter", "newsletter_members.csv:30"), ("accounting", "buchhaltung.csv:23")}
    listed = run_hub("dead-letters", cwd=example).stdout
    assert "newsletter_members.csv:30" in listed and "not a valid e-mail" in listed
    assert "kaputt" not in listed
    retried = run_hub("dead-letters", "--retry", "--json", cwd=example)
    assert retried.code == 0, retried.stderr
    # unreadable rows come back when fixed in their file; nothing was refused on the way out
    assert retried.json() == {"requeued": 0, "superseded": 0, "read_rejections": 2}
    assert len(run_hub("dead-letters", "--json", cwd=example).json()) == 2


def test_consent_show_gives_the_trail_with_evidence_and_verify_checks_it(example: Path) -> None:
    run_hub("sync", cwd=example)
    shown = run_hub("consent", "show", "Jonas.Schmidt@example.de", "--json", cwd=example)
    assert shown.code == 0, shown.stderr
    data = shown.json()
    assert data["newsletter"]["state"] == "confirmed"
    (doi,) = [e for e in data["trail"] if e["kind"] == "doi_confirmed"]
    assert doi["connector"] == "newsletter" and doi["evidence"]["confirm_ip"]
    assert "confirmed" in run_hub("consent", "show", "jonas.schmidt@example.de",
                                  cwd=example).stdout
    verified = run_hub("consent", "verify", "--json", cwd=example)
    assert verified.code == 0 and verified.json()["ok"] and verified.json()["checked"] > 0


def test_demo_keep_leaves_the_sandbox_running_until_sigterm(tmp_path: Path) -> None:
    import os
    import queue
    import signal
    import subprocess
    import threading

    from tests.e2e.conftest import HUB

    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment.update(PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", COLUMNS="200")
    demo = subprocess.Popen([str(HUB), "demo", "--dir", str(tmp_path / "d"), "--contacts", "300",
                             "--keep"], cwd=tmp_path, env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()
    assert demo.stdout is not None
    stdout = demo.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        exports = ""
        while "Ctrl-C stops it" not in exports:
            exports = lines.get(timeout=120)
            if exports.strip().startswith("export "):
                secrets = dict(pair.split("=", 1) for pair in exports.split()[1:])
        assert set(secrets) == {"HUB_SECRET_DEMO_HUBSPOT_TOKEN", "HUB_SECRET_DEMO_MAILCHIMP_KEY",
                                "HUB_SECRET_DEMO_SHOPIFY_TOKEN"}
        again = run_hub("sync", "--json", "--config", str(tmp_path / "d" / "config.toml"),
                        cwd=tmp_path, env=secrets)
        assert again.code == 0, again.stdout + again.stderr
        assert all(c["created"] == 0 for c in again.json()["connectors"].values())
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=60)
    assert code == 0
