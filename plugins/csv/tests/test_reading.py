"""Reading the products' exports and people's own files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.errors import ConnectorError
from hub.plugin import ConnectorContext
from hub.secrets import Secrets
from hub_csv import CsvSettings
from hub_csv.connector import CsvConnector

MAILCHIMP = (
    "Email Address,First Name,Last Name,Phone Number,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,"
    "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,"
    "LEID,EUID,NOTES,TAGS\n"
    'anna@example.de,Anna,Müller,030 1234567,4,2025-01-02 09:00:00,203.0.113.1,'
    '2025-01-02 09:05:00,198.51.100.1,,,,,,DE,,2026-02-01 10:00:00,11,e1,,"""VIP"",""News"""\n'
    "ben@example.de,Ben,Koch,,2,2025-03-01 10:00:00,203.0.113.2,,,,,,,,DE,,"
    "2026-02-02 10:00:00,12,e2,,\n"
)
SHOPIFY = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,"
    "Tax Exempt,Tags\n"
    "'7001,Anna,Müller,ANNA@example.de,yes,ACME,Weg 1,,Berlin,BE,DE,10115,,+4930123,no,"
    "120.50,3,,no,\"vip, wholesale\"\n"
    "'7002,Carl,Kurz,carl@example.de,no,,,,,,,,,,no,0.00,0,,no,\n"
)
HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Lifecycle Stage,"
    "Lead Status,Create Date,Last Modified Date\n"
    "501,Anna,Müller,anna@example.de,,ACME,Head of Sales,lead,NEW,2025-01-01 10:00,"
    "2026-03-01 08:30\n"
)
GERMAN = "Kundennr;Vorname;Nachname;E-Mail;Straße;Ort\nK1;Jürgen;Weiß;j@example.de;Hauptstraße 1;Köln\n"
COLUMNS = {"email": "E-Mail", "first_name": "Vorname", "last_name": "Nachname",
           "street": "Straße", "city": "Ort"}


def records(connector: Any, cursor: str | None = None) -> list[Any]:
    return [r for page in connector.read("contacts", cursor) for r in page.records]


def test_mailchimp_export_with_consent_evidence(tmp_path: Path, make: Any) -> None:
    (tmp_path / "m.csv").write_text(MAILCHIMP, encoding="utf-8")
    anna, ben = records(make(path="m.csv"))
    assert anna.id == "11" and anna.fields["email"] == "anna@example.de"
    assert anna.fields["tags"] == ["VIP", "News"] and anna.signals == {"member_rating": 4}
    (doi,) = anna.consent
    assert doi.kind == "doi_confirmed" and doi.at is not None and doi.at.hour == 9
    assert doi.evidence["confirm_ip"] == "198.51.100.1" and doi.evidence["optin_ip"] == "203.0.113.1"
    assert [c.kind for c in ben.consent] == ["single_opt_in"]
    assert anna.updated_at is not None and anna.updated_at.isoformat().startswith("2026-02-01T10")


def test_shopify_export_gives_single_opt_in_at_most(tmp_path: Path, make: Any) -> None:
    (tmp_path / "s.csv").write_text(SHOPIFY, encoding="utf-8")
    anna, carl = records(make(path="s.csv"))
    assert anna.id == "7001" and anna.fields["company"] == "ACME"
    assert anna.fields["phone"] == "+4930123" and anna.fields["tags"] == ["vip", "wholesale"]
    assert [c.kind for c in anna.consent] == ["single_opt_in"]
    assert anna.signals == {"order_total": 120.5, "order_count": 3}
    assert carl.consent == ()


def test_hubspot_export(tmp_path: Path, make: Any) -> None:
    (tmp_path / "h.csv").write_text(HUBSPOT, encoding="utf-8")
    (anna,) = records(make(path="h.csv"))
    assert anna.id == "501" and anna.fields["job_title"] == "Head of Sales"
    assert anna.signals == {"lifecyclestage": "lead", "hs_lead_status": "NEW"}


def test_german_excel_file_cp1252_semicolon(tmp_path: Path, make: Any) -> None:
    (tmp_path / "g.csv").write_bytes(GERMAN.encode("cp1252"))
    (j,) = records(make(path="g.csv", format="generic", columns=COLUMNS, id_column="Kundennr"))
    assert j.fields == {"email": "j@example.de", "first_name": "Jürgen", "last_name": "Weiß",
                        "street": "Hauptstraße 1", "city": "Köln"}


@pytest.mark.parametrize("encoding,delimiter", [("utf-8-sig", ","), ("utf-8", "\t"),
                                                ("cp1252", "|")])
def test_encoding_and_delimiter_are_detected(tmp_path: Path, make: Any, encoding: str,
                                             delimiter: str) -> None:
    (tmp_path / "g.csv").write_bytes(GERMAN.replace(";", delimiter).encode(encoding))
    (j,) = records(make(path="g.csv", columns=COLUMNS, id_column="Kundennr"))
    assert j.fields["last_name"] == "Weiß"


def test_malformed_rows_are_rejections_with_file_and_line(tmp_path: Path, make: Any) -> None:
    (tmp_path / "g.csv").write_bytes(
        (GERMAN + "K2;Too;Many;x@example.de;Weg;Ort;EXTRA\nK3;Ok;Ay;ok@example.de;Weg 3;Ulm\n"
         ";NoId;;;;\n").encode("cp1252"))
    pages = list(make(path="g.csv", columns=COLUMNS, id_column="Kundennr").read("contacts", None))
    rejected = [r for p in pages for r in p.rejected]
    assert [r.origin for r in rejected] == ["g.csv:3", "g.csv:5"]
    assert "7 fields but the header has 6" in rejected[0].reason
    assert [r.id for p in pages for r in p.records] == ["K1", "K3"]


def test_an_unclosed_quote_is_refused_where_it_opens_and_loses_nobody_after_it(
        tmp_path: Path, make: Any) -> None:
    (tmp_path / "g.csv").write_text(
        GERMAN + 'K2;"Eva;Roth;eva@example.de;Weg 2;Bonn\n'
        "K3;Ida;Ost;ida@example.de;Weg 3;Ulm\nK4;Max;Nord;max@example.de;Weg 4;Kiel\n",
        encoding="utf-8")
    pages = list(make(path="g.csv", columns=COLUMNS, id_column="Kundennr").read("contacts", None))
    rejected = [r for p in pages for r in p.rejected]
    assert [r.origin for r in rejected] == ["g.csv:3"]
    assert "a quote opened on line 3" in rejected[0].reason
    found = [r for p in pages for r in p.records]
    assert [(r.id, r.origin) for r in found] == [("K1", "g.csv:2"), ("K3", "g.csv:4"),
                                                 ("K4", "g.csv:5")]


def test_a_quoted_field_over_two_lines_is_one_row(tmp_path: Path, make: Any) -> None:
    (tmp_path / "g.csv").write_text(
        GERMAN + 'K2;Eva;Roth;eva@example.de;"Weg 2\nHinterhaus";Bonn\n', encoding="utf-8")
    pages = list(make(path="g.csv", columns=COLUMNS, id_column="Kundennr").read("contacts", None))
    assert [r for p in pages for r in p.rejected] == []
    assert [r.fields["street"] for p in pages for r in p.records][-1] == "Weg 2\nHinterhaus"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["ok", "quote", "blank"]), min_size=1, max_size=12))
def test_every_line_is_a_record_or_a_refusal(tmp_path_factory: Any, kinds: list[str]) -> None:
    folder = tmp_path_factory.mktemp("quotes")
    lines = [GERMAN.splitlines()[0]]
    for i, kind in enumerate(kinds):
        name = '"Eva' if kind == "quote" else f"F{i}"
        lines.append("" if kind == "blank" else f"K{i};{name};L;p{i}@example.de;Weg;Ort")
    (folder / "g.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    connector = CsvConnector(CsvSettings(plugin="csv", path="g.csv", columns=COLUMNS,
                                         id_column="Kundennr"),
                             ConnectorContext(name="g", secrets=Secrets(), base_dir=folder))
    pages = list(connector.read("contacts", None))
    found = [str(r.origin) for p in pages for r in [*p.records, *p.rejected]]
    seen = sorted(int(origin.rsplit(":", 1)[1]) for origin in found if ":" in origin)
    assert seen == [n + 2 for n, kind in enumerate(kinds) if kind != "blank"]
    assert ("g.csv" in found) == all(kind == "blank" for kind in kinds)  # no rows: said so


def test_an_emptied_or_shrunken_file_is_refused_as_a_whole(tmp_path: Path, make: Any) -> None:
    path = tmp_path / "g.csv"
    rows = "".join(f"K{i};F{i};L{i};p{i}@example.de;Weg;Ort\n" for i in range(10))
    path.write_text(GERMAN.splitlines()[0] + "\n" + rows, encoding="utf-8")
    connector = make(path="g.csv", columns=COLUMNS, id_column="Kundennr")
    cursor = list(connector.read("contacts", None))[-1].cursor
    path.write_text(GERMAN.splitlines()[0] + "\n" + rows[: rows.index("K4")], encoding="utf-8")
    pages = list(connector.read("contacts", cursor))
    (shrunk,) = [r for p in pages for r in p.rejected]
    assert shrunk.origin == "g.csv" and "4 rows, 10 at the last read" in shrunk.reason
    path.write_text(GERMAN.splitlines()[0] + "\n", encoding="utf-8")
    (empty,) = [r for p in connector.read("contacts", pages[-1].cursor) for r in p.rejected]
    assert "no rows (it had 4 rows at the last read)" in empty.reason
    path.write_bytes(b"")
    (nothing,) = [r for p in connector.read("contacts", None) for r in p.rejected]
    assert nothing.reason.startswith("the file has no rows")
    quiet = make(path="g.csv", columns=COLUMNS, id_column="Kundennr", shrink_warning=0)
    path.write_text(GERMAN.splitlines()[0] + "\n" + rows[: rows.index("K4")], encoding="utf-8")
    assert [r for p in quiet.read("contacts", cursor) for r in p.rejected] == []


def test_unchanged_file_is_skipped_and_changed_file_reread(tmp_path: Path, make: Any) -> None:
    path = tmp_path / "m.csv"
    path.write_text(MAILCHIMP, encoding="utf-8")
    connector = make(path="m.csv")
    pages = list(connector.read("contacts", None))
    cursor = pages[-1].cursor
    assert records(connector, cursor) == []
    path.write_text(MAILCHIMP.replace("Ben,Koch", "Ben,Koch-Lang"), encoding="utf-8")
    assert [r.fields["last_name"] for r in records(connector, cursor)] == ["Müller", "Koch-Lang"]


def test_touched_but_identical_file_is_not_reread(tmp_path: Path, make: Any) -> None:
    path = tmp_path / "m.csv"
    path.write_text(MAILCHIMP, encoding="utf-8")
    connector = make(path="m.csv")
    cursor = list(connector.read("contacts", None))[-1].cursor
    path.write_text(MAILCHIMP, encoding="utf-8")  # new mtime, same content
    pages = list(connector.read("contacts", cursor))
    assert [r for p in pages for r in p.records] == []
    assert json.loads(pages[-1].cursor)["files"][str(path)]["done"] is True


def test_resume_after_a_committed_page(tmp_path: Path, make: Any) -> None:
    rows = "".join(f"K{i};F{i};L{i};p{i}@example.de;Weg;Ort\n" for i in range(12))
    (tmp_path / "g.csv").write_text(GERMAN.splitlines()[0] + "\n" + rows, encoding="utf-8")
    connector = make(path="g.csv", columns=COLUMNS, id_column="Kundennr")
    connector.page_size = 5
    pages = list(connector.read("contacts", None))
    assert [len(p.records) for p in pages] == [5, 5, 2]
    resumed = records(connector, pages[0].cursor)
    assert [r.id for r in resumed] == [f"K{i}" for i in range(5, 12)]


def test_glob_reads_every_matching_file(tmp_path: Path, make: Any) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "a.csv").write_text(MAILCHIMP, encoding="utf-8")
    (tmp_path / "exports" / "b.csv").write_text(HUBSPOT, encoding="utf-8")
    assert len(records(make(path="exports/*.csv"))) == 3


def test_check_explains_what_is_wrong(tmp_path: Path, make: Any) -> None:
    with pytest.raises(ConnectorError, match="no file matches"):
        make(path="missing/*.csv").check()
    (tmp_path / "odd.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match='format = "generic"'):
        make(path="odd.csv").check()


def test_settings_errors_are_specific() -> None:
    with pytest.raises(ValidationError, match="did you mean 'first_name'"):
        CsvSettings.model_validate({"plugin": "csv", "path": "x", "columns": {"firstname": "V"}})
    with pytest.raises(ValidationError, match="needs columns"):
        CsvSettings.model_validate({"plugin": "csv", "path": "x", "format": "generic"})
    with pytest.raises(ValidationError, match="unknown encoding"):
        CsvSettings.model_validate({"plugin": "csv", "path": "x", "encoding": "klingon"})


_cells = st.text(alphabet="0123456789-: .abcT", max_size=20)


@settings(max_examples=150, deadline=None)
@given(optin=_cells, confirm_ip=_cells, status=st.sampled_from(["", "yes", "no", "YES"]))
def test_nothing_without_a_confirm_time_is_ever_a_confirmed_opt_in(
        tmp_path_factory: pytest.TempPathFactory, optin: str, confirm_ip: str, status: str) -> None:
    from hub_csv.formats import MAILCHIMP as MC
    from hub_csv.formats import SHOPIFY as SH

    header = ["OPTIN_TIME", "CONFIRM_IP", "CONFIRM_TIME", "Accepts Email Marketing"]
    index = {h: i for i, h in enumerate(header)}
    row = [optin, confirm_ip, "", status]
    assert MC.consent and SH.consent
    kinds = [c.kind for c in MC.consent(row, index)] + [c.kind for c in SH.consent(row, index)]
    assert "doi_confirmed" not in kinds


def test_rows_hub_holds_as_they_are_are_listed_not_built(tmp_path: Path, make: Any) -> None:
    (tmp_path / "s.csv").write_text(SHOPIFY, encoding="utf-8")
    connector = make(path="s.csv")
    first = records(connector)
    assert all(r.digest for r in first) and len({r.digest for r in first}) == 2
    asked: list[dict[str, str]] = []

    def holds_7001(digests: Any) -> set[str]:
        asked.append(dict(digests))
        return {"7001"} if digests.get("7001") == first[0].digest else set()

    connector.context.unchanged = holds_7001
    (page,) = connector.read("contacts", None)
    assert asked == [{r.id: r.digest for r in first}]  # one question for the page
    assert list(page.unchanged) == ["7001"] and [r.id for r in page.records] == ["7002"]
    assert page.records[0].digest == first[1].digest  # the same row reads to the same digest


def test_a_row_digest_follows_the_row_and_the_mapping(tmp_path: Path, make: Any) -> None:
    (tmp_path / "g.csv").write_text(GERMAN, encoding="utf-8")
    mapped = {"path": "g.csv", "format": "generic", "id_column": "Kundennr"}
    (before,) = records(make(**mapped, columns=COLUMNS))
    (same,) = records(make(**mapped, columns=COLUMNS))
    (remapped,) = records(make(**mapped, columns={**COLUMNS, "city": "Straße"}))
    (tmp_path / "g.csv").write_text(GERMAN.replace("Köln", "Bonn"), encoding="utf-8")
    (edited,) = records(make(**mapped, columns=COLUMNS))
    assert before.digest == same.digest
    assert len({before.digest, remapped.digest, edited.digest}) == 3


def test_an_id_twice_in_a_page_is_built_both_times(tmp_path: Path, make: Any) -> None:
    twice = SHOPIFY + "'7001,Anna,Neu,anna@example.de,yes,,,,,,,,,,no,0.00,0,,no,\n"
    (tmp_path / "s.csv").write_text(twice, encoding="utf-8")
    connector = make(path="s.csv")
    asked: list[set[str]] = []

    def holds_everything(digests: Any) -> set[str]:
        asked.append(set(digests))
        return set(digests)

    connector.context.unchanged = holds_everything
    (page,) = connector.read("contacts", None)
    assert asked == [{"7002"}]  # the engine keeps the later 7001: both are delivered
    assert [r.id for r in page.records] == ["7001", "7001"] and list(page.unchanged) == ["7002"]


def test_refused_rows_are_refused_whatever_the_lookup_says(tmp_path: Path, make: Any) -> None:
    broken = SHOPIFY + "'7003,Too,Short\n"
    (tmp_path / "s.csv").write_text(broken, encoding="utf-8")
    connector = make(path="s.csv")
    connector.context.unchanged = lambda digests: set(digests)
    (page,) = connector.read("contacts", None)
    assert page.records == [] and sorted(page.unchanged) == ["7001", "7002"]
    (refused,) = page.rejected
    assert refused.origin == "s.csv:4" and "fields but the header has" in refused.reason
