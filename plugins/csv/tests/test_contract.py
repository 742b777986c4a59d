"""The CSV connector passes hub's plugin contract kit — as every connector must."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.connector import OutboundRecord
from hub.testing import ConnectorContract, ContractEnvironment
from hub_csv import CsvConnector

HEADER = "Email Address,First Name,Last Name,LAST_CHANGED,LEID\n"


class TestCsvContract(ConnectorContract):
    connector_class = CsvConnector

    @pytest.fixture
    def contract_environment(self, tmp_path: Path) -> Iterator[ContractEnvironment]:
        folder = tmp_path / "exports"
        folder.mkdir()
        lines = [f"p{i}@example.de,P{i},L{i},2026-01-01 10:00:00,{i}\n" for i in range(12)]
        (folder / "a.csv").write_text(HEADER + "".join(lines[:6]), encoding="utf-8")
        (folder / "b.csv").write_text(HEADER + "".join(lines[6:]), encoding="utf-8")

        def mutate() -> str:
            path = folder / "c.csv"
            path.write_text(HEADER + "new@example.de,N,M,2026-02-01 10:00:00,99\n",
                            encoding="utf-8")
            return "99"

        yield ContractEnvironment(
            settings={"plugin": "csv", "path": "exports/*.csv"},
            write_settings={"plugin": "csv", "path": "out/contacts.csv", "mode": "write"},
            base_dir=tmp_path,
            sample_records=[OutboundRecord(key=f"k{i}", contact_id=i,
                                           fields={"email": f"p{i}@example.de"})
                            for i in range(3)],
            mutate=mutate,
            invalid_settings=[({"plugin": "csv", "path": "x", "format": "excel"}, "format")],
        )
