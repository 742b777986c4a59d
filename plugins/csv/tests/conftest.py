"""Fixtures for the CSV connector's tests: build connectors over files in a temp folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.connector import ConnectorContext
from hub.secrets import Secrets
from hub_csv import CsvConnector, CsvSettings


class _NoSecrets:
    def get(self, name: str) -> str | None:
        return None

    def set(self, name: str, value: str) -> None:
        raise AssertionError("the CSV connector has no secrets")

    def delete(self, name: str) -> bool:
        return False


@pytest.fixture
def make(tmp_path: Path) -> Any:
    """make(path="x.csv", **settings) → a CsvConnector rooted at tmp_path."""
    def build(**settings: Any) -> CsvConnector:
        parsed = CsvSettings.model_validate({"plugin": "csv", **settings})
        context = ConnectorContext(name="files", secrets=Secrets(_NoSecrets(), environ={}),
                                   base_dir=tmp_path)
        return CsvConnector(parsed, context)
    return build
