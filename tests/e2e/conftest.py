"""End-to-end helpers: run the real `hub` executable as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB = Path(sys.executable).parent / "hub"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_hub(*args: str, cwd: Path, env: dict[str, str] | None = None,
            stdin: str | None = None) -> Result:
    """`hub ARGS` in `cwd`, with an isolated keyring and no terminal."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    done = subprocess.run([str(HUB), *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, input=stdin, timeout=300)
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of hub/demo/ (config and data), without any store or output."""
    target = tmp_path / "example"
    shutil.copytree(ROOT / "hub" / "demo", target,
                    ignore=shutil.ignore_patterns("hub.db*", "out", "__pycache__"))
    return target
