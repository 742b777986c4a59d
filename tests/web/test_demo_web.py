"""`hub demo --web`: the real CLI syncs the sandbox, then serves the console on that data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

HUB = Path(sys.executable).parent / "hub"


@pytest.mark.e2e
def test_demo_web_opens_the_console_on_the_demo_data(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment.update(PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", COLUMNS="200")
    process = subprocess.Popen([str(HUB), "demo", "--web", "--contacts", "150", "--dir",
                                str(tmp_path / "demo")], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=environment)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.strip().startswith("password:"):
                break
        text = "".join(lines)
        url = re.search(r"the web console is on (http://127\.0\.0\.1:\d+)", text)
        password = re.search(r"password:\s+(\S+)", text)
        assert url and password, text + (process.stderr.read() if process.stderr else "")
        with httpx.Client(base_url=url.group(1)) as client:
            form = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            signed = client.post("/login", data={"csrf": token.group(1), "username": "demo",
                                                 "password": password.group(1), "next": "/"})
            assert signed.status_code == 303
            overview = client.get("/")
            assert overview.status_code == 200 and "demo (operator)" in overview.text
            # the demo's data: its runs, its contacts, its accountant's broken rows
            assert "#2" in overview.text and "accounting" in overview.text
            assert client.get("/dead-letters").text.count("buchhaltung.csv") >= 2
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0
    config = (tmp_path / "demo" / "config.toml").read_text(encoding="utf-8")
    assert "[web.users.demo]" in config and password.group(1) not in config
