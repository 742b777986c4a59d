"""Meta-tests: a hook nobody documented or tested fails CI, not a plugin author months later.

Every hookspec in `hub.hookspecs` must have a ``## name(args)`` section in docs/plugins.md
with its exact parameters, and a behavioural test in tests/test_hooks.py whose name starts
with ``test_hook_<name>`` (found with ast, so a broken test module still gets reported here).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"
HOOK_TESTS = ROOT / "tests" / "test_hooks.py"
MARKER = f"{hookspecs.hookspec.project_name}_spec"  # pluggy marks hookspecs with "hub_spec"

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if inspect.isfunction(fn) and hasattr(fn, MARKER))


def _headings() -> dict[str, list[str]]:
    """Hook name → the parameter names its docs heading shows."""
    found = {}
    for match in re.finditer(r"^## (\w+)\(([^)]*)\)\s*$", DOCS.read_text(encoding="utf-8"),
                             flags=re.MULTILINE):
        found[match.group(1)] = [p.strip() for p in match.group(2).split(",") if p.strip()]
    return found


def _test_names() -> list[str]:
    tree = ast.parse(HOOK_TESTS.read_text(encoding="utf-8"))
    return [node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_the_hookspecs_are_found() -> None:
    assert set(HOOKS) >= {"register_connectors", "register_signals", "veto_push",
                          "transform_push", "run_finished", "send_alert", "register_commands"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docs_section_with_its_signature(hook: str) -> None:
    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    headings = _headings()
    assert hook in headings, f"docs/plugins.md has no '## {hook}({', '.join(params)})' section"
    assert headings[hook] == params


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_behavioural_test(hook: str) -> None:
    assert any(name.startswith(f"test_hook_{hook}") for name in _test_names()), (
        f"tests/test_hooks.py has no test_hook_{hook}_... test")


def test_the_docs_describe_no_hook_that_does_not_exist() -> None:
    assert sorted(_headings()) == HOOKS
