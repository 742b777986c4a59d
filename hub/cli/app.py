"""The Typer application every command module adds to, and what all commands share.

Exit codes (`hub.errors`, the table in README.md): 0 ok, 1 something needs a look (rejected
records), 2 usage or configuration error (a refused credential included), 3 a system could not
be reached, 70 hub crashed, 130 interrupted. Every command's ``--json`` output is stable for
scripts. Messages quote users' values (config keys in brackets, file names, reasons): they are
printed as plain text, never as rich markup.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from hub import __version__
from hub.cli.screen import err_console, out, say
from hub.errors import EXIT_CONFIG, HubError
from hub.logs import setup_logging

app = typer.Typer(name="hub", no_args_is_help=True, invoke_without_command=True,
                  add_completion=False,
                  help="Keep one consistent contact record across CRM, shop, newsletter and files.")
contacts_app = typer.Typer(no_args_is_help=True, help="Look up golden contacts.")
secrets_app = typer.Typer(no_args_is_help=True, help="Store or remove secrets in the keyring.")
app.add_typer(contacts_app, name="contacts")
app.add_typer(secrets_app, name="secrets")
consent_app = typer.Typer(no_args_is_help=True, help="The consent trail and its proof.")
app.add_typer(consent_app, name="consent")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path of config.toml.",
                                            envvar="HUB_CONFIG")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
#: Set by the --debug option; `main` re-raises unexpected errors with their traceback then.
state = {"debug": False}


@app.callback()
def _main(context: typer.Context,
          debug: Annotated[bool, typer.Option("--debug", help="Tracebacks and debug logs.")]
          = False,
          version: Annotated[bool, typer.Option("--version", help="Print the version.")]
          = False) -> None:
    state["debug"] = debug
    setup_logging(debug=debug, console=err_console)
    if version:
        out.print(f"hub {__version__}", markup=False, highlight=False)
        raise typer.Exit(0)
    if context.invoked_subcommand is None:  # `hub --debug` alone: the help, as `hub` alone
        out.print(context.get_help(), markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG)


def fail(error: HubError) -> NoReturn:
    """Print a HubError (it says what, where and what to do) and exit with its code."""
    say(err_console, "error:", str(error))
    raise typer.Exit(error.exit_code)


def load_runtime(config: Path) -> Any:
    """The runtime for `config`, or a clean exit 2 naming what is wrong with it."""
    from hub.runtime import Runtime

    try:
        return Runtime.load(config)
    except HubError as exc:
        fail(exc)


def print_json(data: Any) -> None:
    """One JSON document on stdout, the form scripts and monitoring read."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
