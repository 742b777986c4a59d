"""The package layout as a checked rule: what may import what.

The simulators are a separate distribution so that nothing a user runs in production depends
on them; the connectors are plugins so that core code never special-cases one; screens sit at
the edge so the engine can run without a terminal. Each rule walks the real import graph
(every ``import`` statement, also those inside functions) and names the offending edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "hub"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in `path`, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from hub import cli` imports hub.cli
                yield node.lineno, f"{base}.{alias.name}"


def edges() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(HUB.rglob("*.py")):
        for line, target in imports_of(path):
            found.append((module_name(path), line, target))
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def offending(rule: tuple[str, ...], allowed_from: tuple[str, ...] = ()) -> list[str]:
    return [f"{source}:{line} imports {target}" for source, line, target in edges()
            if any(within(target, p) for p in rule)
            and not any(within(source, p) for p in allowed_from)]


def test_no_product_module_imports_the_simulators() -> None:
    assert offending(("hub_sandbox", "hub.sandbox")) == []


def test_core_never_imports_a_plugin() -> None:
    assert offending(("hub_csv", "hub_hubspot", "hub_shopify", "hub_mailchimp")) == []


def test_only_the_cli_imports_the_cli() -> None:
    assert offending(("hub.cli",), allowed_from=("hub.cli",)) == []


@pytest.mark.parametrize("package", ["hub.pipeline", "hub.consent", "hub.lifecycle"])
def test_domain_packages_do_not_import_operations(package: str) -> None:
    """The stages and domains run the same under `hub sync`, the daemon and tests."""
    assert [e for e in offending(("hub.ops",)) if within(e.split(":")[0], package)] == []


def test_the_rules_see_real_edges() -> None:
    """A walker that finds nothing would pass every rule above."""
    targets = {target for _source, _line, target in edges()}
    assert {"hub.pipeline.engine", "hub.store.schema", "hub.cli.app"} <= targets


def tracked_texts() -> Iterator[Path]:
    skip = {".git", ".venv", "node_modules", "build", "dist"}
    for path in ROOT.rglob("*"):
        if path.suffix in (".py", ".md", ".toml") and path.is_file() \
                and not skip.intersection(path.relative_to(ROOT).parts) \
                and not any(part.endswith(".egg-info") for part in path.parts):
            yield path


def test_nothing_points_outside_the_repository() -> None:
    """A user's clone holds only the repository: the docs must carry what they need."""
    outside = ("DESIGN" + ".md", "CONSENT" + ".md", "STYLE" + ".md", "../" + "shared")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in tracked_texts()
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(name in line for name in outside)]
    assert found == []


def test_every_local_link_in_the_docs_resolves() -> None:
    import re

    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    broken = []
    for path in tracked_texts():
        if path.suffix != ".md":
            continue
        for target in link.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == []
    assert any(p.name == "README.md" for p in tracked_texts())  # the walk saw the docs
