"""Write mode: an export of golden contacts that stays correct across runs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hub.connector import OutboundRecord


def out(key: str, cid: int, **fields: Any) -> OutboundRecord:
    return OutboundRecord(key=key, contact_id=cid, fields=fields)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_export_is_idempotent_and_neutralises_formulas(tmp_path: Path, make: Any) -> None:
    connector = make(path="out/contacts.csv", mode="write")
    batch = [out("a", 1, email="a@example.de", first_name="=HYPERLINK(\"x\")", phone="+4930123"),
             out("b", 2, email="b@example.de", company="@evil", tags=["vip", "news"])]
    assert [r.status for r in connector.write(batch)] == ["created", "created"]
    connector.close()
    written = rows(tmp_path / "out" / "contacts.csv")
    assert written[0]["first_name"] == "'=HYPERLINK(\"x\")" and written[0]["phone"] == "'+4930123"
    assert written[1]["company"] == "'@evil" and written[1]["tags"] == "vip, news"

    again = make(path="out/contacts.csv", mode="write")
    assert [r.status for r in again.write(batch)] == ["unchanged", "unchanged"]
    assert again.write([out("c", 1, email="a@example.de", first_name="Anna")])[0].status == "updated"
    again.close()
    assert [r["first_name"] for r in rows(tmp_path / "out" / "contacts.csv")] == ["Anna", ""]


def test_delete_removes_the_row_and_no_temp_file_is_left(tmp_path: Path, make: Any) -> None:
    connector = make(path="contacts.csv", mode="write")
    connector.write([out("a", 1, email="a@example.de"), out("b", 2, email="b@example.de")])
    connector.close()
    connector = make(path="contacts.csv", mode="write")
    deleted = OutboundRecord(key="d", contact_id=1, fields={}, operation="delete")
    assert connector.write([deleted])[0].status == "updated"
    connector.close()
    assert [r["email"] for r in rows(tmp_path / "contacts.csv")] == ["b@example.de"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]


def test_read_mode_refuses_writes_with_a_reason(tmp_path: Path, make: Any) -> None:
    (result,) = make(path="in.csv").write([out("a", 1, email="a@example.de")])
    assert result.status == "rejected" and 'mode = "write"' in (result.reason or "")
