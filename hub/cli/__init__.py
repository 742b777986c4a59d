"""The `hub` command line (typer + rich): one module per command group.

Plugins add commands of their own through the `register_commands` hook (the sandbox
distribution adds `hub demo` and `hub sandbox`).
"""

from __future__ import annotations

import sys
import traceback

# isort: off
# Commands list in `hub --help` in the order their modules register them: set up, sync,
# watch, report, look up, review duplicates, consent, secrets, the web console.
from hub.cli import setup, sync, ops, report, contacts, duplicates, consent, secrets, web  # noqa: F401
# isort: on
from hub.cli.app import app, state
from hub.cli.screen import err_console, say
from hub.errors import EXIT_CRASH, EXIT_INTERRUPTED, HubError

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
        sys.exit(EXIT_INTERRUPTED)
    except HubError as exc:
        say(err_console, "error:", str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:
        if state["debug"]:
            raise
        say(err_console, "unexpected error:", crash_line(exc))
        sys.exit(EXIT_CRASH)


def crash_line(exc: BaseException) -> str:
    """What a crash tells on stderr: the exception's type and where hub raised it.

    Not its message: a database error quotes the row it choked on (PostgreSQL's "Key
    (email)=(…) already exists"), a plugin's KeyError the record, so a person's data would
    reach a terminal log or a ticket. The traceback is one `--debug` away.
    """
    where = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):  # the innermost of hub's wins
        module = str(frame.f_globals.get("__name__", ""))
        if module == "hub" or module.startswith(("hub.", "hub_")):
            where = f" in {module}:{line}"
    return (f"{type(exc).__name__}{where} — hub stopped (exit {EXIT_CRASH}); run it again "
            "with --debug for the traceback, which may show personal data")
