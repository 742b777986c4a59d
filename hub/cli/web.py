"""`hub web`: the console in a browser, and the password hashes its users sign in with."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.app import ConfigOption, app, fail, load_runtime
from hub.cli.screen import err_console, out
from hub.config import DEFAULT_PATH
from hub.errors import HubError

web_app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                      help="The web console: overview, runs, funnel, contacts, consent, repair.")
app.add_typer(web_app, name="web")


@web_app.callback()
def web(ctx: typer.Context, config: ConfigOption = DEFAULT_PATH,
        host: Annotated[str | None, typer.Option(
            help="Listen here (default: \\[web] host, 127.0.0.1). Anything else belongs behind "
                 "a TLS reverse proxy.")] = None,
        port: Annotated[int | None, typer.Option(
            help="Port (default: \\[web] port, 8080; 0: any free one).")] = None) -> None:
    """Serve the console until Ctrl-C; users and roles come from \\[web] in the config."""
    if ctx.invoked_subcommand is not None:
        return
    from hub.web.serving import serve_forever

    runtime = load_runtime(config)
    section = runtime.config.config.web
    host = host or section.host
    port = section.port if port is None else port

    def ready(url: str) -> None:
        err_console.print(f"hub web: the console is on {url} (Ctrl-C stops it)", highlight=False)

    try:
        serve_forever(runtime, host, port, ready)
    except HubError as exc:
        fail(exc)
    except OSError as exc:
        err_console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc.strerror} — "
                          "pick another --port", highlight=False)
        raise typer.Exit(2) from None


@web_app.command("hash-password")
def hash_password() -> None:
    """Ask for a password (twice, not echoed) and print its argon2 hash for \\[web.users.NAME]."""
    from hub.web.auth import hash_password as make_hash

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        err_console.print("[red]error:[/red] use at least 12 characters")
        raise typer.Exit(2)
    out.print(make_hash(password), highlight=False, soft_wrap=True)
