"""The plugin API is `hub.plugin.__all__`, pinned: changing it is a deliberate, reviewed act.

The built-in plugins are held to it too, so they stay the templates a new plugin can copy
without reaching into hub's internals (which may move in any release).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import hub.plugin

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_MODULES = sorted(p for p in ROOT.glob("plugins/*/hub_*/**/*.py")
                        if ".egg-info" not in str(p))

#: Sorted, so a diff shows exactly which name came or went.
EXPORTS = [
    "AuthenticationError",
    "CUSTOM_PREFIX",
    "Capability",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSettings",
    "ConsentObservation",
    "Finding",
    "GOLDEN_FIELDS",
    "HUBSPOT_STAGES",
    "HubError",
    "OutboundRecord",
    "Page",
    "RateLimit",
    "Rejection",
    "RetryableError",
    "SCALAR_FIELDS",
    "SecretRef",
    "SourceRecord",
    "Stage",
    "SystemKind",
    "UnreachableError",
    "WriteResult",
    "WriteStatus",
    "env_var_name",
    "hookimpl",
    "is_golden_field",
    "retry_after",
]


def test_the_plugin_api_is_exactly_the_pinned_list() -> None:
    assert sorted(hub.plugin.__all__) == EXPORTS == sorted(EXPORTS)
    assert len(set(hub.plugin.__all__)) == len(hub.plugin.__all__)


@pytest.mark.parametrize("name", EXPORTS)
def test_every_name_in_the_plugin_api_is_importable(name: str) -> None:
    module = importlib.import_module("hub.plugin")
    assert getattr(module, name) is not None


def _hub_imports(path: Path) -> list[str]:
    """Every ``hub.*`` module `path` imports, however it spells the import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "hub":
                found += [f"hub.{alias.name}" for alias in node.names]
            elif node.module.startswith("hub."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "hub" or a.name.startswith("hub.")]
    return found


def test_there_are_built_in_plugin_modules_to_check() -> None:
    assert {p.relative_to(ROOT).parts[1] for p in PLUGIN_MODULES} >= {
        "csv", "hubspot", "mailchimp", "shopify"}


@pytest.mark.parametrize("path", PLUGIN_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_built_in_plugins_import_only_the_plugin_api(path: Path) -> None:
    """The sandbox (sandbox/hub_sandbox) is exempt: a dev tool that drives the engine."""
    outside = [m for m in _hub_imports(path) if m != "hub.plugin"]
    assert outside == [], f"{path.relative_to(ROOT)} imports {outside}; use hub.plugin"


def test_the_import_check_sees_every_spelling(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import hub.store\nfrom hub import registry\nfrom hub.errors import X\n"
                      "from hub.plugin import Connector\nimport hubspot_sdk\n"
                      "def f():\n    from hub.pipeline import engine\n")
    assert _hub_imports(module) == ["hub.store", "hub.registry", "hub.errors", "hub.plugin",
                                    "hub.pipeline"]
