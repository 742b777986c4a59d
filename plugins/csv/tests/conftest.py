"""Fixtures for the CSV connector's tests: build connectors over files in a temp folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.connector import ConnectorContext
from hub.secrets import MemoryBackend, Secrets
from hub_csv import CsvConnector, CsvSettings


@pytest.fixture
def make(tmp_path: Path) -> Any:
    """make(path="x.csv", **settings) → a CsvConnector rooted at tmp_path."""
    def build(**settings: Any) -> CsvConnector:
        parsed = CsvSettings.model_validate({"plugin": "csv", **settings})
        context = ConnectorContext(name="files", secrets=Secrets(MemoryBackend(), environ={}),
                                   base_dir=tmp_path)
        return CsvConnector(parsed, context)
    return build
