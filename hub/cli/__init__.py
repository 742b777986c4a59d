"""The `hub` command line (typer + rich): one module per command group.

Plugins add commands of their own through the `register_commands` hook (the sandbox
distribution adds `hub demo` and `hub sandbox`).
"""

from __future__ import annotations

import sys

# isort: off
# Commands list in `hub --help` in the order their modules register them: set up, sync,
# watch, report, look up, review duplicates, consent, secrets, the web console.
from hub.cli import setup, sync, ops, report, contacts, duplicates, consent, secrets, web  # noqa: F401
# isort: on
from hub.cli.app import app, state
from hub.cli.screen import err_console
from hub.errors import HubError

__all__ = ["app", "main"]

def _plugin_commands() -> None:
    """Let installed plugins add their commands; a broken plugin costs only its own."""
    from hub.registry import load_plugins

    try:
        plugins = load_plugins()
    except HubError:
        return  # `hub plugins` and `hub check` report it with the fix
    plugins.register_commands(app)


_plugin_commands()


def main() -> None:
    """Entry point of the `hub` executable."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except HubError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if state["debug"]:
            raise
        err_console.print(f"[red]unexpected error:[/red] {type(exc).__name__}: {exc} — run "
                          "with --debug for the traceback", highlight=False)
        sys.exit(1)
