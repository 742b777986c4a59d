"""`hub secrets`: put tokens in the system keyring so config.toml never holds them."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from hub.cli.app import fail, secrets_app
from hub.cli.screen import err_console, out
from hub.errors import HubError


@secrets_app.command("set")
def secrets_set(name: str,
                from_env: Annotated[str | None, typer.Option(
                    "--from-env", help="Read the value from this environment variable.")] = None,
                stdin: Annotated[bool, typer.Option(
                    "--stdin", help="Read the value from standard input.")] = False) -> None:
    """Store secret NAME in the system keyring (asks twice, shows nothing)."""
    from hub.secrets import Secrets, env_var_name

    if from_env:
        value = os.environ.get(from_env, "")
    elif stdin:
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = getpass.getpass(f"value for {name}: ")
        if value != getpass.getpass("again: "):
            err_console.print("the two entries differ; nothing stored")
            raise typer.Exit(2)
    if not value:
        err_console.print("empty value; nothing stored")
        raise typer.Exit(2)
    try:
        Secrets().set(name, value)
    except HubError as exc:
        fail(exc)
    out.print(f"stored {name} in the keyring (an environment variable {env_var_name(name)} "
              "would take precedence)")


@secrets_app.command("delete")
def secrets_delete(name: str) -> None:
    """Remove secret NAME from the system keyring."""
    from hub.secrets import Secrets

    if Secrets().delete(name):
        out.print(f"deleted {name}")
    else:
        err_console.print(f"{name} was not in the keyring")
        raise typer.Exit(1)
